//! What happens to a service's output once read: framing into records,
//! error signals, counting, and the echo to the terminal.
//!
//! Whole lines are framed as records (one timestamp per read, not per
//! line) or, with `format = "raw"`, left as they are; scanned for error
//! signals, and handed as one batch to the log writer thread, which owns
//! the files. Lines longer than [`MAX_LINE`] are split into records, never
//! dropped; invalid UTF-8 is kept byte for byte. The reading itself is
//! [`crate::capture`]'s.

use std::io::Write;
use std::sync::Arc;
use std::time::SystemTime;

use backstop_config::LogFormat;
use backstop_logs::record::Framed;
use backstop_logs::{ErrorDetector, ErrorPatterns, FileSender, LogStats};

pub use backstop_logs::Stream;

/// Longest line kept in one piece; longer lines are split at this bound.
pub use backstop_logs::record::MAX_LINE;

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
    /// For a job's run: its last lines, and when its pipes end.
    pub tail: Option<Arc<OutputTail>>,
}

/// How many last lines of a job's run are kept for its event.
pub const TAIL_LINES: usize = 5;

/// The last lines of a job run's output, and whether its pipes have all
/// ended (then its event can quote them: nothing is still in flight).
#[derive(Debug, Default)]
pub struct OutputTail {
    lines: std::sync::Mutex<std::collections::VecDeque<String>>,
    open: std::sync::atomic::AtomicUsize,
    ended: tokio::sync::Notify,
}

impl OutputTail {
    /// A new run: no lines, `pipes` pipes to read.
    pub fn begin(&self, pipes: usize) {
        self.lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        self.open.store(pipes, std::sync::atomic::Ordering::Release);
    }

    fn push(&self, region: &[u8]) {
        let mut lines = self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let last: Vec<&[u8]> = region
            .split(|&b| b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .rev()
            .take(TAIL_LINES)
            .collect();
        for line in last.into_iter().rev() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let text = String::from_utf8_lossy(&line[..line.len().min(300)]).into_owned();
            if lines.len() == TAIL_LINES {
                lines.pop_front();
            }
            lines.push_back(text);
        }
    }

    /// One pipe ended.
    pub(crate) fn closed(&self) {
        if self.open.fetch_sub(1, std::sync::atomic::Ordering::AcqRel) <= 1 {
            self.ended.notify_waiters();
        }
    }

    /// Waits until every pipe of the run has ended (at most `limit`: a
    /// process it left behind may hold them), then the last lines.
    pub async fn finished(&self, limit: std::time::Duration) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if self.open.load(std::sync::atomic::Ordering::Acquire) == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, ended).await.is_err() {
                break;
            }
        }
        self.lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

/// Turns one stream's bytes into records, counting and echoing them.
pub(crate) struct Delivery {
    pub(crate) capture: Capture,
    terminal: Arc<Terminal>,
    detector: ErrorDetector,
}

impl Delivery {
    pub(crate) fn new(capture: Capture, terminal: Arc<Terminal>) -> Self {
        Self {
            capture,
            terminal,
            detector: ErrorDetector::default(),
        }
    }

    /// Whether records carry a time and stream (else the bytes go as they are).
    pub(crate) fn timestamped(&self) -> bool {
        self.capture.format == LogFormat::Timestamped
    }

    /// Counts, scans for errors and echoes `region` (whole lines, each
    /// ending in `\n`, `lines` of them) as it arrived now. Framing is the
    /// caller's: a raw region goes to the writer as it is, without a copy.
    pub(crate) fn observe(&mut self, region: &[u8], lines: u64) {
        let c = &self.capture;
        let now = SystemTime::now();
        c.stats.add_output(lines, region.len() as u64);
        if let Some(tail) = &c.tail {
            tail.push(region);
        }
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
    }

    /// Frames `region` (whole lines) into a batch for the writer, observes
    /// it, and sends it: a full queue means the disk is behind, and the
    /// sender waits a little, or counts what it drops for the marker.
    pub(crate) fn deliver(&mut self, region: &[u8]) {
        let to = &self.capture.to;
        let mut batch = to.buffer();
        let framed = if self.timestamped() {
            backstop_logs::record::frame_into(
                &mut batch,
                region,
                SystemTime::now(),
                self.capture.stream,
            )
        } else {
            batch.extend_from_slice(region);
            Framed::raw(region)
        };
        self.observe(region, framed.lines);
        self.capture.to.send(batch, framed.records);
    }

    /// Queues the lines for the terminal thread: never blocks, drops (and
    /// counts) when the terminal does not read ([`crate::terminal`]).
    fn echo(&self, region: &[u8], color: bool) {
        let c = &self.capture;
        let w = self.terminal.name_width;
        let mut out = Vec::with_capacity(region.len() + 64);
        let mut lines = 0;
        for line in region.split_inclusive(|&b| b == b'\n') {
            let line = &line[..line.len() - 1];
            let text = String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line));
            let _ = if color {
                let code = COLORS[c.color % COLORS.len()];
                writeln!(out, "\x1b[{code}m{:<w$} |\x1b[0m {text}", c.service)
            } else {
                writeln!(out, "{:<w$} | {text}", c.service)
            };
            lines += 1;
        }
        crate::terminal::TerminalWriter::global().stdout(out, lines);
    }
}
