//! The log writer: one thread that owns every log file.
//!
//! Services' output is read on the daemon's runtime and handed here as
//! ready-made batches of records, so a slow or full disk never stalls the
//! runtime, and through it never the children: while the disk is slow,
//! batches wait in memory, up to [`QUEUE_LIMIT`] per file; beyond that they
//! are dropped and counted. Whatever is dropped (queue full, or a failed
//! write) is accounted for by a marker line once writing works again, and
//! reported through [`Notice`]s, so nothing is lost silently.
//!
//! Rotation happens here too, between two batches, so it can neither lose
//! nor duplicate a line: by size, by UTC day or hour, then retention
//! (`keep`, `max_age`) and compression on a short-lived helper thread.

use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, SystemTime};

use backstop_config::{Compression, LogSettings, StderrFile};

use crate::files::{self, Family};
use crate::record::{self, Stream};

/// Bytes of records that may wait for the disk, per file, before output is
/// dropped (and counted) instead of growing memory without bound.
pub const QUEUE_LIMIT: usize = 16 * 1024 * 1024;

/// How long a capture task waits for room in a full queue before it drops
/// output rather than hold up the child any longer.
pub const STALL_LIMIT: Duration = Duration::from_millis(250);

/// How often retention by age runs when nothing rotates.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// Batch buffers kept for reuse between the capture and the writer thread,
/// and the largest one kept: a burst circulates a few buffers instead of
/// allocating (and faulting in) a fresh one per read.
const SPARE_BUFFERS: usize = 4;
const SPARE_BUFFER_MAX: usize = 1024 * 1024;

/// Buffers handed back by the writer once written, for the next batches.
#[derive(Default)]
struct Spares(Mutex<Vec<Vec<u8>>>);

impl Spares {
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
            .unwrap_or_default()
    }

    fn put(&self, mut buffer: Vec<u8>) {
        if buffer.capacity() == 0 || buffer.capacity() > SPARE_BUFFER_MAX {
            return;
        }
        buffer.clear();
        let mut spare = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if spare.len() < SPARE_BUFFERS {
            spare.push(buffer);
        }
    }
}

/// Something an operator should hear about (the daemon turns these into events).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// Output of `service` is being dropped, from now on until writing works.
    Dropping {
        /// The service.
        service: String,
        /// Why.
        reason: String,
    },
    /// Dropped output was accounted for by a marker line in the log.
    Dropped {
        /// The service.
        service: String,
        /// Lines lost.
        lines: u64,
        /// Bytes lost.
        bytes: u64,
        /// Why.
        reason: String,
    },
    /// The writer itself failed between two batches (a bug) and went on;
    /// no output was lost.
    Failed {
        /// What happened.
        message: String,
    },
    /// Rotation, compression or retention failed; no output was lost.
    Maintenance {
        /// The service.
        service: String,
        /// What failed.
        message: String,
    },
}

/// Receives notices, on the writer's thread.
pub type Notify = Arc<dyn Fn(Notice) + Send + Sync>;

#[derive(Debug, PartialEq, Eq, Hash)]
struct Key {
    service: String,
    family: Family,
}

enum Msg {
    Configure {
        service: String,
        settings: LogSettings,
    },
    Write {
        key: Arc<Key>,
        bytes: Vec<u8>,
        lines: u64,
        shared: Arc<Shared>,
    },
    /// The sender dropped output because the queue was full; the first
    /// message of an incident has `lines == 0` and only announces it.
    QueueDropped {
        key: Arc<Key>,
        lines: u64,
        bytes: u64,
    },
    Sync(mpsc::Sender<()>),
    /// Retention by age, hourly when nothing rotates.
    Retain,
    /// Rotate a service's files now (`backstop fix`'s `rotate-logs`).
    RotateNow {
        service: String,
        above: u64,
        reply: mpsc::Sender<Vec<PathBuf>>,
    },
    Stop,
    /// Makes the handler panic, to test that the writer survives it.
    #[cfg(test)]
    Panic,
}

/// A batch that a failure of the writer lost.
struct Lost {
    service: String,
    lines: u64,
    bytes: usize,
    shared: Arc<Shared>,
}

const QUEUE_REASON: &str = "backstop's log writer fell behind (the disk is too slow)";

