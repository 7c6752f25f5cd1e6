//! `[logs]` and a service's `logs = {…}`: how service output is kept.
//!
//! The global table sets defaults for every service; a service's own
//! `logs` table overrides single fields. The result is resolved per service
//! at load time, so the rest of backstop reads one [`LogSettings`].

use std::time::Duration;

/// How one service's output is written, rotated, kept and scanned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSettings {
    /// Rotate the file once it reaches this many bytes (default 100 MB).
    pub max_size: u64,
    /// Also rotate when the UTC day (or hour) changes.
    pub rotate: Option<RotateEvery>,
    /// Rotated files kept (default 10); older ones are deleted.
    pub keep: u32,
    /// Rotated files older than this are deleted.
    pub max_age: Option<Duration>,
    /// How rotated files are compressed (default gzip).
    pub compress: Compression,
    /// Timestamped records (default) or the bytes as written.
    pub format: LogFormat,
    /// stderr in the same file (default) or in `<service>.stderr.log`.
    pub stderr: StderrFile,
    /// Extra regular expressions that mark a line as an error.
    pub error_patterns: Vec<String>,
    /// Lines matching any of these never count as errors.
    pub ignore_patterns: Vec<String>,
    /// Use the built-in error patterns (Python, Rust, Go, Node.js, Java, log levels).
    pub builtin_error_patterns: bool,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            max_size: 100_000_000,
            rotate: None,
            keep: 10,
            max_age: None,
            compress: Compression::Gzip,
            format: LogFormat::Timestamped,
            stderr: StderrFile::Merged,
            error_patterns: Vec::new(),
            ignore_patterns: Vec::new(),
            builtin_error_patterns: true,
        }
    }
}

/// Time-based rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RotateEvery {
    /// When the first line of a new UTC day arrives.
    Daily,
    /// When the first line of a new UTC hour arrives.
    Hourly,
}

impl RotateEvery {
    /// The period's length in seconds.
    pub fn seconds(self) -> u64 {
        match self {
            Self::Daily => 86_400,
            Self::Hourly => 3_600,
        }
    }
}

/// Compression of rotated files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Rotated files stay as they are.
    None,
    /// `.gz`, readable by `zcat` everywhere.
    Gzip,
    /// `.zst`: faster and smaller, needs `zstd` to read by hand.
    Zstd,
}

impl Compression {
    /// The file name suffix, with its dot (empty for none).
    pub fn suffix(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Gzip => ".gz",
            Self::Zstd => ".zst",
        }
    }
}

/// What a log line looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// `<RFC 3339 UTC ms> <stdout|stderr> <text>`.
    Timestamped,
    /// The service's bytes only.
    Raw,
}

/// Where stderr goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StderrFile {
    /// Into `<service>.log`, with stdout.
    Merged,
    /// Into its own `<service>.stderr.log`.
    Separate,
}
