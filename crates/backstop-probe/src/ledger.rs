//! The commands the daemon runs besides services — `exec` checks, playbook
//! `exec` steps, alert commands — recorded while they run, one file per
//! process group in a directory of the state dir (`helpers/PID`, holding
//! the command's words). Each runs in a process group of its own, a child
//! of the daemon: a daemon killed while one ran would leave it running,
//! reparented to init, found by nobody. With the record, the next daemon
//! stops what is still there (`leftovers::stop_helper_leftovers` in
//! `backstop-supervisor`).

use std::path::{Path, PathBuf};

/// Where the records go.
#[derive(Debug)]
pub struct Ledger {
    dir: PathBuf,
    /// A failed record was said once (an exec check runs every second: a
    /// read-only state dir must not fill the daemon's log).
    warned: std::sync::atomic::AtomicBool,
}

/// One running command's record: removed when dropped (the command ended,
/// or was killed with its group).
#[derive(Debug)]
pub struct Recorded(Option<PathBuf>);

impl Drop for Recorded {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A record found: a command that was running when it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The pid of the command, which leads its own process group.
    pub pid: i32,
    /// Its words, as spawned (and as `/proc/PID/cmdline` shows them while
    /// it runs that program).
    pub command: Vec<String>,
    /// The record's file.
    pub path: PathBuf,
}

impl Ledger {
    /// Records in `dir` (created at the first record).
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            warned: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Records that `pid` runs `command`. A failed write is not fatal: the
    /// command runs, only a killed daemon's successor could not find it.
    pub fn record(&self, pid: u32, command: &[String]) -> Recorded {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let path = self.dir.join(pid.to_string());
        // The words may hold a secret (a DSN in an `exec` check): the
        // owner's alone, as the rest of the state dir.
        let written = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .and_then(|()| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&path)?
                    .write_all(command.join("\0").as_bytes())
            });
        match written {
            Ok(()) => Recorded(Some(path)),
            Err(e) => {
                if self.warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    return Recorded(None);
                }
                tracing::warn!(
                    "cannot record the command {pid} runs in {}: {e}; if backstop is killed while such a command runs, it will be left running (said once)",
                    self.dir.display()
                );
                Recorded(None)
            }
        }
    }

    /// The records in `dir`, left by a daemon that did not remove them.
    pub fn entries(dir: &Path) -> Vec<Entry> {
        let Ok(read) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        read.flatten()
            .filter_map(|f| {
                let pid = f.file_name().to_str()?.parse().ok()?;
                let text = std::fs::read_to_string(f.path()).ok()?;
                Some(Entry {
                    pid,
                    command: text.split('\0').map(str::to_string).collect(),
                    path: f.path(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_lives_as_long_as_its_guard() {
        let dir = std::env::temp_dir().join(format!("backstop-ledger-{}", std::process::id()));
        let ledger = Ledger::new(dir.clone());
        let words = [
            "/bin/sh".to_string(),
            "-c".to_string(),
            "sleep 9".to_string(),
        ];
        let recorded = ledger.record(4242, &words);
        let found = Ledger::entries(&dir);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].pid, &found[0].command[..]), (4242, &words[..]));
        drop(recorded);
        assert!(Ledger::entries(&dir).is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }
}