/// The handle of the writer thread.
pub struct LogWriter {
    tx: mpsc::Sender<Msg>,
    done: mpsc::Receiver<()>,
    spares: Arc<Spares>,
}

impl LogWriter {
    /// Starts the writer thread for log files under `dir`.
    pub fn start(dir: PathBuf, notify: Notify) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let spares = Arc::new(Spares::default());
        let state = WriterState {
            dir,
            spares: spares.clone(),
            settings: HashMap::new(),
            open: HashMap::new(),
            notify: notify.clone(),
            compressor: Arc::new(Compressor {
                queue: Mutex::new((VecDeque::new(), false)),
                notify,
            }),
        };
        std::thread::Builder::new()
            .name("log-writer".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                state.run(&rx);
                let _ = done_tx.send(());
            })?;
        Ok(Self { tx, done, spares })
    }

    /// Sets (or changes) how `service`'s output is kept. Rotation settings
    /// apply from the next batch on.
    pub fn configure(&self, service: &str, settings: &LogSettings) {
        let _ = self.tx.send(Msg::Configure {
            service: service.to_string(),
            settings: settings.clone(),
        });
    }

    /// A sender for `service`'s output on `stream`, given its settings.
    pub fn sender(&self, service: &str, stream: Stream, settings: &LogSettings) -> FileSender {
        let family = match (stream, settings.stderr) {
            (Stream::Stderr, StderrFile::Separate) => Family::Stderr,
            _ => Family::Main,
        };
        FileSender {
            tx: self.tx.clone(),
            key: Arc::new(Key {
                service: service.to_string(),
                family,
            }),
            shared: Arc::default(),
            spares: self.spares.clone(),
        }
    }

    /// Asks for `service`'s current log files larger than `above` bytes to
    /// be rotated now; `reply` receives what they became (nothing when the
    /// writer is gone).
    pub fn rotate_now(&self, service: &str, above: u64, reply: mpsc::Sender<Vec<PathBuf>>) {
        let _ = self.tx.send(Msg::RotateNow {
            service: service.to_string(),
            above,
            reply,
        });
    }

    /// Waits until everything sent before this call is written (or `timeout`).
    pub fn sync(&self, timeout: Duration) -> bool {
        let (tx, rx) = mpsc::channel();
        self.tx.send(Msg::Sync(tx)).is_ok() && rx.recv_timeout(timeout).is_ok()
    }

    /// Writes what is queued and stops the thread; gives up after `timeout`
    /// (a hung disk must not hang the daemon's exit).
    pub fn close(self, timeout: Duration) -> bool {
        let _ = self.tx.send(Msg::Stop);
        self.done.recv_timeout(timeout).is_ok()
    }
}

/// Hands one file's batches to the writer; cheap to clone (stdout and
/// stderr of a service share one when they share the file).
#[derive(Clone)]
pub struct FileSender {
    tx: mpsc::Sender<Msg>,
    key: Arc<Key>,
    shared: Arc<Shared>,
    spares: Arc<Spares>,
}

/// What a sender and the writer share about one file's queue.
#[derive(Default)]
struct Shared {
    queued: AtomicUsize,
    dropped_lines: AtomicU64,
    dropped_bytes: AtomicU64,
    /// Signalled by the writer each time it has written a batch.
    room: Condvar,
    room_lock: Mutex<()>,
}

impl FileSender {
    /// An empty buffer for a batch: one the writer has finished with when
    /// there is one (its capacity kept), else a new one.
    pub fn buffer(&self) -> Vec<u8> {
        self.spares.take()
    }

    /// Gives back a buffer that was not sent, for a later batch.
    pub fn recycle(&self, buffer: Vec<u8>) {
        self.spares.put(buffer);
    }

    fn full(&self, len: usize) -> bool {
        self.shared.queued.load(Ordering::Acquire) + len > QUEUE_LIMIT
    }

