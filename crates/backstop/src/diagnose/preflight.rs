//! Preflight commands: `sh -c LINE` with the service's environment,
//! directory and user, bounded in time and output (by the exec probe's
//! runner), their exit and output kept for the bundle, where a
//! `python -c 'import main'` shows the traceback the service would die of.

use std::time::{Duration, Instant};

use backstop_probe::ExecContext;

/// How long one preflight command may run.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(20);

/// What one command did.
#[derive(Debug)]
pub(crate) struct Ran {
    pub(crate) command: String,
    /// `exit 0`, `exit 1`, `killed by a signal`, `timed out after 20s`, `command not found: …`.
    pub(crate) outcome: String,
    pub(crate) passed: bool,
    pub(crate) output: Vec<String>,
    pub(crate) took: Duration,
}

/// Runs `line` in `ctx`. Never inside the daemon: the CLI's tokio reaps it
/// (`ctx.reaper` is `None`).
pub(crate) async fn run(line: &str, ctx: &ExecContext) -> Ran {
    let started = Instant::now();
    let command = ["/bin/sh".to_string(), "-c".to_string(), line.to_string()];
    let (outcome, passed, output) = match backstop_probe::output(&command, ctx, None, TIMEOUT).await
    {
        Ok(out) => (out.ended(), out.code == Some(0), out.lines()),
        Err(why) => (why, false, Vec::new()),
    };
    Ran {
        command: line.to_string(),
        outcome,
        passed,
        output,
        took: started.elapsed(),
    }
}
