//! The capture thread: reads every service's stdout and stderr.
//!
//! One thread waits on all pipes with epoll, reads what is there, frames
//! it ([`crate::output`]) and hands batches to the log writer thread. It is
//! not the runtime thread, so a service flooding its output never delays
//! supervision (a restart, a probe, an API answer), and it is not the
//! writer thread, so a slow disk never stops the reading.
//!
//! A program writing through a small buffer (Python's 8 KiB) hands over a
//! few kilobytes at a time; taking each piece at once would cost a wake-up
//! and a hand-off per piece, as much CPU as the program spends producing
//! it. So when pieces come back to back, the thread sleeps before looking
//! again (at most [`GATHER`], less for a stream fast enough to fill half
//! its pipe sooner): the pipes (enlarged to [`PIPE_SIZE`]) hold the output
//! meanwhile, without blocking the child, and the next read takes it all
//! at once. A quiet service's line is read the moment it is written.
//!
//! A round's reads go into one buffer; with `format = "raw"` that buffer
//! is the batch the writer writes, so raw bytes are copied once, by the
//! kernel, on their way in. Buffers go round between this thread and the
//! writer ([`backstop_logs::FileSender::buffer`]) instead of being
//! allocated per read.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};

use crate::output::{Capture, Delivery, MAX_LINE, Terminal};

/// Bytes read from a pipe at once.
const READ_CHUNK: usize = 64 * 1024;

/// At most this much is read from one pipe before the others get a turn.
const ROUND_LIMIT: usize = 4 * READ_CHUNK;

/// Pipe capacity asked for. Pages are used only while data waits, so an
/// idle pipe costs nothing.
const PIPE_SIZE: libc::c_int = 256 * 1024;

/// How long output of a busy stream is left to gather between two reads,
/// at most: less when the stream is fast enough to fill half its pipe
/// sooner (a child must not block on a full pipe while we sleep).
pub const GATHER: Duration = Duration::from_millis(2);

/// A shorter pause than this is not worth a sleep.
const MIN_PAUSE: Duration = Duration::from_micros(50);

/// A pipe's size when the kernel does not say (Linux's default).
const DEFAULT_PIPE_SIZE: usize = 64 * 1024;

/// The handle the supervisor holds.
pub struct CaptureThread {
    tx: mpsc::Sender<(Capture, OwnedFd)>,
    wake: Arc<EventFd>,
    open: Arc<AtomicUsize>,
}

impl CaptureThread {
    /// Starts the thread; `terminal` receives the echo in the foreground.
    pub fn start(terminal: Arc<Terminal>) -> std::io::Result<Self> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        let wake = Arc::new(EventFd::from_value_and_flags(
            0,
            EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK,
        )?);
        epoll.add(wake.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, 0))?;
        let (tx, rx) = mpsc::channel();
        let open = Arc::new(AtomicUsize::new(0));
        let mut state = Loop {
            epoll,
            wake: wake.clone(),
            rx,
            terminal,
            streams: Vec::new(),
            open: open.clone(),
        };
        std::thread::Builder::new()
            .name("capture".into())
            .stack_size(256 * 1024)
            .spawn(move || state.run())?;
        Ok(Self { tx, wake, open })
    }

    /// Reads `fd` (a pipe from a child) until its end.
    pub fn add(&self, capture: Capture, fd: OwnedFd) {
        // SAFETY: fcntl on a descriptor we own; a failure leaves the
        // default size, or a blocking descriptor that epoll still serves.
        unsafe {
            libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE);
            let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
        self.open.fetch_add(1, Ordering::AcqRel);
        if self.tx.send((capture, fd)).is_err() {
            self.open.fetch_sub(1, Ordering::AcqRel);
            tracing::error!("the capture thread is gone; this service's output is lost");
            return;
        }
        let _ = self.wake.write(1);
    }

    /// Waits (polling, at exit only) until every pipe has ended, or `timeout`.
    pub async fn drained(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.open.load(Ordering::Acquire) > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }
}

