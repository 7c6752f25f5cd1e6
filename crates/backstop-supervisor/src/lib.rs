//! Supervision: running services, restarting them, stopping them cleanly.
//!
//! # Theory of operation
//! Each service has a [`machine::Machine`], a pure state machine that
//! decides (start, wait for dependencies, restart after a backoff, give up
//! in `crash-loop`, escalate a stop to `SIGKILL`) and returns actions. The
//! [`Supervisor`] is the thin runtime around the machines: it spawns
//! processes with [`spawn`], reaps them on SIGCHLD as a child subreaper,
//! signals whole process trees through [`tree`] and [`procs`], launches
//! pending services once their dependencies hold, and publishes every
//! change as an [`backstop_api::Event`]. Service output is read on its own
//! [`capture`] thread and written by `backstop_logs`' writer thread, so
//! neither a log flood nor a slow disk delays supervision.
//!
//! Nothing here busy-polls: the loop sleeps until a signal, a request or
//! the next timer a machine asked for. The one exception is stopping
//! processes that are not backstop's children ([`leftovers`] of a killed
//! daemon, a stale instance on a port), whose end no SIGCHLD announces.

pub mod capture;
pub mod cgroup;
mod checks;
mod launch;
pub mod leftovers;
pub mod machine;
pub mod output;
pub mod ports;
pub mod process_check;
pub mod procs;
pub mod rules;
pub mod spawn;
pub mod state_file;
mod supervisor;
pub mod terminal;
pub mod tree;
pub mod watch;

pub use supervisor::{Options, Supervisor};
