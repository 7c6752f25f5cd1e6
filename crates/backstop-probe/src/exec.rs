//! The exec probe: a command that must exit 0 within the timeout.
//!
//! Two ways to wait for the child: with `tokio::process` in `backstop
//! check`, or, inside the daemon, through a [`ProbeReaper`] fed by the
//! daemon's own reaper (which reaps every child with `waitpid(-1)` and
//! would otherwise steal the exit from tokio).

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::oneshot;

use crate::ledger::Ledger;

use crate::ExecContext;

/// Output kept for the detail line.
const MAX_OUTPUT: usize = 4096;

pub(crate) async fn probe(
    command: &[String],
    ctx: &ExecContext,
    timeout: Duration,
) -> Result<String, String> {
    run(command, ctx, None, timeout).await
}

/// Runs `command` with `input` on its standard input (small: it is written
/// at once), bounded by `timeout`; `Ok` on exit 0, with the last line it
/// printed. Inside the daemon, `ctx.reaper` must be set (see the module
/// doc): alert `command` sinks use this.
pub async fn run_with_input(
    command: &[String],
    ctx: &ExecContext,
    input: Vec<u8>,
    timeout: Duration,
) -> Result<String, String> {
    run(command, ctx, Some(input), timeout).await
}

/// What a command printed and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// Its exit code; `None` when a signal killed it.
    pub code: Option<i32>,
    /// Standard output (at most 16 KiB).
    pub stdout: Vec<u8>,
    /// Standard error (at most 16 KiB).
    pub stderr: Vec<u8>,
}

impl Output {
    /// Its lines, standard output's then standard error's.
    pub fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.stdout)
            .lines()
            .chain(String::from_utf8_lossy(&self.stderr).lines())
            .map(str::to_string)
            .collect()
    }

    /// How it ended, in words: `exit 0`, `exit 3`, `killed by a signal`.
    pub fn ended(&self) -> String {
        self.code
            .map_or_else(|| "killed by a signal".to_string(), |c| format!("exit {c}"))
    }
}

async fn run(
    command: &[String],
    ctx: &ExecContext,
    input: Option<Vec<u8>>,
    timeout: Duration,
) -> Result<String, String> {
    let out = output(command, ctx, input, timeout).await?;
    verdict(out.code, &out.stdout, &out.stderr)
}

/// Runs `command` in `ctx` (its own process group, killed with whatever it
/// started when it ends or times out), with `input` on its standard input,
/// and returns what it printed. `Err` when it cannot be started or runs
/// past `timeout`, in words for the operator. Inside the daemon,
/// `ctx.reaper` must be set (see the module doc).
pub async fn output(
    command: &[String],
    ctx: &ExecContext,
    input: Option<Vec<u8>>,
    timeout: Duration,
) -> Result<Output, String> {
    let (program, args) = command.split_first().ok_or("empty command")?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(&ctx.env)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so a timeout kills what it started too.
        .process_group(0);
    if !ctx.dir.as_os_str().is_empty() {
        cmd.current_dir(&ctx.dir);
    }
    if let Some((uid, gid)) = ctx.ids {
        cmd.uid(uid).gid(gid);
    }
    let not_started = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => format!("command not found: {program}"),
        _ => format!("cannot run {program}: {e}"),
    };
    let timed_out = || format!("timed out after {}", humantime::format_duration(timeout));
    match &ctx.reaper {
        None => {
            let mut child = tokio::process::Command::from(cmd)
                .kill_on_drop(true)
                .spawn()
                .map_err(not_started)?;
            let guard = KillGroupOnDrop(child.id());
            if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
                use tokio::io::AsyncWriteExt;
                let _ = stdin.write_all(&bytes).await;
            }
            let stdout = child.stdout.take().and_then(|s| s.into_owned_fd().ok());
            let stderr = child.stderr.take().and_then(|s| s.into_owned_fd().ok());
            let work = async {
                let (out, err, status) = tokio::join!(read(stdout), read(stderr), child.wait());
                (out, err, status.map(|s| s.code()))
            };
            let (out, err, code) = tokio::time::timeout(timeout, work)
                .await
                .map_err(|_| timed_out())?;
            drop(guard);
            let code = code.map_err(|e| format!("cannot wait for {program}: {e}"))?;
            Ok(Output {
                code,
                stdout: out,
                stderr: err,
            })
        }
        Some(reaper) => {
            let mut child = cmd.spawn().map_err(not_started)?;
            let pid = child.id();
            // Registered before the first await: the daemon's reaper runs on
            // this same thread and cannot see the exit before this.
            let exited = reaper.register(pid as i32);
            // Dropped after the group is killed: the record outlives the
            // processes it names.
            let _recorded = reaper.record(pid, command);
            let guard = KillGroupOnDrop(Some(pid));
            if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
                use std::io::Write;
                // Small (an alert): fits the pipe, so this never blocks.
                let _ = stdin.write_all(&bytes);
            }
            let stdout = child.stdout.take().map(OwnedFd::from);
            let stderr = child.stderr.take().map(OwnedFd::from);
            let work = async { tokio::join!(read(stdout), read(stderr), exited) };
            let (out, err, exit) = tokio::time::timeout(timeout, work)
                .await
                .map_err(|_| timed_out())?;
            drop(guard);
            let exit = exit.map_err(|_| "the daemon stopped before the probe ended".to_string())?;
            Ok(Output {
                code: exit.code(),
                stdout: out,
                stderr: err,
            })
        }
    }
}

