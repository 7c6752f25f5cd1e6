//! Health probes (http, tcp, exec, postgres, redis, disk) and the judgement of their results.
//!
//! # Theory of operation
//! [`run`] executes one probe once and returns an [`Outcome`]: pass or fail,
//! the latency, and one line of detail an operator can act on ("HTTP 503
//! (expected 200)", "`database.connected` is false (expected true)",
//! "timed out after 2s"). Every run is bounded by the check's `timeout`;
//! nothing here can hang or panic on bad input from the probed server.
//!
//! [`Tracker`] is pure: it turns a series of outcomes into a check state
//! with the `failures`/`successes` thresholds.
//!
//! Exec probes spawn with `tokio::process`, which reaps its own children,
//! in `backstop check`. Inside the daemon, whose reaper calls `waitpid(-1)`
//! and would steal those exits, they register with a [`ProbeReaper`]
//! instead, and the daemon's reaper delivers each exit there.

mod databases;
mod disk;
mod exec;
mod http;
mod json;
pub mod ledger;
mod tls;
mod tracker;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use backstop_config::{HealthCheck, Probe};

pub use exec::{ChildExit, Output, ProbeReaper, output, run_with_input};
pub use http::post;

/// Checks the filesystem holding `path` like the `disk` probe: `Err` with
/// the figures when more than `max_used` % of its space or `max_inodes` %
/// of its inodes are used.
pub async fn check_disk(
    path: &std::path::Path,
    max_used: f64,
    max_inodes: f64,
) -> Result<String, String> {
    disk::probe(path, max_used, max_inodes).await
}
pub use disk::{DiskUsage, usage as disk_usage};
pub use tracker::{CheckState, Tracker};

/// The result of one probe run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Did it pass?
    pub passed: bool,
    /// It passed, but something is near its limit (the service is degraded).
    pub warning: bool,
    /// How long it took.
    pub latency: Duration,
    /// One line for the operator.
    pub detail: String,
}

/// Where an exec probe runs: the service's directory, environment and user.
#[derive(Clone, Debug, Default)]
pub struct ExecContext {
    /// Working directory.
    pub dir: PathBuf,
    /// The complete environment.
    pub env: BTreeMap<String, String>,
    /// Run as this uid/gid.
    pub ids: Option<(u32, u32)>,
    /// Inside the daemon: who reaps the probe's child. `None`: tokio does.
    pub reaper: Option<ProbeReaper>,
}

/// Runs `check`'s probe once, within its timeout.
pub async fn run(check: &HealthCheck, exec: &ExecContext) -> Outcome {
    let started = Instant::now();
    let passed = |d: String| (d, false);
    // Ok((detail, warning)): a database past a limit with `warn_only` warns.
    let work = async {
        match &check.probe {
            Probe::Http(h) => http::probe(h).await.map(passed),
            Probe::Tcp { address } => tcp(address).await.map(passed),
            Probe::Exec { command } => exec::probe(command, exec, check.timeout).await.map(passed),
            Probe::Postgres { dsn, limits } => {
                databases::postgres(&dsn.0, limits).await.map(verdict)
            }
            Probe::Redis { url, limits } => databases::redis(&url.0, limits).await.map(verdict),
            // It needs the service's process tree: the supervisor (and
            // `backstop check`) measure it themselves.
            Probe::Process(_) => {
                Err("a process check is measured by the supervisor, not run as a probe".to_string())
            }
            Probe::Disk {
                path,
                max_used,
                max_inodes,
            } => disk::probe(path, *max_used, *max_inodes).await.map(passed),
        }
    };
    let (passed, warning, detail) = match tokio::time::timeout(check.timeout, work).await {
        Ok(Ok((detail, warning))) => (true, warning, detail),
        Ok(Err(detail)) => (false, false, detail),
        Err(_) => (
            false,
            false,
            format!(
                "timed out after {}",
                humantime::format_duration(check.timeout)
            ),
        ),
    };
    Outcome {
        passed,
        warning,
        latency: started.elapsed(),
        detail,
    }
}

fn verdict(v: databases::Verdict) -> (String, bool) {
    match v {
        databases::Verdict::Pass(d) => (d, false),
        databases::Verdict::Warn(d) => (d, true),
    }
}

async fn tcp(address: &str) -> Result<String, String> {
    match tokio::net::TcpStream::connect(address).await {
        Ok(_) => Ok(format!("connected to {address}")),
        Err(e) => Err(format!("cannot connect to {address}: {}", io_reason(&e))),
    }
}

/// Short, stable wording for common socket errors.
pub(crate) fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        std::io::ErrorKind::ConnectionReset => "connection reset".to_string(),
        std::io::ErrorKind::TimedOut => "timed out".to_string(),
        _ => {
            let text = err.to_string();
            // "failed to lookup address information: Name or service not known"
            if text.contains("lookup address") {
                format!(
                    "DNS lookup failed ({})",
                    text.rsplit(": ").next().unwrap_or(&text)
                )
            } else {
                text
            }
        }
    }
}
