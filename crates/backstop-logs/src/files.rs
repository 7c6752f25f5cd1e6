//! Where a service's log lives on disk: the current file and its rotated
//! segments.
//!
//! `api.log` is written now. A rotation renames it to
//! `api.log.20261122T085115.123Z` (the UTC time of the rotation, so names
//! sort in time order and never change again), and compression turns that
//! into `api.log.20261122T085115.123Z.gz` (or `.zst`). A separate stderr
//! file is its own family: `api.stderr.log`, `api.stderr.log.<stamp>.gz`.
//! Every line in a rotated segment was written before the time in its name.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backstop_config::Compression;

/// One log file family of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// `<service>.log`: stdout, and stderr unless it is separate.
    Main,
    /// `<service>.stderr.log`.
    Stderr,
}

/// The current file of `service`'s `family` under `dir`.
pub fn current_path(dir: &Path, service: &str, family: Family) -> PathBuf {
    dir.join(file_name(service, family))
}

fn file_name(service: &str, family: Family) -> String {
    match family {
        Family::Main => format!("{service}.log"),
        Family::Stderr => format!("{service}.stderr.log"),
    }
}

/// A rotated segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Its path.
    pub path: PathBuf,
    /// When it was rotated: every line in it is older.
    pub rotated_at: SystemTime,
    /// How it is compressed.
    pub compression: Compression,
}

/// `20261122T085115.123Z`: sortable, no characters that need quoting.
pub fn stamp(at: SystemTime) -> String {
    let full = humantime::format_rfc3339_millis(at).to_string(); // 2026-11-22T08:51:15.123Z
    full.chars().filter(|c| !matches!(c, '-' | ':')).collect()
}

fn parse_stamp(text: &str) -> Option<SystemTime> {
    // 20261122T085115.123Z → 2026-11-22T08:51:15.123Z
    let b = text.as_bytes();
    // Any file may lie in the directory: only ASCII can be sliced by byte.
    if !text.is_ascii() || b.len() != 20 || b[8] != b'T' || b[15] != b'.' || b[19] != b'Z' {
        return None;
    }
    let rfc = format!(
        "{}-{}-{}T{}:{}:{}{}",
        &text[0..4],
        &text[4..6],
        &text[6..8],
        &text[9..11],
        &text[11..13],
        &text[13..15],
        &text[15..]
    );
    humantime::parse_rfc3339(&rfc).ok()
}

/// The path a rotation at `at` renames the current file to.
pub fn rotated_path(dir: &Path, service: &str, family: Family, at: SystemTime) -> PathBuf {
    dir.join(format!("{}.{}", file_name(service, family), stamp(at)))
}

/// `path` with the compression's suffix added.
pub fn compressed_path(path: &Path, compression: Compression) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(compression.suffix());
    PathBuf::from(name)
}

/// The rotated segments of a family, oldest first. A segment that exists
/// both compressed and not (compression was under way) is listed once, as
/// the uncompressed file, which is complete; unfinished `.tmp` files are
/// ignored.
pub fn segments(dir: &Path, service: &str, family: Family) -> std::io::Result<Vec<Segment>> {
    let prefix = format!("{}.", file_name(service, family));
    let mut found: Vec<Segment> = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let (stamp_text, compression) = if let Some(s) = rest.strip_suffix(".gz") {
            (s, Compression::Gzip)
        } else if let Some(s) = rest.strip_suffix(".zst") {
            (s, Compression::Zstd)
        } else {
            (rest, Compression::None)
        };
        let Some(rotated_at) = parse_stamp(stamp_text) else {
            continue;
        };
        found.push(Segment {
            path: entry.path(),
            rotated_at,
            compression,
        });
    }
    found.sort_by(|a, b| {
        a.rotated_at
            .cmp(&b.rotated_at)
            .then((a.compression != Compression::None).cmp(&(b.compression != Compression::None)))
    });
    found.dedup_by(|later, first| later.rotated_at == first.rotated_at);
    Ok(found)
}

/// Milliseconds since the epoch, for rotation stamps.
pub(crate) fn millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The time `ms` milliseconds after the epoch.
pub(crate) fn from_millis(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_and_sort() {
        let at = humantime::parse_rfc3339("2026-11-22T08:51:15.123Z").unwrap();
        assert_eq!(stamp(at), "20261122T085115.123Z");
        assert_eq!(parse_stamp(&stamp(at)), Some(at));
        assert_eq!(parse_stamp("20261122T085115Z"), None);
    }

    #[test]
    fn lists_segments_once_in_time_order() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for name in [
            "api.log",
            "api.log.20261122T085115.123Z.gz",
            "api.log.20261121T000000.000Z.zst",
            "api.log.20261122T090000.000Z",
            "api.log.20261122T090000.000Z.gz.tmp",
            "api.log.20261122T100000.000Z",
            "api.log.20261122T100000.000Z.gz",
            "api.stderr.log.20261122T085115.123Z",
            "api.log.notes",
            "apix.log.20261122T085115.123Z",
        ] {
            std::fs::write(d.join(name), "").unwrap();
        }
        let names: Vec<String> = segments(d, "api", Family::Main)
            .unwrap()
            .iter()
            .map(|s| s.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "api.log.20261121T000000.000Z.zst",
                "api.log.20261122T085115.123Z.gz",
                "api.log.20261122T090000.000Z",
                "api.log.20261122T100000.000Z",
            ]
        );
        assert_eq!(segments(d, "api", Family::Stderr).unwrap().len(), 1);
    }

    #[test]
    fn names_that_are_not_ascii_are_not_segments() {
        let dir = tempfile::tempdir().unwrap();
        // 20 bytes, T at 8, '.' at 15, 'Z' at 19, and an 'ä' across bytes 3-4.
        let odd = "api.log.202ä122T085115.123Z";
        std::fs::write(dir.path().join(odd), "").unwrap();
        std::fs::write(dir.path().join("api.log.日本語"), "").unwrap();
        assert!(
            segments(dir.path(), "api", Family::Main)
                .unwrap()
                .is_empty()
        );
    }
}