async fn read(fd: Option<OwnedFd>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(fd) = fd
        && let Ok(pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd)
    {
        let _ = pipe.take(MAX_OUTPUT as u64 * 4).read_to_end(&mut out).await;
    }
    out
}

fn verdict(code: Option<i32>, stdout: &[u8], stderr: &[u8]) -> Result<String, String> {
    let mut text = String::from_utf8_lossy(stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(stderr));
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let last: String = last.chars().take(MAX_OUTPUT).collect();
    let said = if last.is_empty() {
        String::new()
    } else {
        format!(": {last}")
    };
    match code {
        Some(0) => Ok(format!("exit 0{said}")),
        Some(code) => Err(format!("exit {code}{said}")),
        None => Err(format!("killed by a signal{said}")),
    }
}

/// Kills the probe's process group when the probe ends or is abandoned.
struct KillGroupOnDrop(Option<u32>);

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            // SAFETY: kill(2) on the process group this probe created.
            unsafe {
                libc::kill(-(pid as i32), libc::SIGKILL);
            }
        }
    }
}

/// How a probe's child ended, as the daemon's reaper saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildExit {
    /// Exit code.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
}

impl ChildExit {
    fn code(self) -> Option<i32> {
        match self {
            Self::Code(c) => Some(c),
            Self::Signal(_) => None,
        }
    }
}

type Waiters = HashMap<i32, oneshot::Sender<ChildExit>>;

/// Hands exit statuses of exec-probe children from the daemon's reaper to
/// the probes waiting for them, and records the running ones
/// ([`crate::ledger`]). Clones share one registry.
#[derive(Clone, Debug, Default)]
pub struct ProbeReaper(Arc<Mutex<Waiters>>, Option<Arc<Ledger>>);

impl ProbeReaper {
    /// A reaper that records each running command in `dir` (the daemon's
    /// `helpers/`), for a successor to find if the daemon is killed.
    pub fn with_ledger(dir: std::path::PathBuf) -> Self {
        Self(Arc::default(), Some(Arc::new(Ledger::new(dir))))
    }

    fn record(&self, pid: u32, command: &[String]) -> Option<crate::ledger::Recorded> {
        self.1.as_ref().map(|l| l.record(pid, command))
    }

    fn register(&self, pid: i32) -> oneshot::Receiver<ChildExit> {
        let (tx, rx) = oneshot::channel();
        self.waiters().insert(pid, tx);
        rx
    }

    fn waiters(&self) -> std::sync::MutexGuard<'_, Waiters> {
        // Nothing panics while the lock is held; a poisoned lock still holds
        // consistent data.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// True when `pid` is a probe's child (so not an orphan of a service).
    pub fn owns(&self, pid: i32) -> bool {
        self.waiters().contains_key(&pid)
    }

    /// Delivers the exit of `pid`; false when no probe waits for it.
    pub fn deliver(&self, pid: i32, exit: ChildExit) -> bool {
        let waiter = self.waiters().remove(&pid);
        waiter.is_some_and(|tx| {
            let _ = tx.send(exit);
            true
        })
    }
}
