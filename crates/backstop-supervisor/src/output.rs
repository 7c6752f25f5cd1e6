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
use std::path::{Path, PathBuf};
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
        let file = open_log(&sink.log_path(&service))
            .map(Mutex::new)
            .map(Arc::new);
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
                    file.as_ref(),
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
                    file.as_ref(),
                    &pending[..MAX_LINE],
                );
                pending.drain(..MAX_LINE);
            }
        }
        if !pending.is_empty() {
            emit(
                &sink,
                &service,
                color_index,
                stream,
                file.as_ref(),
                &pending,
            );
        }
    });
}

fn open_log(path: &Path) -> Option<File> {
    OpenOptions::new().create(true).append(true).open(path).ok()
}

fn emit(
    sink: &OutputSink,
    service: &str,
    color_index: usize,
    stream: Stream,
    file: Option<&Arc<Mutex<File>>>,
    line: &[u8],
) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if let Some(file) = file {
        let mut record = Vec::with_capacity(line.len() + 40);
        backstop_logs::record::encode(&mut record, SystemTime::now(), stream, line);
        if let Ok(mut f) = file.lock() {
            let _ = f.write_all(&record);
        }
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
