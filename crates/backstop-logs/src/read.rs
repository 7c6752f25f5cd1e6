//! Reading service logs: the last lines, a time range, a search, several
//! services merged in time order, and following new lines across rotation.
//!
//! The current file and uncompressed segments are read **from the end** in
//! chunks, so `-n 50` on a 1 GB log reads a few kilobytes. Compressed
//! segments are streamed through the decoder (they cannot be read
//! backwards), and only when the query reaches back into them: a segment
//! rotated before `--since` holds nothing newer and is never opened.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use backstop_config::{Compression, LogFormat};
use regex::bytes::Regex;

use crate::files::{self, Family};
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
    /// Does this entry pass every filter but `last`? Raw lines carry no
    /// time, so time filters apply to them through their file only.
    pub fn keeps(&self, e: &Entry) -> bool {
        let timed = |f: &dyn Fn(SystemTime) -> bool| e.at.is_none_or(f);
        timed(&|at| self.until.is_none_or(|u| at < u))
            && timed(&|at| self.since.is_none_or(|s| at >= s))
            && self.stream.is_none_or(|s| s == e.stream)
            && self.grep.as_ref().is_none_or(|g| g.is_match(&e.text))
    }
}

/// One line shown to the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The service.
    pub service: String,
    /// When it was written; `None` for a line of a raw-format log.
    pub at: Option<SystemTime>,
    /// Where it sorts among other services' lines: `at`, or for a raw
    /// line the time of its file.
    pub order: SystemTime,
    /// The stream.
    pub stream: Stream,
    /// The text, as written.
    pub text: Vec<u8>,
}

/// One log file family of one service, as the reader needs to know it.
#[derive(Clone, Debug)]
pub struct Source {
    /// The service.
    pub service: String,
    /// The log directory.
    pub dir: PathBuf,
    /// Which file family.
    pub family: Family,
    /// How lines are written.
    pub format: LogFormat,
}

impl Source {
    /// The log sources of `service` in the log directory `dir`: its main
    /// file, and its stderr file when stderr is kept apart.
    pub fn for_service(dir: &Path, service: &backstop_config::ServiceConfig) -> Vec<Self> {
        let families: &[Family] = match service.logs.stderr {
            backstop_config::StderrFile::Merged => &[Family::Main],
            backstop_config::StderrFile::Separate => &[Family::Main, Family::Stderr],
        };
        families
            .iter()
            .map(|&family| Self {
                service: service.name.clone(),
                dir: dir.to_path_buf(),
                family,
                format: service.logs.format,
            })
            .collect()
    }

    /// The file written now.
    pub fn current(&self) -> PathBuf {
        files::current_path(&self.dir, &self.service, self.family)
    }

    /// Turns one line of this source into an entry (`None`: not a record,
    /// such as a torn line after a failed write).
    fn entry(&self, line: &[u8], file_time: SystemTime) -> Option<Entry> {
        if let Some(r) = record::decode(line) {
            return Some(Entry {
                service: self.service.clone(),
                at: Some(r.at),
                order: r.at,
                stream: r.stream,
                text: r.text.to_vec(),
            });
        }
        if self.format == LogFormat::Timestamped {
            return None;
        }
        Some(Entry {
            service: self.service.clone(),
            at: None,
            order: file_time,
            stream: match self.family {
                Family::Main => Stream::Stdout,
                Family::Stderr => Stream::Stderr,
            },
            // A raw file holds the bytes as written: `\r\n` ends are shown as lines.
            text: line.strip_suffix(b"\r").unwrap_or(line).to_vec(),
        })
    }
}

/// Yields a file's lines from the last to the first.
struct Backward {
    file: File,
    pos: u64,
    buf: Vec<u8>,
}