/// One pipe being read.
struct Piped {
    fd: OwnedFd,
    delivery: Delivery,
    /// Bytes read but not yet delivered: the start of a line.
    pending: Vec<u8>,
    last_read: Option<Instant>,
    /// What the pipe holds when full.
    capacity: usize,
}

enum Round {
    /// Read something; `pause` when it came in small pieces back to back:
    /// how long the pipe can be left to gather more.
    Data { pause: Option<Duration> },
    /// Nothing there.
    Empty,
    /// End of file: the child (and every process holding the pipe) closed it.
    End,
}

impl Piped {
    fn read_round(&mut self) -> Round {
        let mut total = 0;
        let end = loop {
            if self.pending.capacity() - self.pending.len() < READ_CHUNK {
                if self.pending.is_empty() {
                    self.pending = self.delivery.capture.to.buffer();
                }
                self.pending.reserve(ROUND_LIMIT.max(READ_CHUNK));
            }
            let spare = self.pending.spare_capacity_mut();
            // SAFETY: reading into the vector's spare capacity, whose
            // length we pass; only the bytes read are then marked as set.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    spare.as_mut_ptr().cast(),
                    spare.len().min(ROUND_LIMIT - total),
                )
            };
            match n {
                0 => break true,
                n if n > 0 => {
                    // SAFETY: the kernel initialised `n` bytes past the length.
                    unsafe { self.pending.set_len(self.pending.len() + n as usize) };
                    total += n as usize;
                    if total >= ROUND_LIMIT {
                        break false;
                    }
                }
                _ => {
                    let err = std::io::Error::last_os_error();
                    match err.kind() {
                        std::io::ErrorKind::Interrupted => {}
                        std::io::ErrorKind::WouldBlock => break false,
                        _ => break true,
                    }
                }
            }
        };
        self.deliver_complete();
        if end {
            if !self.pending.is_empty() {
                self.pending.push(b'\n');
                let rest = std::mem::take(&mut self.pending);
                self.delivery.deliver(&rest);
            }
            return Round::End;
        }
        if self.pending.is_empty() {
            // An idle stream holds no buffer.
            let buffer = std::mem::take(&mut self.pending);
            self.delivery.capture.to.recycle(buffer);
        }
        if total == 0 {
            return Round::Empty;
        }
        let now = Instant::now();
        let pause = match self.last_read {
            Some(last) if total < READ_CHUNK && now - last < 4 * GATHER => {
                Some(self.gathering_time(total, now - last))
            }
            _ => None,
        };
        self.last_read = Some(now);
        Round::Data { pause }
    }

    /// How long the pipe may gather output, at the pace `total` bytes in
    /// `since` showed, before it is half full: never so long that the
    /// child blocks on a full pipe, at most [`GATHER`].
    fn gathering_time(&self, total: usize, since: Duration) -> Duration {
        let half = (self.capacity / 2) as f64;
        let fill = since.as_secs_f64() * half / total.max(1) as f64;
        GATHER.min(Duration::from_secs_f64(fill))
    }

    /// Delivers the whole lines read so far; a line still without its end
    /// is cut at [`MAX_LINE`] (raw: sent as it is), the rest follows.
    fn deliver_complete(&mut self) {
        let complete = memchr::memrchr(b'\n', &self.pending).map_or(0, |p| p + 1);
        if complete > 0 {
            if self.delivery.timestamped() {
                self.delivery.deliver(&self.pending[..complete]);
                self.pending.drain(..complete);
            } else {
                // Raw: the buffer read into is the batch; only the start of
                // a line after the last newline moves to a new one.
                let mut rest = Vec::new();
                if complete < self.pending.len() {
                    rest = self.delivery.capture.to.buffer();
                    rest.extend_from_slice(&self.pending[complete..]);
                }
                let mut batch = std::mem::replace(&mut self.pending, rest);
                batch.truncate(complete);
                let framed = backstop_logs::record::Framed::raw(&batch);
                self.delivery.observe(&batch, framed.lines);
                self.delivery.capture.to.send(batch, framed.records);
            }
        }
        if self.pending.len() >= MAX_LINE && !self.delivery.timestamped() {
            // Raw: the long line's bytes go as they are, the rest follows.
            let piece = std::mem::take(&mut self.pending);
            let capture = &self.delivery.capture;
            capture.stats.add_output(0, piece.len() as u64);
            capture.to.send(piece, 0);
        }
        while self.pending.len() >= MAX_LINE {
            let mut piece: Vec<u8> = self.pending.drain(..MAX_LINE).collect();
            piece.push(b'\n');
            self.delivery.deliver(&piece);
        }
    }
}

