//! Capturing a service's stdout and stderr.
//!
//! Each stream is read by its own task on the runtime, straight into one
//! buffer, as fast as the child writes. Whole lines are framed as records
//! (one timestamp per read, not per line), scanned for error signals, and
//! handed as one batch to the log writer thread, which owns the files: the
//! disk never stalls this task, so it never stalls the child. Lines longer
//! than [`MAX_LINE`] are split, never dropped; invalid UTF-8 is kept byte
//! for byte; a last line without a newline is kept at end of file.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::SystemTime;

use backstop_config::LogFormat;
use backstop_logs::{ErrorDetector, ErrorPatterns, FileSender, LogStats};

pub use backstop_logs::Stream;

/// Longest line kept in one piece; longer lines are split at this bound.
pub const MAX_LINE: usize = 64 * 1024;

/// Bytes read from a pipe at once: the default pipe capacity, so one read
/// usually empties the pipe.
const READ_CHUNK: usize = 64 * 1024;

/// Where output is shown besides the log files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Echo {
    /// Only the log files (a detached daemon).
    None,
    /// Also the terminal, `name | line`, in colour when `color` is set.
    Terminal {
        /// Colour the prefixes.
        color: bool,
    },
}

/// The terminal side of output: shared by every capture task.
#[derive(Debug)]
pub struct Terminal {
    echo: Echo,
    name_width: usize,
}

const COLORS: &[&str] = &["36", "33", "32", "35", "34", "31", "96", "93", "92", "95"];

impl Terminal {
    /// `names` sizes the `name |` prefix.
    pub fn new(echo: Echo, names: &[&str]) -> Self {
        let name_width = names.iter().map(|n| n.len()).max().unwrap_or(0);
        Self { echo, name_width }
    }
}

/// Everything one capture task needs.
pub struct Capture {
    /// The service.
    pub service: String,
    /// Its colour on the terminal.
    pub color: usize,
    /// Which stream this is.
    pub stream: Stream,
    /// The log file it goes to.
    pub to: FileSender,
    /// Timestamped records or raw bytes.
    pub format: LogFormat,
    /// What an error line looks like.
    pub patterns: Arc<ErrorPatterns>,
    /// Where lines and errors are counted.
    pub stats: Arc<LogStats>,
}

/// Reads `fd` until end of file, delivering each line where it belongs.
pub async fn pump(terminal: Arc<Terminal>, capture: Capture, fd: OwnedFd) {
    let Ok(pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd) else {
        return;
    };
    let mut state = Delivery {
        capture,
        terminal,
        detector: ErrorDetector::default(),
    };
    // The buffer exists only while data flows: an idle service's streams
    // cost no heap (ten services would otherwise hold over a megabyte).
    let mut pending: Vec<u8> = Vec::new();
    loop {
        if pipe.readable().await.is_err() {
            break;
        }
        pending.reserve(READ_CHUNK);
        match pipe.try_read_buf(&mut pending) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if pending.is_empty() {
                    pending = Vec::new();
                }
                continue;
            }
            Err(_) => break,
        }
        let complete = memchr::memrchr(b'\n', &pending).map_or(0, |p| p + 1);
        if complete > 0 {
            state.deliver(&pending[..complete]);
            pending.drain(..complete);
        }
        // A line still without its end is cut at the bound; the rest follows.
        while pending.len() >= MAX_LINE {
            let mut piece = pending[..MAX_LINE].to_vec();
            piece.push(b'\n');
            state.deliver(&piece);
            pending.drain(..MAX_LINE);
        }
    }
    if !pending.is_empty() {
        pending.push(b'\n');
        state.deliver(&pending);
    }
}

struct Delivery {
    capture: Capture,
    terminal: Arc<Terminal>,
    detector: ErrorDetector,
}

impl Delivery {
    /// Frames, scans, counts and sends `region`: whole lines, each ending in `\n`.
    fn deliver(&mut self, region: &[u8]) {
        let c = &self.capture;
        let now = SystemTime::now();
        let lines = memchr::memchr_iter(b'\n', region).count();
        let mut prefix = Vec::with_capacity(40);
        if c.format == LogFormat::Timestamped {
            let _ = write!(
                prefix,
                "{} {} ",
                humantime::format_rfc3339_millis(now),
                c.stream.as_str()
            );
        }
        let mut batch = Vec::with_capacity(region.len() + lines * prefix.len());
        let mut records = 0u64;
        for line in region.split_inclusive(|&b| b == b'\n') {
            let line = &line[..line.len() - 1];
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
        c.stats.add_output(lines as u64, region.len() as u64);
        let stats = &c.stats;
        self.detector.scan(
            &c.patterns,
            region,
            tokio::time::Instant::now().into_std(),
            |line| {
                stats.add_error(now, line);
            },
        );
        if let Echo::Terminal { color } = self.terminal.echo {
            self.echo(region, color);
        }
        // A full queue means the disk is behind: the sender counts what it
        // drops, and the writer marks it in the file once it catches up.
        let _ = c.to.send(batch, records);
    }

    fn echo(&self, region: &[u8], color: bool) {
        let c = &self.capture;
        let w = self.terminal.name_width;
        let mut out = std::io::stdout().lock();
        for line in region.split_inclusive(|&b| b == b'\n') {
            let line = &line[..line.len() - 1];
            let text = String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line));
            let _ = if color {
                let code = COLORS[c.color % COLORS.len()];
                writeln!(out, "\x1b[{code}m{:<w$} |\x1b[0m {text}", c.service)
            } else {
                writeln!(out, "{:<w$} | {text}", c.service)
            };
        }
    }
}
