//! `watch`: inotify (through `notify`) on the directories that can hold a
//! service's watched files, one non-recursive watch per directory so that
//! `node_modules`, `.git`, virtualenvs and backstop's state dir are never
//! walked nor watched; directories created later are added as they appear.
//! Changes that match a service's globs are debounced
//! ([`crate::rules::watch`]) and reported once per burst.

use std::path::{Path, PathBuf};
use std::time::Duration;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::rules::watch::{Debouncer, Due};

/// One service's watch, resolved.
#[derive(Debug)]
pub struct Watched {
    /// The service.
    pub service: String,
    /// Its `dir`: patterns are relative to it.
    pub dir: PathBuf,
    /// What counts.
    pub include: GlobSet,
    /// What never counts (the user's `ignore` and the built-in files).
    pub exclude: GlobSet,
    /// The directories to watch, each with what is under it.
    pub roots: Vec<PathBuf>,
    /// The quiet time.
    pub debounce: Duration,
}

impl Watched {
    /// `service`'s watch, or why its patterns cannot be compiled (the
    /// config reader checked them: a bug).
    pub fn new(
        service: &str,
        dir: &Path,
        watch: &backstop_config::Watch,
    ) -> Result<Self, globset::Error> {
        // `*` stays within a directory, as in a shell; `**` crosses them.
        let glob = |p: &str| GlobBuilder::new(p).literal_separator(true).build();
        let mut include = GlobSetBuilder::new();
        for p in &watch.paths {
            include.add(glob(p)?);
        }
        let mut exclude = GlobSetBuilder::new();
        for p in watch
            .ignore
            .iter()
            .map(String::as_str)
            .chain(backstop_config::IGNORED_FILES.iter().copied())
        {
            exclude.add(glob(p)?);
        }
        let mut roots: Vec<PathBuf> = watch
            .paths
            .iter()
            .map(|p| dir.join(literal_prefix(p)))
            .collect();
        roots.sort();
        roots.dedup();
        Ok(Self {
            service: service.to_string(),
            dir: dir.to_path_buf(),
            include: include.build()?,
            exclude: exclude.build()?,
            roots,
            debounce: watch.debounce,
        })
    }

    /// Whether a change of `path` (absolute) restarts this service; the
    /// path relative to its `dir` when it does.
    pub fn wants(&self, path: &Path) -> Option<PathBuf> {
        let rel = path.strip_prefix(&self.dir).ok()?;
        if rel.components().any(|c| skipped(c.as_os_str())) {
            return None;
        }
        (self.include.is_match(rel) && !self.exclude.is_match(rel)).then(|| rel.to_path_buf())
    }
}

/// The directory part of a glob before its first wildcard:
/// `src/**/*.py` → `src`, `*.py` → ``.
fn literal_prefix(glob: &str) -> PathBuf {
    let mut out = PathBuf::new();
    let parts: Vec<&str> = glob.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if last || part.contains(['*', '?', '[', '{']) {
            break;
        }
        out.push(part);
    }
    out
}

fn skipped(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|n| backstop_config::SKIPPED_DIRS.contains(&n))
}

/// Every directory at and under `root` that is not skipped.
fn directories(root: &Path, out: &mut Vec<PathBuf>) {
    if !root.is_dir() {
        return;
    }
    out.push(root.to_path_buf());
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && !skipped(&e.file_name()) {
            directories(&e.path(), out);
        }
    }
}

enum Msg {
    Changed(PathBuf),
    Created(PathBuf),
    Trouble(String),
}

/// What the watcher reports.
#[derive(Debug)]
pub enum News {
    /// A debounced burst of changes of one service's files.
    Due(Due),
    /// Changes may be missed: directories that cannot be watched (the
    /// inotify watch limit, a permission), or events the kernel dropped.
    Trouble(String),
}

/// Watches each of `dirs`; what could not be watched, in one sentence (a
/// directory that went away meanwhile is not trouble).
fn watch_all(watcher: &mut impl Watcher, dirs: &[PathBuf]) -> Option<String> {
    let failed: Vec<(&PathBuf, notify::Error)> = dirs
        .iter()
        .filter_map(|d| {
            watcher
                .watch(d, RecursiveMode::NonRecursive)
                .err()
                .map(|e| (d, e))
        })
        .filter(|(d, _)| d.is_dir())
        .collect();
    let (first, e) = failed.first()?;
    Some(format!(
        "{} director{} cannot be watched, so changes there are missed (first: {}: {e}; the inotify limit is /proc/sys/fs/inotify/max_user_watches)",
        failed.len(),
        if failed.len() == 1 { "y" } else { "ies" },
        first.display()
    ))
}

