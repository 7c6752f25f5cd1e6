//! The exec probe: a command that must exit 0 within the timeout.

use std::process::Stdio;
use std::time::Duration;

use crate::ExecContext;

/// Output kept for the detail line.
const MAX_OUTPUT: usize = 4096;

pub(crate) async fn probe(
    command: &[String],
    ctx: &ExecContext,
    timeout: Duration,
) -> Result<String, String> {
    let (program, args) = command.split_first().ok_or("empty command")?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(&ctx.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so a timeout kills what it started too.
        .process_group(0)
        .kill_on_drop(true);
    if !ctx.dir.as_os_str().is_empty() {
        cmd.current_dir(&ctx.dir);
    }
    if let Some((uid, gid)) = ctx.ids {
        cmd.uid(uid).gid(gid);
    }
    let child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("command not found: {program}"),
        _ => format!("cannot run {program}: {e}"),
    })?;
    let pid = child.id();
    let guard = KillGroupOnDrop(pid);
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| format!("timed out after {}", humantime::format_duration(timeout)))?
        .map_err(|e| format!("cannot wait for {program}: {e}"))?;
    drop(guard);
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
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
    match output.status.code() {
        Some(0) => Ok(format!("exit 0{said}")),
        Some(code) => Err(format!("exit {code}{said}")),
        None => Err(format!("killed by a signal{said}")),
    }
}

/// Kills the probe's process group when the probe is abandoned (timeout).
struct KillGroupOnDrop(Option<u32>);

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            // SAFETY: kill(2) on a process group we created.
            unsafe {
                libc::kill(-(pid as i32), libc::SIGKILL);
            }
        }
    }
}
