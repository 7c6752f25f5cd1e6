//! Reading service logs: the last lines, a time range, a search, several
//! services merged in time order, and following new lines.
//!
//! Files are read **from the end** in chunks, so `-n 50` or `--since 10m`
//! on a 1 GB log reads a few kilobytes, not the file.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use regex::bytes::Regex;

use crate::record::{self, Stream};

const CHUNK: usize = 64 * 1024;

/// What to show.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// At most this many lines (the last ones).
    pub last: Option<usize>,
    /// Only lines at or after this time.
    pub since: Option<SystemTime>,
    /// Only lines before this time.
    pub until: Option<SystemTime>,
    /// Only lines whose text matches.
    pub grep: Option<Regex>,
    /// Only this stream.
    pub stream: Option<Stream>,
}

impl Query {
    /// Does this line pass every filter but `since`/`last`?
    pub fn keeps(&self, r: &record::Record<'_>) -> bool {
        self.until.is_none_or(|u| r.at < u)
            && self.since.is_none_or(|s| r.at >= s)
            && self.stream.is_none_or(|s| s == r.stream)
            && self.grep.as_ref().is_none_or(|g| g.is_match(r.text))
    }
}

/// One line shown to the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The service.
    pub service: String,
    /// When it was written.
    pub at: SystemTime,
    /// The stream.
    pub stream: Stream,
    /// The text, as written.
    pub text: Vec<u8>,
}

/// Yields a file's lines from the last to the first.
struct Backward {
    file: File,
    pos: u64,
    buf: Vec<u8>,
}

impl Backward {
    fn open(path: &Path) -> std::io::Result<Self> {
        let mut file = File::open(path)?;
        let pos = file.seek(SeekFrom::End(0))?;
        Ok(Self {
            file,
            pos,
            buf: Vec::new(),
        })
    }

    /// The previous line (without its newline), or `None` at the start.
    fn prev(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        loop {
            // A complete line is what follows the last newline in the buffer,
            // once the buffer starts at the file's start or at a newline.
            let end = if self.buf.last() == Some(&b'\n') {
                self.buf.len() - 1
            } else {
                self.buf.len()
            };
            if let Some(nl) = self.buf[..end].iter().rposition(|&b| b == b'\n') {
                let line = self.buf[nl + 1..end].to_vec();
                self.buf.truncate(nl + 1);
                return Ok(Some(line));
            }
            if self.pos == 0 {
                if end == 0 {
                    return Ok(None);
                }
                let line = self.buf[..end].to_vec();
                self.buf.clear();
                return Ok(Some(line));
            }
            let take = (self.pos as usize).min(CHUNK);
            self.pos -= take as u64;
            self.file.seek(SeekFrom::Start(self.pos))?;
            let mut chunk = vec![0; take];
            self.file.read_exact(&mut chunk)?;
            chunk.extend_from_slice(&self.buf);
            self.buf = chunk;
        }
    }
}