/// Watches `services` until the returned task is aborted (the watcher is
/// dropped with it); each debounced burst, and any trouble, goes to
/// `report`. `None` when nothing is watched; `Err` when inotify cannot be
/// set up at all.
pub fn spawn(
    services: Vec<Watched>,
    report: impl Fn(News) + Send + 'static,
) -> Result<Option<tokio::task::JoinHandle<()>>, notify::Error> {
    if services.is_empty() {
        return Ok(None);
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let event = match res {
            Ok(event) => event,
            // The kernel's queue overflowed, or a watch broke: say so.
            Err(e) => {
                let _ = tx.send(Msg::Trouble(e.to_string()));
                return;
            }
        };
        let created_dir = matches!(
            event.kind,
            EventKind::Create(notify::event::CreateKind::Folder | notify::event::CreateKind::Any)
        );
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }
        for path in event.paths {
            let msg = if created_dir && path.is_dir() {
                Msg::Created(path)
            } else {
                Msg::Changed(path)
            };
            let _ = tx.send(msg);
        }
    })?;
    let mut dirs = Vec::new();
    for s in &services {
        for root in &s.roots {
            directories(root, &mut dirs);
        }
    }
    dirs.sort();
    dirs.dedup();
    if let Some(trouble) = watch_all(&mut watcher, &dirs) {
        report(News::Trouble(trouble));
    }
    Ok(Some(tokio::spawn(async move {
        let mut debouncer = Debouncer::default();
        loop {
            let wait = debouncer
                .next_due()
                .map(|at| at.saturating_duration_since(std::time::Instant::now()));
            let msg = match wait {
                Some(d) => {
                    let Ok(m) = tokio::time::timeout(d, rx.recv()).await else {
                        for due in debouncer.take_due(std::time::Instant::now()) {
                            report(News::Due(due));
                        }
                        continue;
                    };
                    m
                }
                None => rx.recv().await,
            };
            let Some(msg) = msg else { return };
            let changed: Vec<PathBuf> = match msg {
                Msg::Created(dir) => {
                    let mut new = Vec::new();
                    if services
                        .iter()
                        .any(|s| s.roots.iter().any(|r| dir.starts_with(r)))
                    {
                        directories(&dir, &mut new);
                    }
                    if let Some(trouble) = watch_all(&mut watcher, &new) {
                        report(News::Trouble(trouble));
                    }
                    // Files written into it before its watch began count too
                    // (a checkout makes a directory and its files at once).
                    new.iter()
                        .filter_map(|d| std::fs::read_dir(d).ok())
                        .flat_map(|entries| entries.flatten().map(|e| e.path()))
                        .filter(|p| p.is_file())
                        .collect()
                }
                Msg::Changed(p) => vec![p],
                Msg::Trouble(why) => {
                    report(News::Trouble(format!(
                        "file changes may have been missed: {why}"
                    )));
                    continue;
                }
            };
            let now = std::time::Instant::now();
            for path in &changed {
                for s in &services {
                    if let Some(rel) = s.wants(path) {
                        debouncer.note(&s.service, rel, s.debounce, now);
                    }
                }
            }
        }
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_literal_prefix_is_where_watching_starts() {
        assert_eq!(literal_prefix("src/**/*.py"), PathBuf::from("src"));
        assert_eq!(literal_prefix("*.py"), PathBuf::new());
        assert_eq!(literal_prefix("config/app.yaml"), PathBuf::from("config"));
        assert_eq!(literal_prefix("a/b/{x,y}/*.js"), PathBuf::from("a/b"));
    }

    /// A watcher that refuses every directory, as the kernel does past
    /// `max_user_watches` (which a test cannot lower for the whole host).
    struct Full;

    impl Watcher for Full {
        fn new<F: notify::EventHandler>(_: F, _: notify::Config) -> notify::Result<Self> {
            Ok(Self)
        }
        fn watch(&mut self, _: &Path, _: RecursiveMode) -> notify::Result<()> {
            Err(notify::Error::new(notify::ErrorKind::MaxFilesWatch))
        }
        fn unwatch(&mut self, _: &Path) -> notify::Result<()> {
            Ok(())
        }
        fn kind() -> notify::WatcherKind {
            notify::WatcherKind::NullWatcher
        }
    }

    #[test]
    fn directories_that_cannot_be_watched_are_reported_not_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        let gone = dir.path().join("gone");
        let said = watch_all(&mut Full, &[a.clone(), b, gone]).expect("trouble reported");
        assert!(
            said.starts_with("2 directories cannot be watched"),
            "{said}"
        );
        assert!(said.contains(&a.display().to_string()), "{said}");
        assert!(said.contains("max_user_watches"), "{said}");
    }

    #[test]
    fn only_matching_files_outside_skipped_dirs_count() {
        let w = Watched::new(
            "api",
            Path::new("/srv/app"),
            &backstop_config::Watch {
                paths: vec!["**/*.py".into()],
                ignore: vec!["tests/**".into()],
                debounce: Duration::from_millis(100),
            },
        )
        .unwrap();
        assert_eq!(
            w.wants(Path::new("/srv/app/src/main.py")),
            Some(PathBuf::from("src/main.py"))
        );
        assert_eq!(w.wants(Path::new("/srv/app/src/main.js")), None);
        assert_eq!(w.wants(Path::new("/srv/app/tests/test_x.py")), None);
        assert_eq!(w.wants(Path::new("/srv/app/.venv/lib/x.py")), None);
        assert_eq!(w.wants(Path::new("/srv/app/src/.main.py.swp")), None);
        assert_eq!(w.wants(Path::new("/elsewhere/main.py")), None);
    }
}