struct Loop {
    epoll: Epoll,
    wake: Arc<EventFd>,
    rx: mpsc::Receiver<(Capture, OwnedFd)>,
    terminal: Arc<Terminal>,
    /// Indexed by epoll token − 1.
    streams: Vec<Option<Piped>>,
    open: Arc<AtomicUsize>,
}

impl Loop {
    fn run(&mut self) {
        let mut events = vec![EpollEvent::empty(); 64];
        loop {
            let n = match self.epoll.wait(&mut events, EpollTimeout::NONE) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    tracing::error!("the capture thread stopped: epoll_wait: {e}");
                    return;
                }
            };
            let mut pause: Option<Duration> = None;
            for event in &events[..n] {
                let token = event.data() as usize;
                if token == 0 {
                    let _ = self.wake.read();
                    if !self.accept() {
                        return;
                    }
                    continue;
                }
                let Some(Some(piped)) = self.streams.get_mut(token - 1) else {
                    continue;
                };
                match piped.read_round() {
                    Round::Data { pause: Some(p) } => {
                        pause = Some(pause.map_or(p, |q| q.min(p)));
                    }
                    Round::Data { pause: None } | Round::Empty => {}
                    Round::End => {
                        if let Some(tail) = &piped.delivery.capture.tail {
                            tail.closed();
                        }
                        let _ = self.epoll.delete(piped.fd.as_fd());
                        self.streams[token - 1] = None;
                        self.open.fetch_sub(1, Ordering::AcqRel);
                    }
                }
            }
            if let Some(pause) = pause.filter(|p| *p >= MIN_PAUSE) {
                std::thread::sleep(pause);
            }
        }
    }

    /// Takes new pipes; false once the supervisor is gone and nothing is left.
    fn accept(&mut self) -> bool {
        loop {
            match self.rx.try_recv() {
                Ok((capture, fd)) => {
                    let slot = self
                        .streams
                        .iter()
                        .position(Option::is_none)
                        .unwrap_or_else(|| {
                            self.streams.push(None);
                            self.streams.len() - 1
                        });
                    let event = EpollEvent::new(EpollFlags::EPOLLIN, (slot + 1) as u64);
                    if let Err(e) = self.epoll.add(fd.as_fd(), event) {
                        tracing::error!("cannot watch the output of {}: {e}", capture.service);
                        self.open.fetch_sub(1, Ordering::AcqRel);
                        continue;
                    }
                    // SAFETY: fcntl on a descriptor we own.
                    let capacity = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETPIPE_SZ) };
                    self.streams[slot] = Some(Piped {
                        fd,
                        delivery: Delivery::new(capture, self.terminal.clone()),
                        pending: Vec::new(),
                        last_read: None,
                        capacity: usize::try_from(capacity).unwrap_or(DEFAULT_PIPE_SIZE),
                    });
                }
                Err(mpsc::TryRecvError::Empty) => return true,
                Err(mpsc::TryRecvError::Disconnected) => {
                    return self.streams.iter().any(Option::is_some);
                }
            }
        }
    }
}

impl Drop for CaptureThread {
    fn drop(&mut self) {
        // Let the thread notice that no more pipes will come.
        let _ = self.wake.write(1);
    }
}
