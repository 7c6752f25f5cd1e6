//! Service logs: the record format, writing with rotation, retention and
//! compression, error signals, and reading logs back.
//!
//! The daemon frames each line of a service's output as a [`record`] and
//! hands batches to the [`writer`] thread, which owns the files. The
//! [`read`] side serves `backstop logs` (and diagnose) without a daemon,
//! straight from the files, across rotated and compressed [`files`].

pub mod compress;
pub mod files;
pub mod read;
pub mod record;
pub mod signals;
pub mod writer;

pub use files::Family;
pub use read::{Entry, Follower, Position, Query, Source};
pub use record::Stream;
pub use signals::{ErrorDetector, ErrorPatterns, LogStats, StatsSnapshot};
pub use writer::{FileSender, LogWriter, Notice, Notify};

/// The mode of every log file backstop creates: only its owner reads and
/// writes it (services print secrets more often than they should).
pub const LOG_FILE_MODE: u32 = 0o600;
