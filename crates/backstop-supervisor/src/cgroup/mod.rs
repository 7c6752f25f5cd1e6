//! One cgroup per service, where the host lets backstop write a cgroup
//! hierarchy: the kernel enforces `memory_max` and `pids_max`, counts OOM
//! kills, and knows every process of the service however it forked.
//!
//! Both layouts met in practice work ([`layout`]): pure cgroup v2 (one
//! hierarchy, controllers delegated) and the hybrid one (v1 controllers
//! plus a v2 hierarchy without controllers). backstop makes a parent
//! cgroup named after its state directory (`backstop-<hash>`, so that two
//! daemons never collide) under its own cgroup in each hierarchy it uses,
//! and one child per service in it. A spawned child moves itself into its
//! service's cgroups before it execs (writing `0` to `cgroup.procs` through
//! descriptors opened before the fork), so nothing it starts escapes.
//!
//! Where nothing is writable (an unprivileged container, another user), or
//! `[daemon] cgroups = false`, [`Cgroups::detect`] says why and services
//! are tracked by their process tree as before.

pub mod files;
pub mod layout;

use std::fs;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use backstop_config::Limits;

/// The controllers of the v1 hierarchy backstop uses, if mounted.
const V1_CONTROLLERS: &[&str] = &["memory", "pids", "cpu", "freezer"];

/// Whether, and how, services get cgroups.
#[derive(Clone, Debug)]
pub struct Cgroups {
    /// `backstop-<hash>` in the v2 hierarchy.
    unified: Option<PathBuf>,
    /// Controllers available in the v2 parent (`memory`, `pids`, `cpu`).
    unified_controllers: Vec<String>,
    /// `backstop-<hash>` in each v1 hierarchy backstop uses.
    v1: Vec<(String, PathBuf)>,
    /// Why there are none, when there are none.
    off: Option<String>,
}

impl Cgroups {
    /// No cgroups: process-tree tracking, for `reason`.
    pub fn off(reason: impl Into<String>) -> Self {
        Self {
            unified: None,
            unified_controllers: Vec::new(),
            v1: Vec::new(),
            off: Some(reason.into()),
        }
    }

    /// Finds the hierarchies and makes backstop's parent cgroups (named
    /// after `state_dir`); off when `enabled` is false or nothing is
    /// writable.
    pub fn detect(state_dir: &Path, enabled: bool) -> Self {
        if !enabled {
            return Self::off("`[daemon] cgroups = false`");
        }
        let read = |p: &str| fs::read_to_string(p).unwrap_or_default();
        let layout = layout::parse(
            &read("/proc/self/mountinfo"),
            &read("/proc/self/cgroup"),
            |dir| fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default(),
        );
        let name = parent_name(state_dir);
        let mut why = Vec::new();
        let unified = layout.unified.as_ref().and_then(|own| {
            let dir = own.join(&name);
            match make_dir(&dir) {
                Ok(()) => Some(dir),
                Err(e) => {
                    why.push(format!("{}: {e}", dir.display()));
                    None
                }
            }
        });
        // Controllers must be enabled for the children of our parent.
        let mut unified_controllers = Vec::new();
        if let Some(dir) = &unified {
            for c in ["memory", "pids", "cpu"] {
                if layout.unified_controllers.iter().any(|have| have == c) {
                    let _ = enable_controller(dir.parent().unwrap_or(dir), c);
                    if enable_controller(dir, c).is_ok() {
                        unified_controllers.push(c.to_string());
                    }
                }
            }
        }
        let mut v1 = Vec::new();
        for c in V1_CONTROLLERS {
            if unified_controllers.iter().any(|have| have == c) {
                continue; // v2 holds it
            }
            if let Some(own) = layout.v1.get(*c) {
                let dir = own.join(&name);
                match make_dir(&dir) {
                    Ok(()) => v1.push(((*c).to_string(), dir)),
                    Err(e) => why.push(format!("{}: {e}", dir.display())),
                }
            }
        }
        if unified.is_none() && v1.is_empty() {
            let reason = if why.is_empty() {
                "no cgroup hierarchy is mounted".to_string()
            } else {
                format!("no cgroup hierarchy is writable ({})", why.join("; "))
            };
            return Self::off(reason);
        }
        Self {
            unified,
            unified_controllers,
            v1,
            off: None,
        }
    }

