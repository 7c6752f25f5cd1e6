//! One line of a service log: `<RFC 3339 UTC, ms> <stream> <text>\n`.
//!
//! The writer (the daemon) and every reader (`backstop logs`, diagnose)
//! share this module, so the format has one definition. The text is kept
//! byte for byte (invalid UTF-8 included); readers decide how to show it.

use std::time::SystemTime;

/// Which stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// `stdout` or `stderr`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }

    /// Parses `stdout` or `stderr`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "stdout" => Some(Self::Stdout),
            "stderr" => Some(Self::Stderr),
            _ => None,
        }
    }
}

/// Appends one record for `line` (without its newline) to `out`.
pub fn encode(out: &mut Vec<u8>, at: SystemTime, stream: Stream, line: &[u8]) {
    use std::io::Write;
    let _ = write!(
        out,
        "{} {} ",
        humantime::format_rfc3339_millis(at),
        stream.as_str()
    );
    out.extend_from_slice(line);
    out.push(b'\n');
}

/// Longest line kept in one record; longer lines are split at this bound.
pub const MAX_LINE: usize = 64 * 1024;

/// Frames `region` (whole lines, each ending in `\n`) as it arrived in one
/// read at `at`: one timestamp for them all (formatted once, not per line),
/// or none with `timestamped` false (`format = "raw"`). A line longer than
/// [`MAX_LINE`] is split, never dropped; a `\r` before the newline goes.
/// Returns the records and their number. The capture path of every byte of
/// service output: `benches/framing.rs` measures it.
pub fn frame(region: &[u8], at: SystemTime, stream: Stream, timestamped: bool) -> (Vec<u8>, u64) {
    use std::io::Write;
    let lines = memchr::memchr_iter(b'\n', region).count();
    let mut prefix = Vec::with_capacity(40);
    if timestamped {
        let _ = write!(
            prefix,
            "{} {} ",
            humantime::format_rfc3339_millis(at),
            stream.as_str()
        );
    }
    let mut batch = Vec::with_capacity(region.len() + lines * prefix.len());
    let mut records = 0u64;
    for line in region.split_inclusive(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut pieces = line.chunks(MAX_LINE).peekable();
        if pieces.peek().is_none() {
            batch.extend_from_slice(&prefix);
            batch.push(b'\n');
            records += 1;
        }
        for piece in pieces {
            batch.extend_from_slice(&prefix);
            batch.extend_from_slice(piece);
            batch.push(b'\n');
            records += 1;
        }
    }
    (batch, records)
}

/// A parsed record, borrowing the file's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// When it was written.
    pub at: SystemTime,
    /// The stream.
    pub stream: Stream,
    /// The service's bytes, as written.
    pub text: &'a [u8],
}

/// Parses one line of a log file (without its newline). `None` for a line
/// that is not a record (a truncated first line when reading from the end).
pub fn decode(line: &[u8]) -> Option<Record<'_>> {
    // "2026-11-22T07:24:45.138Z stdout text…": the stamp is ASCII, 24 bytes.
    let stamp_end = line.iter().position(|&b| b == b' ')?;
    let stamp = std::str::from_utf8(&line[..stamp_end]).ok()?;
    let at = humantime::parse_rfc3339(stamp).ok()?;
    let rest = &line[stamp_end + 1..];
    let stream_end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    let stream = Stream::parse(std::str::from_utf8(&rest[..stream_end]).ok()?)?;
    let text = rest.get(stream_end + 1..).unwrap_or(&[]);
    Some(Record { at, stream, text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_bytes() {
        let at = humantime::parse_rfc3339("2026-11-22T07:24:45.138Z").unwrap();
        let mut out = Vec::new();
        encode(&mut out, at, Stream::Stderr, b"bad \xff byte");
        assert_eq!(out, b"2026-11-22T07:24:45.138Z stderr bad \xff byte\n");
        let r = decode(&out[..out.len() - 1]).unwrap();
        assert_eq!(
            (r.at, r.stream, r.text),
            (at, Stream::Stderr, &b"bad \xff byte"[..])
        );
        assert_eq!(decode(b"Z stdout half a line"), None);
        assert_eq!(
            decode(b"2026-11-22T07:24:45.138Z stdout").unwrap().text,
            b""
        );
    }
}