impl Backward {
    /// Starts at `end`, or at the end of the file.
    fn open(path: &Path, end: Option<u64>) -> std::io::Result<Self> {
        let mut file = File::open(path)?;
        let len = file.seek(SeekFrom::End(0))?;
        Ok(Self {
            file,
            pos: end.map_or(len, |e| e.min(len)),
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

/// Where a follower started: the initial read stops there, so that no line
/// is shown twice or missed between reading and following.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    ino: u64,
    offset: u64,
}

/// Collects the newest matching entries of one source.
struct Collector<'q> {
    query: &'q Query,
    /// Newest first.
    out: Vec<Entry>,
}

impl Collector<'_> {
    fn full(&self) -> bool {
        self.query.last.is_some_and(|n| self.out.len() >= n)
    }

    /// Reads one file, newest line first. Returns false once the query
    /// needs nothing older.
    fn backward(
        &mut self,
        source: &Source,
        path: &Path,
        end: Option<u64>,
        file_time: SystemTime,
    ) -> std::io::Result<bool> {
        let mut lines = match Backward::open(path, end) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(e),
        };
        while let Some(line) = lines.prev()? {
            let Some(e) = source.entry(&line, file_time) else {
                continue;
            };
            if let (Some(s), Some(at)) = (self.query.since, e.at)
                && at < s
            {
                return Ok(false); // lines are in time order: everything before is older
            }
            if self.query.keeps(&e) {
                self.out.push(e);
                if self.full() {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Streams a compressed segment, keeping its newest matching lines.
    fn forward(
        &mut self,
        source: &Source,
        path: &Path,
        compression: Compression,
        file_time: SystemTime,
    ) -> std::io::Result<bool> {
        let reader = match crate::compress::open(path, compression) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(e),
        };
        self.forward_from(source, reader, file_time)
    }

    fn forward_from(
        &mut self,
        source: &Source,
        reader: Box<dyn Read>,
        file_time: SystemTime,
    ) -> std::io::Result<bool> {
        let mut reader = BufReader::with_capacity(CHUNK, reader);
        let room = self.query.last.map(|n| n - self.out.len());
        let mut found: std::collections::VecDeque<Entry> = std::collections::VecDeque::new();
        let mut older_than_since = false;
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            let Some(e) = source.entry(&line, file_time) else {
                continue;
            };
            if let (Some(s), Some(at)) = (self.query.since, e.at)
                && at < s
            {
                older_than_since = true;
                continue;
            }
            if self.query.keeps(&e) {
                found.push_back(e);
                if room.is_some_and(|r| found.len() > r) {
                    found.pop_front();
                }
            }
        }
        self.out.extend(found.into_iter().rev());
        Ok(!older_than_since && !self.full())
    }
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| SystemTime::now())
}

/// The entries of one source that the query selects, oldest first: the
/// current file (up to `until_position` when following), then rotated
/// segments, newest first, as far back as the query needs.
pub fn read_source(
    source: &Source,
    query: &Query,
    until_position: Option<Position>,
) -> std::io::Result<Vec<Entry>> {
    let mut c = Collector {
        query,
        out: Vec::new(),
    };
    let current = source.current();
    let end = until_position.and_then(|p| {
        let ino = std::fs::metadata(&current).ok()?.ino();
        (ino == p.ino).then_some(p.offset)
    });
    let mut more = c.backward(source, &current, end, modified(&current))?;
    if more {
        for seg in files::segments(&source.dir, &source.service, source.family)?
            .iter()
            .rev()
        {
            if query.since.is_some_and(|s| seg.rotated_at < s) {
                break; // every line in it, and in older ones, is older
            }
            more = if seg.compression == Compression::None {
                c.backward(source, &seg.path, None, seg.rotated_at)?
            } else {
                c.forward(source, &seg.path, seg.compression, seg.rotated_at)?
            };
            if !more {
                break;
            }
        }
    }
    c.out.reverse();
    Ok(c.out)
}

/// Several sources merged in time order; `last` applies to the merge.
pub fn read(sources: &[(Source, Option<Position>)], query: &Query) -> std::io::Result<Vec<Entry>> {
    let mut all = Vec::new();
    for (source, position) in sources {
        all.extend(read_source(source, query, *position)?);
    }
    all.sort_by_key(|e| e.order); // stable: one source's order is kept
    if let Some(n) = query.last {
        let skip = all.len().saturating_sub(n);
        all.drain(..skip);
    }
    Ok(all)
}

/// Follows one source across rotation (however many rotations happen
/// between two polls) and truncation.
///
/// The follower remembers which rotated segments existed while its file
/// was still the current one (`known`). When the file has been rotated,
/// every segment not in that list was rotated since: the oldest of them is
/// the follower's own file (already read to its end through the open
/// descriptor), the others are read in order, then the new current file.
#[derive(Debug)]
pub struct Follower {
    source: Source,
    file: Option<File>,
    ino: u64,
    offset: u64,
    partial: Vec<u8>,
    known: Vec<SystemTime>,
}

/// The current file, opened, and the segments that existed while it was
/// current: listed after opening and confirmed by its inode afterwards.
fn open_confirmed(source: &Source) -> std::io::Result<Option<(File, u64, Vec<files::Segment>)>> {
    for _ in 0..10 {
        let file = match File::open(source.current()) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        let listing = files::segments(&source.dir, &source.service, source.family)?;
        if std::fs::metadata(source.current()).is_ok_and(|m| m.ino() == meta.ino()) {
            return Ok(Some((file, meta.ino(), listing)));
        }
    }
    Ok(None) // rotating faster than we can look: try again next poll
}

impl Follower {
    /// Starts at the current end of the source's file.
    pub fn at_end(source: Source) -> Self {
        let mut f = Self {
            source,
            file: None,
            ino: 0,
            offset: 0,
            partial: Vec::new(),
            known: Vec::new(),
        };
        match open_confirmed(&f.source) {
            Ok(Some((file, ino, listing))) => {
                f.offset = file.metadata().map_or(0, |m| m.len());
                f.file = Some(file);
                f.ino = ino;
                f.known = listing.iter().map(|s| s.rotated_at).collect();
            }
            _ => {
                f.known = files::segments(&f.source.dir, &f.source.service, f.source.family)
                    .unwrap_or_default()
                    .iter()
                    .map(|s| s.rotated_at)
                    .collect();
            }
        }
        f
    }

