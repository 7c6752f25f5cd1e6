//! `.backstop/state.json`: what this daemon runs, so that the next one can
//! find it if this one is killed without a chance to stop its children.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// One main process, identified beyond its pid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedProcess {
    /// Its pid.
    pub pid: i32,
    /// Its process group (equal to the pid: each service is a session leader).
    pub pgid: i32,
    /// Start time in clock ticks since boot, from `/proc/<pid>/stat`.
    pub start_time: u64,
}

/// The whole file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateFile {
    /// The daemon that wrote it.
    pub daemon_pid: u32,
    /// Running main processes by service name.
    pub services: BTreeMap<String, RecordedProcess>,
}

impl StateFile {
    /// Reads the file; a missing or unreadable file is an empty state.
    pub fn load(path: &Path) -> Self {
        std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Writes the file atomically (temporary file, then rename).
    ///
    /// No fsync: the file matters only when the daemon dies while the
    /// machine keeps running (the page cache survives that); after a power
    /// loss no child survives either. It is written at every spawn, which
    /// is on the respawn hot path.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("json.tmp");
        let mut file = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?
        };
        file.write_all(&serde_json::to_vec(self).expect("UNWRAP: plain data serialises"))?;
        std::fs::rename(&tmp, path)
    }
}

/// A stable number for a state directory (FNV-1a of its path: the same
/// across builds and runs, unlike std's hasher). It names what belongs to
/// one daemon outside its state directory: its cgroups, its record for
/// `backstop ls`.
pub fn state_dir_id(state_dir: &std::path::Path) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in state_dir.as_os_str().as_encoded_bytes() {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tolerates_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(StateFile::load(&path), StateFile::default());
        let mut s = StateFile {
            daemon_pid: 7,
            ..StateFile::default()
        };
        s.services.insert(
            "api".into(),
            RecordedProcess {
                pid: 10,
                pgid: 10,
                start_time: 99,
            },
        );
        s.save(&path).unwrap();
        assert_eq!(StateFile::load(&path), s);
        std::fs::write(&path, "{not json").unwrap();
        assert_eq!(StateFile::load(&path), StateFile::default());
    }
}
