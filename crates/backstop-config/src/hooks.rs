//! Commands run around a service's process: `pre_start` before each
//! start (migrations, a cache warm-up; a failure is a failed start, under
//! the restart policy) and `post_stop` after each stop or exit (removing a
//! stale pid file); `stop.command` stops a service its own way
//! (`nginx -s quit`) instead of a signal.
//!
//! Each runs with the service's environment, directory and user, bounded
//! by its `timeout`; its output goes to the service's log.

use std::time::Duration;

/// `pre_start` or `post_stop`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hook {
    /// Program and arguments (a string is split like `command`; no shell).
    pub command: Vec<String>,
    /// How long it may run; past it, it is killed and counts as failed.
    pub timeout: Duration,
}

/// A `pre_start` may run this long unless it says otherwise.
pub const PRE_START_TIMEOUT: Duration = Duration::from_secs(60);
/// A `post_stop` may run this long unless it says otherwise.
pub const POST_STOP_TIMEOUT: Duration = Duration::from_secs(30);
