//! Service logs: the record format, and reading logs back.
//!
//! The daemon writes each line of a service's output as a [`record`]; the
//! [`read`] side serves `backstop logs` (and later diagnose) without a
//! daemon, straight from the files.

pub mod read;
pub mod record;

pub use read::{Entry, Follower, Query};
pub use record::Stream;
