//! Which backstop daemons of this user run, across projects (`backstop
//! ls`, like `pm2 ls`): each daemon writes one small file in the user's
//! registry directory while it runs, named after its state directory.
//!
//! The directory is `$XDG_RUNTIME_DIR/backstop` when the session has one,
//! else `~/.local/state/backstop/daemons`; mode 0700, files 0600. A file
//! whose daemon is gone (SIGKILL) is noticed by `ls` (its pid is not a
//! backstop any more) and removed.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One running daemon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// Its pid.
    pub(crate) pid: u32,
    /// The config file it serves (absolute).
    pub(crate) config: String,
    /// Its state directory.
    pub(crate) state_dir: String,
    /// When it started (RFC 3339).
    pub(crate) started: String,
}

/// The registry directory of this user, if it can be named.
fn dir() -> Option<PathBuf> {
    if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(run).join("backstop"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".local/state/backstop/daemons"))
}

/// The file of the daemon of `state_dir`.
fn file_of(dir: &Path, state_dir: &Path) -> PathBuf {
    let id = backstop_supervisor::state_file::state_dir_id(state_dir);
    dir.join(format!("{id:016x}.json"))
}

/// Records this daemon; the returned guard removes the record when dropped.
pub(crate) fn register(config: &Path, state_dir: &Path) -> Option<Registered> {
    let dir = dir()?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .ok()?;
    let entry = Entry {
        pid: std::process::id(),
        config: config.display().to_string(),
        state_dir: state_dir.display().to_string(),
        started: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    };
    let path = file_of(&dir, state_dir);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .ok()?;
    file.write_all(serde_json::to_string(&entry).ok()?.as_bytes())
        .ok()?;
    Some(Registered(path))
}

/// Removes its record when the daemon ends.
pub(crate) struct Registered(PathBuf);

impl Drop for Registered {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Every daemon of this user still running; stale records are removed.
pub(crate) fn running() -> Vec<Entry> {
    let Some(dir) = dir() else {
        return Vec::new();
    };
    let Ok(files) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for path in files.filter_map(Result::ok).map(|e| e.path()) {
        let entry: Option<Entry> = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        let alive = entry.as_ref().is_some_and(|e| is_backstop(e.pid));
        match entry {
            Some(e) if alive => out.push(e),
            _ => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    out.sort_by(|a, b| a.config.cmp(&b.config));
    out
}

/// `pid` is a live backstop process (not a reused pid).
fn is_backstop(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmd| {
        cmd.split(|b| *b == 0)
            .next()
            .and_then(|argv0| Path::new(std::str::from_utf8(argv0).ok()?).file_name())
            .is_some_and(|name| name.to_string_lossy().starts_with("backstop"))
    })
}