    /// Where it started (for [`read`]); `None` when there was no file yet.
    pub fn position(&self) -> Option<Position> {
        self.file.as_ref().map(|_| Position {
            ino: self.ino,
            offset: self.offset,
        })
    }

    /// The complete new lines since the last call that the query keeps.
    pub fn poll(&mut self, query: &Query) -> std::io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        for _ in 0..100 {
            if self.file.is_none() {
                // No file when following began: whatever appears is new.
                let Some((file, ino, listing)) = open_confirmed(&self.source)? else {
                    break;
                };
                self.switch_to(file, ino, &listing);
            }
            self.drain(query, &mut out)?;
            let listing =
                files::segments(&self.source.dir, &self.source.service, self.source.family)?;
            match std::fs::metadata(self.source.current()) {
                Ok(m) if m.ino() == self.ino => {
                    self.known = listing.iter().map(|s| s.rotated_at).collect();
                    break;
                }
                Err(_) => break, // removed: wait for it to come back
                Ok(_) => {}
            }
            // Rotated: the writer finished with the old file before the
            // rename, so reading it to its end now gets its last lines.
            self.drain(query, &mut out)?;
            let Some((file, ino, listing)) = open_confirmed(&self.source)? else {
                break;
            };
            let mut since_ours: Vec<&files::Segment> = listing
                .iter()
                .filter(|s| !self.known.contains(&s.rotated_at))
                .collect();
            since_ours.sort_by_key(|s| s.rotated_at);
            for seg in since_ours.iter().skip(1) {
                self.read_whole(seg, query, &mut out)?;
            }
            self.switch_to(file, ino, &listing);
        }
        Ok(out)
    }

    fn switch_to(&mut self, file: File, ino: u64, listing: &[files::Segment]) {
        self.file = Some(file);
        self.ino = ino;
        self.offset = 0;
        self.partial.clear();
        self.known = listing.iter().map(|s| s.rotated_at).collect();
    }

