//! `backstop import FILE…`: a `backstop.toml` from what people migrate
//! from: a Procfile, a supervisord config, a PM2 ecosystem file or
//! `pm2 jlist` JSON, a docker-compose file, systemd `.service` units.
//! Each format's module maps what it can to a [`draft::Draft`]; what does
//! not map is a `# not imported:` comment next to the service it concerns.
//! The result is validated with the same reader as `backstop validate`
//! before it is written.

mod compose;
pub(crate) mod draft;
mod ini;
mod pm2;
mod procfile;
mod supervisord;
mod systemd;

use std::path::{Path, PathBuf};

use crate::cli::ImportArgs;
use crate::exit::{CmdResult, Code, Exit};
use draft::Draft;

/// The formats `import` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// `name: command` lines (Heroku, foreman, honcho).
    Procfile,
    /// `[program:NAME]` sections.
    Supervisord,
    /// `ecosystem.config.js` (read with node) or JSON, or `pm2 jlist` output.
    Pm2,
    /// docker-compose.yml / compose.yaml.
    Compose,
    /// A systemd `.service` unit.
    Systemd,
}

/// Guesses the format from the file's name, then its content.
fn detect(path: &Path, text: &str) -> Option<Format> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let yaml = matches!(ext.as_str(), "yml" | "yaml");
    if name.starts_with("procfile") {
        Some(Format::Procfile)
    } else if ext == "service" {
        Some(Format::Systemd)
    } else if name.contains("ecosystem") || matches!(ext.as_str(), "js" | "cjs" | "mjs") {
        Some(Format::Pm2)
    } else if yaml && (name.contains("compose") || text.contains("services:")) {
        Some(Format::Compose)
    } else if text.contains("[program:") {
        Some(Format::Supervisord)
    } else if ext == "json" && (text.contains("\"script\"") || text.contains("pm_exec_path")) {
        Some(Format::Pm2)
    } else if text.contains("[Service]") {
        Some(Format::Systemd)
    } else {
        None
    }
}

/// Reads every file into one draft.
fn read_all(files: &[PathBuf], format: Option<Format>) -> Result<Draft, Exit> {
    let mut draft = Draft::default();
    let mut after: Vec<(String, Vec<String>)> = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Exit::new(Code::Usage, format!("cannot read {}: {e}", path.display())))?;
        let format = format.or_else(|| detect(path, &text)).ok_or_else(|| {
            Exit::new(
                Code::Usage,
                format!(
                    "cannot tell what {} is: name it with --format procfile|supervisord|pm2|compose|systemd",
                    path.display()
                ),
            )
        })?;
        let source_dir = std::path::absolute(path)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        let first = draft.services.len();
        let failed = |e: String| Exit::new(Code::Usage, format!("{}: {e}", path.display()));
        match format {
            Format::Procfile => procfile::import(&text, &mut draft),
            Format::Supervisord => supervisord::import(&text, &source_dir, &mut draft),
            Format::Pm2 => pm2::import(&pm2::load(path, &text).map_err(failed)?, &mut draft),
            Format::Compose => compose::import(&text, &mut draft).map_err(failed)?,
            Format::Systemd => {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let units = systemd::import(&name, &text, &mut draft);
                if let Some(s) = draft.services.get(first) {
                    after.push((s.name.clone(), units));
                }
            }
        }
        // Relative directories and services without one run where the
        // imported file is.
        for s in &mut draft.services[first..] {
            let dir = match s.dir.take() {
                Some(d) if Path::new(&d).is_absolute() => {
                    if format == Format::Compose && !Path::new(&d).is_dir() {
                        s.notes.push(format!(
                            "working_dir {d} is a path in the container: the service runs in {} here",
                            source_dir.display()
                        ));
                        source_dir.clone()
                    } else {
                        PathBuf::from(d)
                    }
                }
                Some(d) => source_dir.join(d),
                None => source_dir.clone(),
            };
            s.dir = Some(dir.display().to_string());
            if let Some(f) = s.env_file.take() {
                let f = if Path::new(&f).is_absolute() {
                    PathBuf::from(f)
                } else {
                    source_dir.join(f)
                };
                s.env_file = Some(f.display().to_string());
            }
        }
        draft.sources.push(format!(
            "{} ({})",
            path.display(),
            match format {
                Format::Procfile => "Procfile",
                Format::Supervisord => "supervisord",
                Format::Pm2 => "PM2",
                Format::Compose => "docker-compose",
                Format::Systemd => "systemd",
            }
        ));
    }
    // systemd's After=/Requires=/Wants= between imported units.
    let names: Vec<String> = draft.services.iter().map(|s| s.name.clone()).collect();
    for (service, units) in after {
        let deps: Vec<String> = units
            .iter()
            .map(|u| draft::service_name(u.trim_end_matches(".service")))
            .filter(|u| names.contains(u) && *u != service)
            .collect();
        if let Some(s) = draft.services.iter_mut().find(|s| s.name == service) {
            for d in deps {
                if !s.depends_on.iter().any(|(x, _)| *x == d) {
                    s.depends_on.push((d, "started"));
                }
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    for s in &draft.services {
        if !seen.insert(s.name.clone()) {
            return Err(Exit::new(
                Code::Usage,
                format!(
                    "two imported services are named `{}`: import the files one at a time, or rename one",
                    s.name
                ),
            ));
        }
    }
    if draft.services.is_empty() {
        return Err(Exit::new(
            Code::Failed,
            format!(
                "nothing to import: no service found in {}{}",
                files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                draft.notes.iter().fold(String::new(), |mut all, n| {
                    all.push_str("\n  ");
                    all.push_str(n);
                    all
                })
            ),
        ));
    }
    Ok(draft)
}

/// `backstop import`.
pub(crate) fn run(args: &ImportArgs) -> CmdResult {
    let draft = read_all(&args.files, args.format)?;
    let text = draft.to_toml();
    if args.out.as_os_str() == "-" {
        print!("{text}");
        return Ok(());
    }
    let out = &args.out;
    if out.exists() && !args.force {
        return Err(Exit::new(
            Code::Usage,
            format!(
                "{} exists: pass --force to replace it, or --out another path (`--out -` prints)",
                out.display()
            ),
        ));
    }
    // Checked by the reader `validate` uses, from where it will live.
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let check = dir.join(format!(".backstop-import-{}.toml", std::process::id()));
    std::fs::write(&check, &text).map_err(|e| {
        Exit::new(
            Code::Failed,
            format!("cannot write {}: {e}", check.display()),
        )
    })?;
    let loaded = backstop_config::load(&check);
    let _ = std::fs::remove_file(&check);
    std::fs::write(out, &text)
        .map_err(|e| Exit::new(Code::Failed, format!("cannot write {}: {e}", out.display())))?;
    let notes = draft.notes.len() + draft.services.iter().map(|s| s.notes.len()).sum::<usize>();
    let names: Vec<&str> = draft.services.iter().map(|s| s.name.as_str()).collect();
    match loaded {
        Ok(_) => {
            println!(
                "wrote {}: {} service{} ({}); {notes} note{} on what did not map (`# not imported:` comments); `backstop -c {} validate` passes",
                out.display(),
                names.len(),
                if names.len() == 1 { "" } else { "s" },
                names.join(", "),
                if notes == 1 { "" } else { "s" },
                out.display()
            );
            Ok(())
        }
        Err(e) => Err(Exit::new(
            Code::Failed,
            format!(
                "wrote {}, but it does not validate yet (edit it, then `backstop validate`):\n{}",
                out.display(),
                e.render(false)
            ),
        )),
    }
}
