//! The daemon's terminal: what `backstop up` shows, written by a thread of
//! its own so that a terminal that does not read never stalls supervision.
//!
//! A terminal can stop reading at any time: `backstop up | less` waiting at
//! a page break, Ctrl-S, an SSH connection that hangs. A write to it then
//! blocks, and a thread that blocks there must be neither the runtime
//! (reaping, restarts, the API) nor the capture thread (every service's
//! pipes). So service output, daemon messages and backstop's own
//! diagnostics are queued here, up to [`QUEUE_LIMIT`] bytes, and one
//! `terminal` thread writes them. When the queue is full, pieces are
//! dropped and counted, never waited for; once the terminal reads again
//! the thread says how many lines it did not show (they are all in the log
//! files and the event history).

use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, mpsc};

/// Bytes that may wait for a slow terminal before output is dropped.
pub const QUEUE_LIMIT: usize = 1024 * 1024;

/// Where a piece goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum To {
    Stdout,
    Stderr,
}

struct Piece {
    to: To,
    bytes: Vec<u8>,
    lines: u64,
    /// Told once this piece (and everything before it) is written.
    written: Option<mpsc::Sender<()>>,
}

struct Inner {
    tx: mpsc::Sender<Piece>,
    queued: AtomicUsize,
    /// Lines dropped since the last note about it.
    dropped: AtomicU64,
    /// Lines dropped since the start.
    dropped_total: AtomicU64,
}

/// The handle to the terminal thread; cheap to clone.
#[derive(Clone)]
pub struct TerminalWriter {
    inner: Arc<Inner>,
}

static GLOBAL: OnceLock<TerminalWriter> = OnceLock::new();

impl TerminalWriter {
    /// The daemon's terminal writer, started on first use. Commands that
    /// are not the daemon never call this and write to their terminal
    /// directly (see [`stderr_writer`]).
    pub fn global() -> &'static Self {
        GLOBAL.get_or_init(Self::start)
    }

    fn start() -> Self {
        let (tx, rx) = mpsc::channel::<Piece>();
        let inner = Arc::new(Inner {
            tx,
            queued: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            dropped_total: AtomicU64::new(0),
        });
        let thread_inner = inner.clone();
        let started = std::thread::Builder::new()
            .name("terminal".into())
            .stack_size(64 * 1024)
            .spawn(move || write_loop(&rx, &thread_inner));
        if let Err(e) = started {
            // Nothing will read the queue: it fills once and then drops,
            // which is the safe failure (supervision goes on, unshown).
            let _ = writeln!(
                std::io::stderr(),
                "backstop: cannot start the terminal thread ({e}); output is only in the log files"
            );
        }
        Self { inner }
    }

    /// Queues service output (`lines` whole lines) for standard output.
    /// Returns `false` when the terminal is too far behind and it was dropped.
    pub fn stdout(&self, bytes: Vec<u8>, lines: u64) -> bool {
        self.push(To::Stdout, bytes, lines)
    }

    /// Queues a daemon message (whole lines) for standard error.
    pub fn stderr(&self, bytes: Vec<u8>) -> bool {
        let lines = memchr::memchr_iter(b'\n', &bytes).count().max(1) as u64;
        self.push(To::Stderr, bytes, lines)
    }

    /// Waits until everything queued so far is written, or `timeout` (a
    /// terminal that does not read must not hold up the daemon's exit).
    pub fn drain(&self, timeout: std::time::Duration) -> bool {
        let (tx, rx) = mpsc::channel();
        let marker = Piece {
            to: To::Stderr,
            bytes: Vec::new(),
            lines: 0,
            written: Some(tx),
        };
        self.inner.tx.send(marker).is_ok() && rx.recv_timeout(timeout).is_ok()
    }

    /// Lines not shown since the start because the terminal did not read.
    pub fn dropped_lines(&self) -> u64 {
        self.inner.dropped_total.load(Ordering::Acquire)
    }

    fn push(&self, to: To, bytes: Vec<u8>, lines: u64) -> bool {
        let inner = &self.inner;
        let len = bytes.len();
        if inner.queued.load(Ordering::Acquire) + len > QUEUE_LIMIT {
            inner.dropped.fetch_add(lines, Ordering::AcqRel);
            inner.dropped_total.fetch_add(lines, Ordering::AcqRel);
            return false;
        }
        inner.queued.fetch_add(len, Ordering::AcqRel);
        let piece = Piece {
            to,
            bytes,
            lines,
            written: None,
        };
        if inner.tx.send(piece).is_err() {
            inner.queued.fetch_sub(len, Ordering::AcqRel);
            return false;
        }
        true
    }
}

fn write_loop(rx: &mpsc::Receiver<Piece>, inner: &Inner) {
    while let Ok(piece) = rx.recv() {
        let written = match piece.to {
            To::Stdout => std::io::stdout().lock().write_all(&piece.bytes),
            To::Stderr => std::io::stderr().lock().write_all(&piece.bytes),
        };
        inner.queued.fetch_sub(piece.bytes.len(), Ordering::AcqRel);
        if let Some(done) = piece.written {
            let _ = done.send(());
        }
        if written.is_err() {
            // A closed terminal: what follows cannot be shown either, and
            // everything is in the log files. Count it as dropped.
            inner.dropped_total.fetch_add(piece.lines, Ordering::AcqRel);
            continue;
        }
        let dropped = inner.dropped.swap(0, Ordering::AcqRel);
        if dropped > 0 {
            let _ = writeln!(
                std::io::stderr().lock(),
                "backstop | {dropped} lines were not shown here: the terminal was not reading (they are in the log files and `backstop events`)"
            );
        }
    }
}

/// A `tracing` writer: through the terminal thread once the daemon runs,
/// straight to standard error before (and in every other command).
pub fn stderr_writer() -> QueuedStderr {
    QueuedStderr(Vec::new())
}

/// One diagnostic message on its way to standard error.
pub struct QueuedStderr(Vec<u8>);

impl Write for QueuedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for QueuedStderr {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let bytes = std::mem::take(&mut self.0);
        match GLOBAL.get() {
            Some(terminal) => {
                terminal.stderr(bytes);
            }
            None => {
                let _ = std::io::stderr().lock().write_all(&bytes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_waiting() {
        // A writer whose thread never runs: nothing leaves the queue.
        let (tx, _rx) = mpsc::channel();
        let writer = TerminalWriter {
            inner: Arc::new(Inner {
                tx,
                queued: AtomicUsize::new(0),
                dropped: AtomicU64::new(0),
                dropped_total: AtomicU64::new(0),
            }),
        };
        let line = vec![b'x'; 1023];
        let mut kept = 0;
        for _ in 0..2000 {
            if writer.stdout([line.as_slice(), b"\n"].concat(), 1) {
                kept += 1;
            }
        }
        assert_eq!(kept, QUEUE_LIMIT / 1024);
        assert_eq!(writer.dropped_lines(), 2000 - kept as u64);
    }
}