    /// A segment rotated between two polls, all of it.
    fn read_whole(
        &self,
        seg: &files::Segment,
        query: &Query,
        out: &mut Vec<Entry>,
    ) -> std::io::Result<()> {
        let unlimited = Query {
            last: None,
            ..query.clone()
        };
        let mut c = Collector {
            query: &unlimited,
            out: Vec::new(),
        };
        // Compression may replace an uncompressed segment while we look.
        let mut candidates = vec![(seg.path.clone(), seg.compression)];
        if seg.compression == Compression::None {
            for z in [Compression::Gzip, Compression::Zstd] {
                candidates.push((files::compressed_path(&seg.path, z), z));
            }
        }
        for (path, compression) in candidates {
            match crate::compress::open(&path, compression) {
                Ok(reader) => {
                    c.forward_from(&self.source, reader, seg.rotated_at)?;
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        out.extend(c.out.into_iter().rev());
        Ok(())
    }

    fn drain(&mut self, query: &Query, out: &mut Vec<Entry>) -> std::io::Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let len = file.metadata()?.len();
        if len < self.offset {
            self.offset = 0; // truncated in place
            self.partial.clear();
        }
        if len == self.offset {
            return Ok(());
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut new = Vec::new();
        file.take(len - self.offset).read_to_end(&mut new)?;
        self.offset += new.len() as u64;
        self.partial.extend_from_slice(&new);
        let complete = self
            .partial
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        let now = SystemTime::now();
        for line in self.partial[..complete]
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
        {
            if let Some(e) = self.source.entry(line, now)
                && query.keeps(&e)
            {
                out.push(e);
            }
        }
        self.partial.drain(..complete);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn source(dir: &Path, service: &str) -> Source {
        Source {
            service: service.to_string(),
            dir: dir.to_path_buf(),
            family: Family::Main,
            format: LogFormat::Timestamped,
        }
    }

    fn encode_lines(start: SystemTime, lines: &[(u64, Stream, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (secs, stream, text) in lines {
            record::encode(
                &mut out,
                start + Duration::from_secs(*secs),
                *stream,
                text.as_bytes(),
            );
        }
        out
    }

    fn write_log(path: &Path, start: SystemTime, lines: &[(u64, Stream, &str)]) {
        std::fs::write(path, encode_lines(start, lines)).unwrap();
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
        write_log(
            &dir.path().join("api.log"),
            t,
            &[
                (0, Stream::Stdout, "a0"),
                (2, Stream::Stderr, "Traceback a2"),
                (4, Stream::Stdout, "a4"),
            ],
        );
        write_log(
            &dir.path().join("worker.log"),
            t,
            &[(1, Stream::Stdout, "w1"), (3, Stream::Stderr, "ERROR w3")],
        );
        let sources = vec![
            (source(dir.path(), "api"), None),
            (source(dir.path(), "worker"), None),
        ];
        let q = |f: fn(&mut Query)| {
            let mut q = Query::default();
            f(&mut q);
            texts(&read(&sources, &q).unwrap())
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
        let t = SystemTime::now();
        let lines: Vec<(u64, Stream, String)> = (0..20_000)
            .map(|i| (i, Stream::Stdout, format!("line {i}")))
            .collect();
        let borrowed: Vec<(u64, Stream, &str)> =
            lines.iter().map(|(a, b, c)| (*a, *b, c.as_str())).collect();
        write_log(&dir.path().join("x.log"), t, &borrowed);
        let src = source(dir.path(), "x");
        let q = Query {
            last: Some(3),
            ..Query::default()
        };
        let got = read_source(&src, &q, None).unwrap();
        assert_eq!(
            texts(&got),
            ["x:line 19997", "x:line 19998", "x:line 19999"]
        );
        let all = read_source(&src, &Query::default(), None).unwrap();
        assert_eq!(all.len(), 20_000);
        assert_eq!(all[0].text, b"line 0");
    }

    #[test]
    fn reads_across_rotated_and_compressed_segments() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let t = humantime::parse_rfc3339("2026-11-22T10:00:00Z").unwrap();
        let seg =
            |secs: u64| files::rotated_path(d, "api", Family::Main, t + Duration::from_secs(secs));
        let oldest = encode_lines(
            t,
            &[
                (0, Stream::Stdout, "one"),
                (1, Stream::Stderr, "Traceback 1"),
            ],
        );
        crate::compress::write_compressed(
            &files::compressed_path(&seg(2), Compression::Gzip),
            &oldest,
            Compression::Gzip,
        )
        .unwrap();
        let middle = encode_lines(
            t,
            &[(3, Stream::Stdout, "three"), (4, Stream::Stdout, "four")],
        );
        crate::compress::write_compressed(
            &files::compressed_path(&seg(5), Compression::Zstd),
            &middle,
            Compression::Zstd,
        )
        .unwrap();
        std::fs::write(
            seg(7),
            encode_lines(t, &[(6, Stream::Stderr, "Traceback 6")]),
        )
        .unwrap();
        write_log(&d.join("api.log"), t, &[(8, Stream::Stdout, "eight")]);
        let src = source(d, "api");
        let all = |q: Query| texts(&read_source(&src, &q, None).unwrap());
        assert_eq!(
            all(Query::default()),
            [
                "api:one",
                "api:Traceback 1",
                "api:three",
                "api:four",
                "api:Traceback 6",
                "api:eight"
            ]
        );
        assert_eq!(
            all(Query {
                last: Some(4),
                ..Query::default()
            }),
            ["api:three", "api:four", "api:Traceback 6", "api:eight"]
        );
        assert_eq!(
            all(Query {
                grep: Some(Regex::new("Traceback").unwrap()),
                ..Query::default()
            }),
            ["api:Traceback 1", "api:Traceback 6"]
        );
        assert_eq!(
            all(Query {
                since: Some(t + Duration::from_secs(4)),
                ..Query::default()
            }),
            ["api:four", "api:Traceback 6", "api:eight"]
        );
    }

    #[test]
    fn raw_lines_are_read_without_times() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("api.log"), "plain one\nplain two\n").unwrap();
        let src = Source {
            format: LogFormat::Raw,
            ..source(dir.path(), "api")
        };
        let got = read_source(&src, &Query::default(), None).unwrap();
        assert_eq!(texts(&got), ["api:plain one", "api:plain two"]);
        assert_eq!(got[0].at, None);
        let timed = source(dir.path(), "api");
        assert!(
            read_source(&timed, &Query::default(), None)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn follow_survives_rotation_and_truncation_without_loss() {
        let dir = tempfile::tempdir().unwrap();
        let src = source(dir.path(), "api");
        let path = src.current();
        let t = SystemTime::now();
        write_log(&path, t, &[(0, Stream::Stdout, "old")]);
        let mut f = Follower::at_end(src.clone());
        let start = f.position().unwrap();
        assert!(f.poll(&Query::default()).unwrap().is_empty());
        // A line written after the follower started is not in the initial read.
        let append = |text: &str| {
            let mut more = std::fs::read(&path).unwrap_or_default();
            record::encode(&mut more, t, Stream::Stdout, text.as_bytes());
            std::fs::write(&path, &more).unwrap();
        };
        append("new");
        assert_eq!(
            texts(&read_source(&src, &Query::default(), Some(start)).unwrap()),
            ["api:old"]
        );
        let mut more = std::fs::read(&path).unwrap();
        more.extend_from_slice(b"2026-11-22T10:00:00.000Z stdout half");
        std::fs::write(&path, &more).unwrap();
        assert_eq!(texts(&f.poll(&Query::default()).unwrap()), ["api:new"]);
        // Rotation: a last line lands in the old file just before the rename.
        let mut tail = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut tail, b" done\n").unwrap();
        std::fs::rename(
            &path,
            files::rotated_path(dir.path(), "api", Family::Main, t),
        )
        .unwrap();
        append("after rotation");
        assert_eq!(
            texts(&f.poll(&Query::default()).unwrap()),
            ["api:half done", "api:after rotation"]
        );
        // Several rotations between two polls, one segment compressed already.
        append("r1");
        std::fs::rename(
            &path,
            files::rotated_path(dir.path(), "api", Family::Main, t + Duration::from_secs(1)),
        )
        .unwrap();
        append("r2");
        let second =
            files::rotated_path(dir.path(), "api", Family::Main, t + Duration::from_secs(2));
        std::fs::rename(&path, &second).unwrap();
        crate::compress::compress(&second, Compression::Gzip).unwrap();
        append("r3");
        std::fs::rename(
            &path,
            files::rotated_path(dir.path(), "api", Family::Main, t + Duration::from_secs(3)),
        )
        .unwrap();
        append("r4");
        assert_eq!(
            texts(&f.poll(&Query::default()).unwrap()),
            ["api:r1", "api:r2", "api:r3", "api:r4"]
        );
        // Truncation in place (copytruncate), seen as a file shorter than before.
        std::fs::write(&path, b"").unwrap();
        assert!(f.poll(&Query::default()).unwrap().is_empty());
        append("cut");
        assert_eq!(texts(&f.poll(&Query::default()).unwrap()), ["api:cut"]);
    }
}