    /// How services are tracked, for `status` and `/metrics`.
    pub fn mode(&self) -> String {
        if let Some(why) = &self.off {
            return format!("process tree (no cgroups: {why})");
        }
        match (&self.unified, self.v1.is_empty()) {
            (Some(_), true) => "cgroup v2".to_string(),
            (Some(_), false) => format!(
                "cgroup hybrid (v2 membership, v1 {})",
                self.v1
                    .iter()
                    .map(|(c, _)| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (None, _) => format!(
                "cgroup v1 ({})",
                self.v1
                    .iter()
                    .map(|(c, _)| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// Whether services get cgroups.
    pub fn enabled(&self) -> bool {
        self.off.is_none()
    }

    /// Processes left in the services' cgroups by an earlier daemon (killed
    /// with SIGKILL, say): each service's name with its members. Exact: a
    /// process that left its group, its session and its environment is
    /// still found.
    pub fn leftovers(&self) -> Vec<(String, Vec<i32>)> {
        let Some(parent) = self
            .unified
            .as_ref()
            .or_else(|| self.v1.first().map(|(_, d)| d))
        else {
            return Vec::new();
        };
        let Ok(entries) = fs::read_dir(parent) else {
            return Vec::new();
        };
        let mut out: Vec<(String, Vec<i32>)> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let procs = fs::read_to_string(e.path().join("cgroup.procs")).ok()?;
                let pids = files::pids(&procs);
                (!pids.is_empty()).then_some((name, pids))
            })
            .collect();
        out.sort();
        out
    }

    /// Removes backstop's parent cgroups (when empty: the daemon is done).
    pub fn remove_parents(&self) {
        for dir in self.unified.iter().chain(self.v1.iter().map(|(_, d)| d)) {
            let _ = fs::remove_dir(dir);
        }
    }

    /// The cgroups of service `name`, made (or found) and set to `limits`.
    pub fn service(&self, name: &str, limits: &Limits) -> io::Result<ServiceCgroup> {
        if self.off.is_some() {
            return Err(io::Error::other("cgroups are off"));
        }
        let mut dirs = Vec::new();
        if let Some(parent) = &self.unified {
            let dir = parent.join(name);
            make_dir(&dir)?;
            dirs.push(Dir {
                path: dir,
                v2: true,
                controllers: self.unified_controllers.clone(),
            });
        }
        for (controller, parent) in &self.v1 {
            let dir = parent.join(name);
            make_dir(&dir)?;
            dirs.push(Dir {
                path: dir,
                v2: false,
                controllers: vec![controller.clone()],
            });
        }
        let cg = ServiceCgroup {
            dirs,
            limits: limits.clone(),
        };
        cg.set_limits(limits)?;
        Ok(cg)
    }
}

/// `backstop-<hash of the state directory>`: one parent per daemon.
fn parent_name(state_dir: &Path) -> String {
    format!(
        "backstop-{:08x}",
        crate::state_file::state_dir_id(state_dir) as u32
    )
}

fn make_dir(dir: &Path) -> io::Result<()> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn enable_controller(dir: &Path, controller: &str) -> io::Result<()> {
    write(
        &dir.join("cgroup.subtree_control"),
        &format!("+{controller}"),
    )
}

fn write(path: &Path, text: &str) -> io::Result<()> {
    fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .write_all(text.as_bytes())
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// One directory of a service's cgroup, in one hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Dir {
    path: PathBuf,
    v2: bool,
    controllers: Vec<String>,
}

impl Dir {
    fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// A service's cgroups: one directory per hierarchy used.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceCgroup {
    dirs: Vec<Dir>,
    /// The limits written into it.
    limits: Limits,
}

impl ServiceCgroup {
    /// Whether it was made with `limits` (a restart may reuse it as it is).
    pub fn has_limits(&self, limits: &Limits) -> bool {
        self.limits == *limits
    }

    fn find(&self, controller: &str) -> Option<&Dir> {
        self.dirs.iter().find(|d| d.has(controller))
    }

    fn membership(&self) -> Option<&Dir> {
        self.dirs
            .iter()
            .find(|d| d.v2)
            .or_else(|| self.dirs.first())
    }

    /// Writes the kernel limits (or lifts those no longer set).
    fn set_limits(&self, limits: &Limits) -> io::Result<()> {
        if let Some(d) = self.find("memory") {
            let max = limits.memory_max;
            if d.v2 {
                write(
                    &d.path.join("memory.max"),
                    &max.map_or("max".into(), |m| m.to_string()),
                )?;
                // Reclaim starts a little before the hard limit, so that
                // backstop's sampler can restart the service gracefully
                // before the kernel kills it.
                let high = max.map_or("max".into(), |m| (m / 100 * 95).to_string());
                write(&d.path.join("memory.high"), &high)?;
            } else {
                write(
                    &d.path.join("memory.limit_in_bytes"),
                    &max.map_or("-1".into(), |m| m.to_string()),
                )?;
            }
        }
        if let Some(d) = self.find("pids") {
            write(
                &d.path.join("pids.max"),
                &limits.pids_max.map_or("max".into(), |p| p.to_string()),
            )?;
        }
        if let Some(d) = self.find("cpu") {
            if d.v2 {
                write(
                    &d.path.join("cpu.max"),
                    &limits.cpu_max.map_or("max 100000".into(), files::cpu_max),
                )?;
            } else {
                let quota = limits
                    .cpu_max
                    .map_or(-1, |p| ((p / 100.0) * 100_000.0).round().max(1000.0) as i64);
                write(&d.path.join("cpu.cfs_period_us"), "100000")?;
                write(&d.path.join("cpu.cfs_quota_us"), &quota.to_string())?;
            }
        }
        Ok(())
    }

    /// Which kernel limits hold: `memory_max`, `pids_max`, `cpu_max`.
    pub fn enforces(&self, limit: &str) -> bool {
        let controller = match limit {
            "memory_max" => "memory",
            "pids_max" => "pids",
            "cpu_max" => "cpu",
            _ => return false,
        };
        self.find(controller).is_some()
    }

    /// `cgroup.procs` of every directory, opened for writing: a child
    /// writes `0` to each before it execs ([`join_self`]).
    pub fn procs_files(&self) -> io::Result<Vec<OwnedFd>> {
        self.dirs
            .iter()
            .map(|d| {
                fs::OpenOptions::new()
                    .write(true)
                    .open(d.path.join("cgroup.procs"))
                    .map(OwnedFd::from)
            })
            .collect()
    }

    /// Every process in it now.
    pub fn members(&self) -> Vec<i32> {
        self.membership()
            .and_then(|d| fs::read_to_string(d.path.join("cgroup.procs")).ok())
            .map(|t| files::pids(&t))
            .unwrap_or_default()
    }

    /// Whether any process is left in it.
    pub fn populated(&self) -> bool {
        match self.membership() {
            Some(d) if d.v2 => fs::read_to_string(d.path.join("cgroup.events"))
                .ok()
                .and_then(|t| files::value_of(&t, "populated"))
                .is_none_or(|n| n > 0),
            _ => !self.members().is_empty(),
        }
    }

    /// SIGKILLs every process in it (`cgroup.kill` on v2; each member on v1).
    pub fn kill(&self) {
        if let Some(d) = self.membership()
            && d.v2
            && write(&d.path.join("cgroup.kill"), "1").is_ok()
        {
            return;
        }
        for pid in self.members() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }

    /// Resident memory (bytes: anonymous and mapped file pages, as RSS
    /// counts them) and CPU seconds, from the cgroup's own accounting;
    /// `None` when it has no memory accounting.
    pub fn usage(&self) -> Option<(u64, f64)> {
        let memory = self.find("memory")?;
        let stat = read_small(&memory.path.join("memory.stat")).ok()?;
        let rss = if memory.v2 {
            files::value_of(&stat, "anon")? + files::value_of(&stat, "file_mapped").unwrap_or(0)
        } else {
            files::value_of(&stat, "total_rss")?
                + files::value_of(&stat, "total_mapped_file").unwrap_or(0)
        };
        // cgroup v2 accounts CPU in every cgroup, controller or not.
        let cpu = self
            .dirs
            .iter()
            .find(|d| d.v2)
            .and_then(|d| read_small(&d.path.join("cpu.stat")).ok())
            .and_then(|t| files::value_of(&t, "usage_usec"))
            .map_or(0.0, |us| us as f64 / 1e6);
        Some((rss, cpu))
    }

    /// How many times the kernel's OOM killer has killed in it.
    pub fn oom_kills(&self) -> u64 {
        let Some(d) = self.find("memory") else {
            return 0;
        };
        let file = if d.v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        fs::read_to_string(d.path.join(file))
            .ok()
            .and_then(|t| files::value_of(&t, "oom_kill"))
            .unwrap_or(0)
    }

    /// The memory limit the kernel holds it to, and the peak usage.
    pub fn memory_limit_and_peak(&self) -> (Option<u64>, Option<u64>) {
        let Some(d) = self.find("memory") else {
            return (None, None);
        };
        let read = |f: &str| fs::read_to_string(d.path.join(f)).ok();
        if d.v2 {
            (
                read("memory.max").and_then(|t| files::limit(&t)),
                read("memory.peak").and_then(|t| t.trim().parse().ok()),
            )
        } else {
            (
                read("memory.limit_in_bytes").and_then(|t| files::limit(&t)),
                read("memory.max_usage_in_bytes").and_then(|t| t.trim().parse().ok()),
            )
        }
    }

    /// Removes its directories (when empty; a populated cgroup stays).
    pub fn remove(&self) {
        for d in &self.dirs {
            let _ = fs::remove_dir(&d.path);
        }
    }
}

/// A kernel file of a few kilobytes in as few calls as the kernel allows:
/// open, one read into a 16 KiB buffer (and one that says the end), close.
/// `fs::read_to_string` first asks the size (0 for these files) and grows
/// its buffer read by read: five times the calls, for each of 1,000
/// services on every status.
fn read_small(path: &Path) -> io::Result<String> {
    use std::io::Read;
    let mut file = fs::File::open(path)?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    String::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// In the child, between fork and exec: moves the calling process into
/// each cgroup whose `cgroup.procs` is open in `fds`. Async-signal-safe:
/// one `write` per descriptor.
pub fn join_self(fds: &[i32]) -> io::Result<()> {
    for fd in fds {
        // SAFETY: a write of two bytes from a static buffer to an open fd.
        let n = unsafe { libc::write(*fd, b"0\n".as_ptr().cast(), 2) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_parent_name_per_state_directory() {
        let a = super::parent_name(std::path::Path::new("/srv/app/.backstop"));
        let b = super::parent_name(std::path::Path::new("/srv/other/.backstop"));
        assert!(a.starts_with("backstop-") && a.len() == 17, "{a}");
        assert_ne!(a, b);
        assert_eq!(
            a,
            super::parent_name(std::path::Path::new("/srv/app/.backstop"))
        );
    }
}