    /// Queues a batch of whole records holding `lines` lines.
    ///
    /// When the queue is full, this waits up to [`STALL_LIMIT`] for the
    /// writer to make room: a writer that is merely short of CPU during a
    /// burst catches up and nothing is lost. A writer that cannot (a stuck
    /// or full disk) gets the batch dropped and counted, and until the
    /// queue has room again later batches are dropped without waiting, so
    /// the child is never held up for long. Returns `false` when dropped.
    pub fn send(&self, bytes: Vec<u8>, lines: u64) -> bool {
        let len = bytes.len();
        let shared = &self.shared;
        if self.full(len) {
            let dropping = shared.dropped_lines.load(Ordering::Acquire) > 0
                || shared.dropped_bytes.load(Ordering::Acquire) > 0;
            let room = !dropping && {
                let deadline = std::time::Instant::now() + STALL_LIMIT;
                let mut guard = shared
                    .room_lock
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                loop {
                    if !self.full(len) {
                        break true;
                    }
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        break false;
                    }
                    guard = shared
                        .room
                        .wait_timeout(guard, left)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0;
                }
            };
            if !room {
                let before = shared.dropped_lines.fetch_add(lines, Ordering::AcqRel);
                shared.dropped_bytes.fetch_add(len as u64, Ordering::AcqRel);
                if before == 0 {
                    let _ = self.tx.send(Msg::QueueDropped {
                        key: self.key.clone(),
                        lines: 0,
                        bytes: 0,
                    });
                }
                return false;
            }
        }
        let lost = shared.dropped_lines.swap(0, Ordering::AcqRel);
        if lost > 0 {
            let bytes = shared.dropped_bytes.swap(0, Ordering::AcqRel);
            let _ = self.tx.send(Msg::QueueDropped {
                key: self.key.clone(),
                lines: lost,
                bytes,
            });
        }
        shared.queued.fetch_add(len, Ordering::AcqRel);
        self.tx
            .send(Msg::Write {
                key: self.key.clone(),
                bytes,
                lines,
                shared: self.shared.clone(),
            })
            .is_ok()
    }
}

/// One open log file and what it owes.
struct OpenLog {
    path: PathBuf,
    file: Option<File>,
    size: u64,
    /// The rotation period (UTC day or hour number) of its first line.
    period: u64,
    last_rotation_ms: u64,
    /// Output lost to failed writes since the last successful one.
    failed_lines: u64,
    failed_bytes: u64,
    failed_reason: String,
    /// A failed write may have left half a record: start the next on a new line.
    torn: bool,
}

struct WriterState {
    dir: PathBuf,
    spares: Arc<Spares>,
    settings: HashMap<String, Arc<LogSettings>>,
    open: HashMap<Arc<Key>, OpenLog>,
    notify: Notify,
    compressor: Arc<Compressor>,
}

fn period_of(at: SystemTime, settings: &LogSettings) -> u64 {
    let secs = files::millis(at) / 1000;
    settings.rotate.map_or(0, |r| secs / r.seconds())
}