/// The lines of one service's log that the query selects, oldest first.
pub fn read_service(service: &str, path: &Path, query: &Query) -> std::io::Result<Vec<Entry>> {
    let mut lines = match Backward::open(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    while let Some(line) = lines.prev()? {
        let Some(r) = record::decode(&line) else {
            continue;
        };
        if query.since.is_some_and(|s| r.at < s) {
            break; // lines are in time order: everything before is older
        }
        if query.keeps(&r) {
            out.push(Entry {
                service: service.to_string(),
                at: r.at,
                stream: r.stream,
                text: r.text.to_vec(),
            });
            if query.last.is_some_and(|n| out.len() >= n) {
                break;
            }
        }
    }
    out.reverse();
    Ok(out)
}

/// Several services' logs, merged in time order; `last` applies to the merge.
pub fn read(logs: &[(String, PathBuf)], query: &Query) -> std::io::Result<Vec<Entry>> {
    let mut all = Vec::new();
    for (service, path) in logs {
        all.extend(read_service(service, path, query)?);
    }
    all.sort_by_key(|e| e.at); // stable: one service's order is kept
    if let Some(n) = query.last {
        let skip = all.len().saturating_sub(n);
        all.drain(..skip);
    }
    Ok(all)
}

/// Where following a log file has got to.
#[derive(Debug)]
pub struct Follower {
    service: String,
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl Follower {
    /// Starts at the current end of `path`.
    pub fn at_end(service: &str, path: &Path) -> Self {
        let offset = std::fs::metadata(path).map_or(0, |m| m.len());
        Self {
            service: service.to_string(),
            path: path.to_path_buf(),
            offset,
            partial: Vec::new(),
        }
    }

    /// The complete new lines since the last call that the query keeps. A
    /// file that shrank (rotated or truncated) is read again from its start.
    pub fn poll(&mut self, query: &Query) -> std::io::Result<Vec<Entry>> {
        let Ok(mut file) = File::open(&self.path) else {
            return Ok(Vec::new());
        };
        let len = file.metadata()?.len();
        if len < self.offset {
            self.offset = 0;
            self.partial.clear();
        }
        if len == self.offset {
            return Ok(Vec::new());
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut new = Vec::new();
        file.take(len - self.offset).read_to_end(&mut new)?;
        self.offset = len;
        self.partial.extend_from_slice(&new);
        let mut out = Vec::new();
        let complete = self
            .partial
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        for line in self.partial[..complete]
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
        {
            if let Some(r) = record::decode(line)
                && query.keeps(&r)
            {
                out.push(Entry {
                    service: self.service.clone(),
                    at: r.at,
                    stream: r.stream,
                    text: r.text.to_vec(),
                });
            }
        }
        self.partial.drain(..complete);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn write_log(path: &Path, start: SystemTime, lines: &[(u64, Stream, &str)]) {
        let mut out = Vec::new();
        for (secs, stream, text) in lines {
            record::encode(
                &mut out,
                start + Duration::from_secs(*secs),
                *stream,
                text.as_bytes(),
            );
        }
        std::fs::write(path, out).unwrap();
    }

    fn texts(entries: &[Entry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| format!("{}:{}", e.service, String::from_utf8_lossy(&e.text)))
            .collect()
    }

    #[test]
    fn last_since_grep_stream_and_merge() {
        let dir = tempfile::tempdir().unwrap();
        let t = humantime::parse_rfc3339("2026-11-22T10:00:00Z").unwrap();
        let (api, worker) = (dir.path().join("api.log"), dir.path().join("worker.log"));
        write_log(
            &api,
            t,
            &[
                (0, Stream::Stdout, "a0"),
                (2, Stream::Stderr, "Traceback a2"),
                (4, Stream::Stdout, "a4"),
            ],
        );
        write_log(
            &worker,
            t,
            &[(1, Stream::Stdout, "w1"), (3, Stream::Stderr, "ERROR w3")],
        );
        let logs = vec![("api".to_string(), api), ("worker".to_string(), worker)];
        let q = |f: fn(&mut Query)| {
            let mut q = Query::default();
            f(&mut q);
            texts(&read(&logs, &q).unwrap())
        };
        assert_eq!(
            q(|_| {}),
            [
                "api:a0",
                "worker:w1",
                "api:Traceback a2",
                "worker:ERROR w3",
                "api:a4"
            ]
        );
        assert_eq!(q(|q| q.last = Some(2)), ["worker:ERROR w3", "api:a4"]);
        assert_eq!(
            q(|q| q.stream = Some(Stream::Stderr)),
            ["api:Traceback a2", "worker:ERROR w3"]
        );
        assert_eq!(
            q(|q| q.grep = Some(Regex::new("(?i)traceback|error").unwrap())),
            ["api:Traceback a2", "worker:ERROR w3"]
        );
        let since = |q: &mut Query| {
            q.since = Some(humantime::parse_rfc3339("2026-11-22T10:00:03Z").unwrap());
        };
        assert_eq!(q(since), ["worker:ERROR w3", "api:a4"]);
    }

    #[test]
    fn reads_backwards_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.log");
        let t = SystemTime::now();
        let lines: Vec<(u64, Stream, String)> = (0..20_000)
            .map(|i| (i, Stream::Stdout, format!("line {i}")))
            .collect();
        let borrowed: Vec<(u64, Stream, &str)> =
            lines.iter().map(|(a, b, c)| (*a, *b, c.as_str())).collect();
        write_log(&path, t, &borrowed);
        let q = Query {
            last: Some(3),
            ..Query::default()
        };
        let got = read_service("x", &path, &q).unwrap();
        assert_eq!(
            texts(&got),
            ["x:line 19997", "x:line 19998", "x:line 19999"]
        );
        let all = read_service("x", &path, &Query::default()).unwrap();
        assert_eq!(all.len(), 20_000);
        assert_eq!(all[0].text, b"line 0");
    }

    #[test]
    fn follow_sees_new_complete_lines_and_survives_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.log");
        let t = SystemTime::now();
        write_log(&path, t, &[(0, Stream::Stdout, "old")]);
        let mut f = Follower::at_end("api", &path);
        assert!(f.poll(&Query::default()).unwrap().is_empty());
        let mut more = std::fs::read(&path).unwrap();
        record::encode(&mut more, t, Stream::Stdout, b"new");
        more.extend_from_slice(b"2026-11-22T10:00:00.000Z stdout half");
        std::fs::write(&path, &more).unwrap();
        assert_eq!(texts(&f.poll(&Query::default()).unwrap()), ["api:new"]);
        std::fs::write(&path, b"").unwrap();
        let mut fresh = Vec::new();
        record::encode(&mut fresh, t, Stream::Stderr, b"after rotation");
        std::fs::write(&path, &fresh).unwrap();
        assert_eq!(
            texts(&f.poll(&Query::default()).unwrap()),
            ["api:after rotation"]
        );
    }
}
