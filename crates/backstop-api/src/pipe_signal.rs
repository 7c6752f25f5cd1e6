//! A broken pipe on the control socket is an error to report, never a
//! signal that kills the CLI. The CLI restores SIGPIPE's default action so
//! that `backstop events | head` ends quietly; a daemon that exits while a
//! request is being written to it (`backstop down` polling a daemon on its
//! way out) would then kill the CLI with SIGPIPE: exit 141, no message.
//! While a request is in flight, SIGPIPE is blocked on the thread that
//! writes (the CLI's runtime has one), so the write fails with EPIPE; a
//! SIGPIPE left pending is taken before the mask is restored.

use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};

/// SIGPIPE held off this thread while it lives (when its action is the
/// default one; a process that ignores it, the daemon, is left alone).
pub(crate) struct PipeSignalHeld {
    blocked_here: bool,
}

impl PipeSignalHeld {
    pub(crate) fn new() -> Self {
        if !default_action() {
            return Self {
                blocked_here: false,
            };
        }
        let mut old = SigSet::empty();
        let blocked = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&pipe()), Some(&mut old)).is_ok();
        Self {
            blocked_here: blocked && !old.contains(Signal::SIGPIPE),
        }
    }
}

impl Drop for PipeSignalHeld {
    fn drop(&mut self) {
        if !self.blocked_here {
            return;
        }
        let set = pipe();
        let now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid signal set and timespec; a null info pointer is
        // allowed. Takes a SIGPIPE pending on this thread without waiting.
        while unsafe { libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), &raw const now) }
            == libc::SIGPIPE
        {}
        let _ = pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None);
    }
}

fn pipe() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGPIPE);
    set
}

/// Whether SIGPIPE's action is the default one (to terminate).
fn default_action() -> bool {
    // SAFETY: reads the current action into a zeroed struct; no action is
    // installed (a null new action).
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGPIPE, std::ptr::null(), &raw mut current) == 0
            && current.sa_sigaction == libc::SIG_DFL
    }
}