impl WriterState {
    fn run(mut self, rx: &mpsc::Receiver<Msg>) {
        loop {
            let msg = match rx.recv_timeout(RETENTION_EVERY) {
                Ok(m) => m,
                Err(mpsc::RecvTimeoutError::Timeout) => Msg::Retain,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            };
            // A bug here must not end the thread: every later line of every
            // service would be lost without a word. The message is
            // accounted for, the open files are forgotten (they reopen on
            // the next write), and the writer goes on.
            let lost = match &msg {
                Msg::Write {
                    key,
                    bytes,
                    lines,
                    shared,
                } => Some(Lost {
                    service: key.service.clone(),
                    lines: *lines,
                    bytes: bytes.len(),
                    shared: shared.clone(),
                }),
                _ => None,
            };
            let handled =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.handle(msg)));
            match handled {
                Ok(true) => {}
                Ok(false) => return,
                Err(panic) => self.recover(&*panic, lost),
            }
        }
    }

    /// Handles one message; `false` to stop.
    fn handle(&mut self, msg: Msg) -> bool {
        match msg {
            Msg::Configure { service, settings } => self.configure(&service, settings),
            Msg::Write {
                key,
                bytes,
                lines,
                shared,
            } => {
                self.write(&key, &bytes, lines);
                shared.queued.fetch_sub(bytes.len(), Ordering::AcqRel);
                self.spares.put(bytes);
                // Under the lock, so that a sender between its check and
                // its wait cannot miss this.
                let _guard = shared.room_lock.lock();
                shared.room.notify_all();
            }
            Msg::QueueDropped { key, lines, bytes } => {
                if lines == 0 {
                    (self.notify)(Notice::Dropping {
                        service: key.service.clone(),
                        reason: QUEUE_REASON.to_string(),
                    });
                } else {
                    self.account(&key, lines, bytes, QUEUE_REASON);
                }
            }
            Msg::Sync(reply) => {
                let _ = reply.send(());
            }
            Msg::RotateNow {
                service,
                above,
                reply,
            } => {
                let _ = reply.send(self.rotate_now(&service, above));
            }
            Msg::Retain => {
                let services: Vec<String> = self.settings.keys().cloned().collect();
                for s in services {
                    self.retain(&s, Family::Main);
                    self.retain(&s, Family::Stderr);
                }
            }
            Msg::Stop => return false,
            #[cfg(test)]
            Msg::Panic => panic!("a test asked the writer to fail"),
        }
        true
    }

    /// After a panic while handling a message: say so, count what it held.
    fn recover(&mut self, panic: &(dyn std::any::Any + Send), lost: Option<Lost>) {
        let why = panic
            .downcast_ref::<&str>()
            .map(ToString::to_string)
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        self.open.clear();
        let reason = format!(
            "backstop's log writer failed ({why}; a bug, please report it) and was restarted"
        );
        match lost {
            Some(lost) => {
                lost.shared.queued.fetch_sub(lost.bytes, Ordering::AcqRel);
                // Senders waiting for room must hear that there is some.
                let _guard = lost.shared.room_lock.lock();
                lost.shared.room.notify_all();
                (self.notify)(Notice::Dropped {
                    service: lost.service,
                    lines: lost.lines,
                    bytes: lost.bytes as u64,
                    reason,
                });
            }
            None => (self.notify)(Notice::Failed { message: reason }),
        }
    }

    /// Shared, not copied: this runs for every batch.
    fn settings(&self, service: &str) -> Arc<LogSettings> {
        self.settings.get(service).cloned().unwrap_or_default()
    }

    /// Records settings, and finishes what an earlier run left: removes
    /// unfinished compressions, compresses what was rotated but not yet
    /// compressed, applies retention.
    fn configure(&mut self, service: &str, settings: LogSettings) {
        for family in [Family::Main, Family::Stderr] {
            let prefix = format!(
                "{}.",
                files::current_path(Path::new(""), service, family).display()
            );
            if let Ok(entries) = std::fs::read_dir(&self.dir) {
                for e in entries.flatten() {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    if name.starts_with(&prefix) && name.ends_with(".tmp") {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
            if settings.compress != Compression::None {
                for seg in files::segments(&self.dir, service, family).unwrap_or_default() {
                    if seg.compression == Compression::None {
                        self.compressor
                            .submit(service.to_string(), seg.path, settings.compress);
                    }
                }
            }
        }
        self.settings
            .insert(service.to_string(), Arc::new(settings));
        self.retain(service, Family::Main);
        self.retain(service, Family::Stderr);
    }

    fn entry(&mut self, key: &Arc<Key>) -> &mut OpenLog {
        if !self.open.contains_key(key) {
            let settings = self.settings(&key.service);
            let path = files::current_path(&self.dir, &key.service, key.family);
            let (size, modified) = std::fs::metadata(&path).map_or((0, SystemTime::now()), |m| {
                (m.len(), m.modified().unwrap_or_else(|_| SystemTime::now()))
            });
            let last_rotation_ms = files::segments(&self.dir, &key.service, key.family)
                .ok()
                .and_then(|s| s.last().map(|s| files::millis(s.rotated_at)))
                .unwrap_or(0);
            self.open.insert(
                key.clone(),
                OpenLog {
                    path,
                    file: None,
                    size,
                    period: period_of(modified, &settings),
                    last_rotation_ms,
                    failed_lines: 0,
                    failed_bytes: 0,
                    failed_reason: String::new(),
                    torn: false,
                },
            );
        }
        self.open.get_mut(key).expect("inserted above")
    }

    /// Appends a batch of whole records. A batch that would take the file
    /// past `max_size` is cut at a record boundary: the records that fit
    /// end this file, the rest start the next (a file holds at least one
    /// record, however long).
    fn write(&mut self, key: &Arc<Key>, bytes: &[u8], lines: u64) {
        let settings = self.settings(&key.service);
        let mut rest = bytes;
        while !rest.is_empty() {
            let now = SystemTime::now();
            let log = self.entry(key);
            let room =
                usize::try_from(settings.max_size.saturating_sub(log.size)).unwrap_or(usize::MAX);
            let mut take = if rest.len() <= room {
                rest.len()
            } else {
                memchr::memrchr(b'\n', &rest[..room]).map_or(0, |p| p + 1)
            };
            let due = log.size > 0 && (take == 0 || period_of(now, &settings) != log.period);
            let rotated = due && self.rotate(key, &settings, now).is_some();
            if rotated {
                continue;
            }
            if take == 0 {
                take = if due {
                    // It could not rotate: writing on in the same file.
                    rest.len()
                } else {
                    memchr::memchr(b'\n', rest).map_or(rest.len(), |p| p + 1)
                };
            }
            let (piece, after) = rest.split_at(take);
            rest = after;
            let notify = self.notify.clone();
            let log = self.entry(key);
            if let Err(err) = log.append(piece, &notify, &key.service) {
                let piece_lines = if piece.len() == bytes.len() {
                    lines
                } else {
                    memchr::memchr_iter(b'\n', piece).count() as u64
                };
                log.fail(
                    piece_lines,
                    piece.len() as u64,
                    &err.to_string(),
                    &notify,
                    &key.service,
                );
            }
        }
    }

    /// Output lost before it reached the file: written down as a marker.
    fn account(&mut self, key: &Arc<Key>, lines: u64, bytes: u64, reason: &str) {
        let notify = self.notify.clone();
        let log = self.entry(key);
        log.failed_lines += lines;
        log.failed_bytes += bytes;
        reason.clone_into(&mut log.failed_reason);
        // The marker goes out now if the file is writable, else with the next line.
        if let Err(err) = log.append(&[], &notify, &key.service) {
            log.fail(0, 0, &err.to_string(), &notify, &key.service);
        }
    }

    fn rotate(
        &mut self,
        key: &Arc<Key>,
        settings: &LogSettings,
        now: SystemTime,
    ) -> Option<PathBuf> {
        let dir = self.dir.clone();
        let notify = self.notify.clone();
        let log = self.entry(key);
        log.file = None;
        let at_ms = files::millis(now).max(log.last_rotation_ms + 1);
        let to = files::rotated_path(&dir, &key.service, key.family, files::from_millis(at_ms));
        if let Err(err) = std::fs::rename(&log.path, &to) {
            notify(Notice::Maintenance {
                service: key.service.clone(),
                message: format!(
                    "cannot rotate {} to {}: {err}; writing on in the same file",
                    log.path.display(),
                    to.display()
                ),
            });
            return None;
        }
        log.last_rotation_ms = at_ms;
        log.size = 0;
        log.period = period_of(now, settings);
        if settings.compress != Compression::None {
            self.compressor
                .submit(key.service.clone(), to.clone(), settings.compress);
        }
        self.retain(&key.service, key.family);
        Some(to)
    }

    /// Rotates `service`'s current files now (those larger than `above`),
    /// between two batches like any rotation; returns what they became.
    fn rotate_now(&mut self, service: &str, above: u64) -> Vec<PathBuf> {
        let settings = self.settings(service);
        let mut rotated = Vec::new();
        for family in [Family::Main, Family::Stderr] {
            let path = files::current_path(&self.dir, service, family);
            let size = std::fs::metadata(&path).map_or(0, |m| m.len());
            if size == 0 || size <= above {
                continue;
            }
            let key = Arc::new(Key {
                service: service.to_string(),
                family,
            });
            rotated.extend(self.rotate(&key, &settings, SystemTime::now()));
        }
        rotated
    }

    /// Deletes segments beyond `keep` and older than `max_age`.
    fn retain(&self, service: &str, family: Family) {
        let settings = self.settings(service);
        let Ok(segments) = files::segments(&self.dir, service, family) else {
            return;
        };
        let now = SystemTime::now();
        let excess = segments.len().saturating_sub(settings.keep as usize);
        for (i, seg) in segments.iter().enumerate() {
            let too_old = settings
                .max_age
                .is_some_and(|age| now.duration_since(seg.rotated_at).is_ok_and(|d| d > age));
            if i < excess || too_old {
                let mut doomed = vec![seg.path.clone()];
                if seg.compression == Compression::None {
                    doomed.push(files::compressed_path(&seg.path, Compression::Gzip));
                    doomed.push(files::compressed_path(&seg.path, Compression::Zstd));
                }
                for path in doomed {
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => (self.notify)(Notice::Maintenance {
                            service: service.to_string(),
                            message: format!("cannot delete old log {}: {e}", path.display()),
                        }),
                    }
                }
            }
        }
    }
}

impl OpenLog {
    /// Opens if needed, writes the marker for earlier losses, then `bytes`.
    fn append(&mut self, bytes: &[u8], notify: &Notify, service: &str) -> std::io::Result<()> {
        if self.file.is_none() {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(crate::LOG_FILE_MODE)
                .open(&self.path)?;
            self.size = file.metadata().map_or(self.size, |m| m.len());
            self.file = Some(file);
        }
        let file = self.file.as_mut().expect("opened above");
        if self.failed_lines > 0 || self.failed_bytes > 0 {
            let mut marker = Vec::new();
            if self.torn {
                marker.push(b'\n');
            }
            let text = format!(
                "[backstop] {} lines ({} bytes) of output were lost here: {}",
                self.failed_lines, self.failed_bytes, self.failed_reason
            );
            record::encode(
                &mut marker,
                SystemTime::now(),
                Stream::Stderr,
                text.as_bytes(),
            );
            // One write with the batch that follows: a reader never sees the
            // marker alone, and a failure leaves neither.
            marker.extend_from_slice(bytes);
            file.write_all(&marker)?;
            self.size += marker.len() as u64;
            notify(Notice::Dropped {
                service: service.to_string(),
                lines: self.failed_lines,
                bytes: self.failed_bytes,
                reason: std::mem::take(&mut self.failed_reason),
            });
            self.failed_lines = 0;
            self.failed_bytes = 0;
            self.torn = false;
            return Ok(());
        }
        file.write_all(bytes)?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    fn fail(&mut self, lines: u64, bytes: u64, reason: &str, notify: &Notify, service: &str) {
        if self.failed_lines == 0 && self.failed_bytes == 0 {
            notify(Notice::Dropping {
                service: service.to_string(),
                reason: format!("cannot write {}: {reason}", self.path.display()),
            });
        }
        self.failed_lines += lines;
        self.failed_bytes += bytes;
        self.failed_reason = format!("cannot write {}: {reason}", self.path.display());
        // Only a write into an open file can leave half a record behind.
        self.torn |= self.file.is_some();
        // Open again next time: the disk may have room, the directory may be back.
        self.file = None;
    }
}

/// A service, one of its rotated segments, and how to compress it.
type CompressJob = (String, PathBuf, Compression);

/// Compresses rotated segments one after another on a helper thread that
/// exists only while there is work.
struct Compressor {
    /// Jobs, and whether a thread is working on them.
    queue: Mutex<(VecDeque<CompressJob>, bool)>,
    notify: Notify,
}

impl Compressor {
    fn submit(self: &Arc<Self>, service: String, path: PathBuf, compression: Compression) {
        let Ok(mut q) = self.queue.lock() else { return };
        if q.0.iter().any(|(_, p, _)| *p == path) {
            return;
        }
        q.0.push_back((service, path, compression));
        if q.1 {
            return;
        }
        q.1 = true;
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("log-compress".into())
            .spawn(move || me.work());
        if spawned.is_err() {
            q.1 = false; // tried again with the next rotation
        }
    }

    fn work(&self) {
        loop {
            let job = {
                let Ok(mut q) = self.queue.lock() else { return };
                let Some(job) = q.0.pop_front() else {
                    q.1 = false;
                    return;
                };
                job
            };
            let (service, path, compression) = job;
            match crate::compress::compress(&path, compression) {
                Ok(_) => {}
                // Retention deleted it first: nothing to do.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => (self.notify)(Notice::Maintenance {
                    service,
                    message: format!(
                        "cannot compress {}: {e}; it stays uncompressed",
                        path.display()
                    ),
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn collect(dir: &Path, service: &str) -> Vec<u8> {
        let mut all = Vec::new();
        for seg in files::segments(dir, service, Family::Main).unwrap() {
            crate::compress::open(&seg.path, seg.compression)
                .unwrap()
                .read_to_end(&mut all)
                .unwrap();
        }
        all.extend(
            std::fs::read(files::current_path(dir, service, Family::Main)).unwrap_or_default(),
        );
        all
    }

    fn quiet() -> (Notify, Arc<Mutex<Vec<Notice>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        (Arc::new(move |n| s.lock().unwrap().push(n)), seen)
    }

    #[test]
    fn size_rotation_loses_and_repeats_nothing_and_keeps_n_files() {
        let dir = tempfile::tempdir().unwrap();
        let (notify, _) = quiet();
        let writer = LogWriter::start(dir.path().to_path_buf(), notify).unwrap();
        let settings = LogSettings {
            max_size: 10_000,
            keep: 1000,
            compress: Compression::None,
            ..LogSettings::default()
        };
        writer.configure("api", &settings);
        let out = writer.sender("api", Stream::Stdout, &settings);
        let mut expected = Vec::new();
        for batch in 0..400 {
            let mut bytes = Vec::new();
            for i in 0..10 {
                let line = format!("batch {batch} line {i}");
                record::encode(
                    &mut bytes,
                    SystemTime::now(),
                    Stream::Stdout,
                    line.as_bytes(),
                );
            }
            expected.extend_from_slice(&bytes);
            assert!(out.send(bytes, 10));
        }
        assert!(writer.sync(Duration::from_secs(10)));
        let segments = files::segments(dir.path(), "api", Family::Main).unwrap();
        assert!(segments.len() >= 15, "{} segments", segments.len());
        for seg in &segments {
            assert!(std::fs::metadata(&seg.path).unwrap().len() <= 10_000);
        }
        assert_eq!(collect(dir.path(), "api"), expected);

        // Fewer files kept from now on; compression of what is left.
        let tighter = LogSettings {
            keep: 3,
            compress: Compression::Zstd,
            ..settings
        };
        writer.configure("api", &tighter);
        assert!(writer.sync(Duration::from_secs(10)));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let segs = files::segments(dir.path(), "api", Family::Main).unwrap();
            if segs.len() == 3 && segs.iter().all(|s| s.compression == Compression::Zstd) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{segs:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
        let kept = collect(dir.path(), "api");
        assert!(
            expected.ends_with(&kept),
            "the newest lines are kept, in order"
        );
        assert!(writer.close(Duration::from_secs(10)));
    }

    #[test]
    fn a_batch_larger_than_max_size_is_cut_at_records_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let (notify, _) = quiet();
        let writer = LogWriter::start(dir.path().to_path_buf(), notify).unwrap();
        let settings = LogSettings {
            max_size: 1000,
            keep: 1000,
            compress: Compression::None,
            ..LogSettings::default()
        };
        writer.configure("api", &settings);
        let out = writer.sender("api", Stream::Stdout, &settings);
        // One batch of 100 records (a burst read at once), then one record
        // longer than the limit alone.
        let mut batch = Vec::new();
        for i in 0..100 {
            let line = format!("line {i:03}");
            record::encode(
                &mut batch,
                SystemTime::now(),
                Stream::Stdout,
                line.as_bytes(),
            );
        }
        let mut long = Vec::new();
        record::encode(&mut long, SystemTime::now(), Stream::Stdout, &[b'y'; 1500]);
        let expected = [batch.clone(), long.clone()].concat();
        assert!(out.send(batch, 100));
        assert!(out.send(long, 1));
        assert!(writer.sync(Duration::from_secs(10)));
        let segments = files::segments(dir.path(), "api", Family::Main).unwrap();
        let mut sizes: Vec<u64> = segments
            .iter()
            .map(|s| std::fs::metadata(&s.path).unwrap().len())
            .collect();
        sizes.push(std::fs::metadata(dir.path().join("api.log")).unwrap().len());
        assert!(sizes.len() >= 5, "{sizes:?}");
        let (last, earlier) = sizes.split_last().unwrap();
        assert!(earlier.iter().all(|&n| n <= 1000), "{sizes:?}");
        assert!(
            earlier[..3].iter().all(|&n| n > 900),
            "filled up: {sizes:?}"
        );
        assert_eq!(*last, 1500 + 33, "the long record alone in its file");
        assert_eq!(collect(dir.path(), "api"), expected);
        assert!(writer.close(Duration::from_secs(10)));
    }

    #[test]
    fn a_new_hour_rotates_a_file_written_in_an_earlier_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = files::current_path(dir.path(), "api", Family::Main);
        let mut old = Vec::new();
        let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
        record::encode(&mut old, two_hours_ago, Stream::Stdout, b"old");
        std::fs::write(&path, &old).unwrap();
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
        let (notify, _) = quiet();
        let writer = LogWriter::start(dir.path().to_path_buf(), notify).unwrap();
        let settings = LogSettings {
            rotate: Some(backstop_config::RotateEvery::Hourly),
            compress: Compression::None,
            ..LogSettings::default()
        };
        writer.configure("api", &settings);
        let out = writer.sender("api", Stream::Stdout, &settings);
        let mut new = Vec::new();
        record::encode(&mut new, SystemTime::now(), Stream::Stdout, b"new");
        assert!(out.send(new.clone(), 1));
        let more = new.clone();
        assert!(out.send(more, 1));
        assert!(writer.close(Duration::from_secs(10)));
        let segments = files::segments(dir.path(), "api", Family::Main).unwrap();
        assert_eq!(segments.len(), 1, "{segments:?}");
        assert_eq!(std::fs::read(&segments[0].path).unwrap(), old);
        assert_eq!(std::fs::read(&path).unwrap(), [new.clone(), new].concat());
    }

    #[test]
    fn a_failed_write_is_counted_and_marked_once_writing_works() {
        let dir = tempfile::tempdir().unwrap();
        let (notify, seen) = quiet();
        let writer = LogWriter::start(dir.path().to_path_buf(), notify).unwrap();
        let settings = LogSettings::default();
        writer.configure("api", &settings);
        let out = writer.sender("api", Stream::Stdout, &settings);
        // A directory where the file should be: every open fails.
        let path = files::current_path(dir.path(), "api", Family::Main);
        std::fs::create_dir(&path).unwrap();
        let mut rec = Vec::new();
        record::encode(&mut rec, SystemTime::now(), Stream::Stdout, b"lost");
        assert!(out.send(rec.clone(), 1));
        assert!(out.send(rec.clone(), 1));
        assert!(writer.sync(Duration::from_secs(10)));
        std::fs::remove_dir(&path).unwrap();
        let mut kept = Vec::new();
        record::encode(&mut kept, SystemTime::now(), Stream::Stdout, b"kept");
        assert!(out.send(kept, 1));
        assert!(writer.close(Duration::from_secs(10)));
        let text = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].contains("[backstop] 2 lines (") && lines[0].contains("Is a directory"),
            "{text}"
        );
        assert!(lines[1].ends_with("stdout kept"));
        let seen = seen.lock().unwrap();
        assert!(matches!(&seen[0], Notice::Dropping { service, .. } if service == "api"));
        assert!(matches!(&seen[1], Notice::Dropped { lines: 2, .. }));
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn a_failure_of_the_writer_is_reported_and_writing_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let (notify, seen) = quiet();
        let writer = LogWriter::start(dir.path().to_path_buf(), notify).unwrap();
        let settings = LogSettings::default();
        writer.configure("api", &settings);
        let out = writer.sender("api", Stream::Stdout, &settings);
        assert!(out.send(b"before\n".to_vec(), 1));
        writer.tx.send(Msg::Panic).unwrap();
        assert!(out.send(b"after\n".to_vec(), 1));
        assert!(writer.sync(Duration::from_secs(10)), "the writer lives");
        assert_eq!(collect(dir.path(), "api"), b"before\nafter\n");
        let seen = seen.lock().unwrap();
        assert!(
            seen.iter().any(|n| matches!(n, Notice::Failed { message }
                if message.contains("log writer failed (a test asked the writer to fail"))),
            "{seen:?}"
        );
    }

    #[test]
    fn a_file_name_that_is_not_ascii_fails_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("api.log.202ä122T085115.123Z"), "").unwrap();
        let (notify, _) = quiet();
        let writer = LogWriter::start(dir.path().to_path_buf(), notify).unwrap();
        let settings = LogSettings::default();
        writer.configure("api", &settings);
        let out = writer.sender("api", Stream::Stdout, &settings);
        assert!(out.send(b"kept\n".to_vec(), 1));
        assert!(writer.sync(Duration::from_secs(10)));
        assert_eq!(collect(dir.path(), "api"), b"kept\n");
    }
}
