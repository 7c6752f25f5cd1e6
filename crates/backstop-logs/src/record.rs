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

/// What framing a region made of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framed {
    /// Records written (a line longer than [`MAX_LINE`] makes several).
    pub records: u64,
    /// Lines of the service's output.
    pub lines: u64,
}

impl Framed {
    /// A raw region: its lines are its records.
    pub fn raw(region: &[u8]) -> Self {
        let lines = memchr::memchr_iter(b'\n', region).count() as u64;
        Self {
            records: lines,
            lines,
        }
    }
}

/// Appends to `out` the records of `region` (whole lines, each ending in
/// `\n`), all stamped `at`: the timestamp is formatted once per read, not
/// per line. A line longer than [`MAX_LINE`] is split, never dropped; a
/// `\r` before the newline goes. This is the capture path of every byte
/// of timestamped output.
pub fn frame_into(out: &mut Vec<u8>, region: &[u8], at: SystemTime, stream: Stream) -> Framed {
    use std::io::Write;
    let mut prefix = [0u8; 40];
    let prefix_len = {
        let mut cursor = std::io::Cursor::new(&mut prefix[..]);
        let _ = write!(
            cursor,
            "{} {} ",
            humantime::format_rfc3339_millis(at),
            stream.as_str()
        );
        usize::try_from(cursor.position()).unwrap_or(0)
    };
    let prefix = &prefix[..prefix_len];
    // Lines of a burst are short: reserve for a prefix per 32 bytes, and
    // let the rare denser region grow the buffer.
    out.reserve(region.len() + (region.len() / 32 + 1) * prefix.len());
    let mut records = 0u64;
    let mut lines = 0u64;
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', region) {
        let mut line = &region[start..end];
        start = end + 1;
        lines += 1;
        if let [text @ .., b'\r'] = line {
            line = text;
        }
        if line.len() <= MAX_LINE {
            out.extend_from_slice(prefix);
            out.extend_from_slice(line);
            out.push(b'\n');
            records += 1;
            continue;
        }
        for piece in line.chunks(MAX_LINE) {
            out.extend_from_slice(prefix);
            out.extend_from_slice(piece);
            out.push(b'\n');
            records += 1;
        }
    }
    Framed { records, lines }
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
    fn framing_stamps_each_line_once_and_splits_only_long_ones() {
        let at = humantime::parse_rfc3339("2026-11-22T07:24:45.138Z").unwrap();
        let mut region = b"one\r\n\ntwo\n".to_vec();
        region.extend(std::iter::repeat_n(b'x', MAX_LINE + 5));
        region.push(b'\n');
        let mut batch = Vec::new();
        let framed = frame_into(&mut batch, &region, at, Stream::Stdout);
        assert_eq!(
            framed,
            Framed {
                records: 5,
                lines: 4
            }
        );
        let lines: Vec<&[u8]> = batch.split(|&b| b == b'\n').collect();
        assert_eq!(lines[0], b"2026-11-22T07:24:45.138Z stdout one");
        assert_eq!(lines[1], b"2026-11-22T07:24:45.138Z stdout ");
        assert_eq!(lines[2], b"2026-11-22T07:24:45.138Z stdout two");
        assert_eq!(lines[3].len(), 32 + MAX_LINE);
        assert_eq!(lines[4], b"2026-11-22T07:24:45.138Z stdout xxxxx");
        // Raw output is not framed: its lines are counted.
        assert_eq!(
            Framed::raw(&region),
            Framed {
                records: 4,
                lines: 4
            }
        );
    }

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
