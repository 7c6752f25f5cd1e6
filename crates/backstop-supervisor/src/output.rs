//! Where a service's stdout and stderr go.
//!
//! Each stream is read by its own task, never blocking the child for long:
//! lines go to `.backstop/logs/<service>.log` with a timestamp and the
//! stream name and, in the foreground, to the terminal prefixed by the
//! service name. Lines longer than [`MAX_LINE`] are split, never dropped;
//! invalid UTF-8 is kept byte for byte in the file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Longest line kept in one piece; longer lines are split at this bound.
pub const MAX_LINE: usize = 64 * 1024;

/// Bytes read from a pipe at once while output flows.
const READ_CHUNK: usize = 16 * 1024;

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

pub use backstop_logs::Stream;

/// Shared by every output task.
#[derive(Debug)]
pub struct OutputSink {
    log_dir: PathBuf,
    echo: Echo,
    name_width: usize,
}

const COLORS: &[&str] = &["36", "33", "32", "35", "34", "31", "96", "93", "92", "95"];

impl OutputSink {
    /// A sink writing under `log_dir`; `names` sizes the terminal prefix.
    pub fn new(log_dir: PathBuf, echo: Echo, names: &[&str]) -> Self {
        let name_width = names.iter().map(|n| n.len()).max().unwrap_or(0);
        Self {
            log_dir,
            echo,
            name_width,
        }
    }

    fn log_path(&self, service: &str) -> PathBuf {
        self.log_dir.join(format!("{service}.log"))
    }
}

/// Reads `fd` until end of file, writing each line where it belongs.
pub fn pump(
    sink: Arc<OutputSink>,
    service: String,
    color_index: usize,
    stream: Stream,
    fd: OwnedFd,
) {
    tokio::spawn(async move {
        let Ok(pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd) else {
            return;
        };
        let file = Arc::new(Mutex::new(LogFile::new(
            sink.log_path(&service),
            service.clone(),
        )));
        // The read buffer exists only while data flows: an idle service's
        // streams cost no heap (ten services would otherwise hold 320 KiB).
        let mut buf: Vec<u8> = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        loop {
            if pipe.readable().await.is_err() {
                break;
            }
            if buf.capacity() == 0 {
                buf.reserve_exact(READ_CHUNK);
            }
            buf.clear();
            let n = match pipe.try_read_buf(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    buf = Vec::new();
                    if pending.is_empty() {
                        pending = Vec::new();
                    }
                    continue;
                }
                Err(_) => break,
            };
            pending.extend_from_slice(&buf[..n]);
            let mut start = 0;
            while let Some(pos) = pending[start..].iter().position(|&b| b == b'\n') {
                emit(
                    &sink,
                    &service,
                    color_index,
                    stream,
                    &file,
                    &pending[start..start + pos],
                );
                start += pos + 1;
            }
            pending.drain(..start);
            while pending.len() >= MAX_LINE {
                emit(
                    &sink,
                    &service,
                    color_index,
                    stream,
                    &file,
                    &pending[..MAX_LINE],
                );
                pending.drain(..MAX_LINE);
            }
        }
        if !pending.is_empty() {
            emit(&sink, &service, color_index, stream, &file, &pending);
        }
    });
}

/// A service's log file that loses nothing silently: when it cannot be
/// opened or written (full disk, removed directory), the lines are counted,
/// a warning goes to backstop's own log, and once writing works again a
/// marker line says how much was dropped, and why.
struct LogFile {
    path: PathBuf,
    service: String,
    file: Option<File>,
    dropped_lines: u64,
    dropped_bytes: u64,
    reason: String,
}

impl LogFile {
    fn new(path: PathBuf, service: String) -> Self {
        Self {
            path,
            service,
            file: None,
            dropped_lines: 0,
            dropped_bytes: 0,
            reason: String::new(),
        }
    }

    fn write(&mut self, record: &[u8]) {
        let result = match &mut self.file {
            Some(f) => f.write_all(record),
            None => OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .and_then(|mut f| {
                    if self.dropped_lines > 0 {
                        let mut marker = Vec::new();
                        let text = format!(
                            "[backstop] {} lines ({} bytes) of output could not be written here: {}",
                            self.dropped_lines, self.dropped_bytes, self.reason
                        );
                        backstop_logs::record::encode(&mut marker, SystemTime::now(), Stream::Stderr, text.as_bytes());
                        f.write_all(&marker)?;
                        tracing::warn!("{}: writing {} again; {text}", self.service, self.path.display());
                        self.dropped_lines = 0;
                        self.dropped_bytes = 0;
                    }
                    f.write_all(record)?;
                    self.file = Some(f);
                    Ok(())
                }),
        };
        if let Err(err) = result {
            if self.dropped_lines == 0 {
                tracing::warn!(
                    "{}: cannot write {}: {err}; its output is counted and dropped until writing works again",
                    self.service,
                    self.path.display()
                );
            }
            self.reason = err.to_string();
            self.dropped_lines += 1;
            self.dropped_bytes += record.len() as u64;
            // Open again next time: the disk may have room, the directory may be back.
            self.file = None;
        }
    }
}

fn emit(
    sink: &OutputSink,
    service: &str,
    color_index: usize,
    stream: Stream,
    file: &Arc<Mutex<LogFile>>,
    line: &[u8],
) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut record = Vec::with_capacity(line.len() + 40);
    backstop_logs::record::encode(&mut record, SystemTime::now(), stream, line);
    if let Ok(mut f) = file.lock() {
        f.write(&record);
    }
    if let Echo::Terminal { color } = sink.echo {
        let text = String::from_utf8_lossy(line);
        let mut out = std::io::stdout().lock();
        let _ = if color {
            let code = COLORS[color_index % COLORS.len()];
            writeln!(
                out,
                "\x1b[{code}m{service:<w$} |\x1b[0m {text}",
                w = sink.name_width
            )
        } else {
            writeln!(out, "{service:<w$} | {text}", w = sink.name_width)
        };
    }
}
