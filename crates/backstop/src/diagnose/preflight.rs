//! Preflight commands: `sh -c LINE` with the service's environment,
//! directory and user, bounded in time and output, their exit and output
//! kept for the bundle (where a `python -c 'import main'` shows the
//! traceback the service would die of).

use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use backstop_probe::ExecContext;
use tokio::io::AsyncReadExt;

/// How long one preflight command may run.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(20);

/// Output kept per command and stream.
const MAX_OUTPUT: u64 = 64 * 1024;

/// What one command did.
#[derive(Debug)]
pub(crate) struct Ran {
    pub(crate) command: String,
    /// `exit 0`, `exit 1`, `killed by SIGKILL`, `timed out after 20s`, `cannot run: …`.
    pub(crate) outcome: String,
    pub(crate) passed: bool,
    pub(crate) output: Vec<String>,
    pub(crate) took: Duration,
}

/// Runs `line` in `ctx`. Never inside the daemon: the CLI's tokio reaps it.
pub(crate) async fn run(line: &str, ctx: &ExecContext) -> Ran {
    let started = Instant::now();
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(line)
        .env_clear()
        .envs(&ctx.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if ctx.dir.is_dir() {
        cmd.current_dir(&ctx.dir);
    }
    if let Some((uid, gid)) = ctx.ids {
        cmd.uid(uid).gid(gid);
    }
    let ran = |outcome: String, passed: bool, output: Vec<String>| Ran {
        command: line.to_string(),
        outcome,
        passed,
        output,
        took: started.elapsed(),
    };
    let mut child = match tokio::process::Command::from(cmd)
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return ran(format!("cannot run /bin/sh: {e}"), false, Vec::new()),
    };
    let pgid = child.id().map(|p| p as i32);
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    let work = async {
        let (mut o, mut e) = (Vec::new(), Vec::new());
        let read_out = async {
            if let Some(s) = out.as_mut() {
                let _ = s.take(MAX_OUTPUT).read_to_end(&mut o).await;
            }
        };
        let read_err = async {
            if let Some(s) = err.as_mut() {
                let _ = s.take(MAX_OUTPUT).read_to_end(&mut e).await;
            }
        };
        let ((), (), status) = tokio::join!(read_out, read_err, child.wait());
        (o, e, status)
    };
    let result = tokio::time::timeout(TIMEOUT, work).await;
    if let Some(pgid) = pgid {
        // Whatever it left behind goes with it.
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pgid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let Ok((stdout, stderr, status)) = result else {
        return ran(
            format!("timed out after {}", humantime::format_duration(TIMEOUT)),
            false,
            Vec::new(),
        );
    };
    let mut output: Vec<String> = String::from_utf8_lossy(&stdout)
        .lines()
        .map(str::to_string)
        .collect();
    output.extend(String::from_utf8_lossy(&stderr).lines().map(str::to_string));
    match status {
        Ok(s) if s.success() => ran("exit 0".to_string(), true, output),
        Ok(s) => match (s.code(), std::os::unix::process::ExitStatusExt::signal(&s)) {
            (Some(code), _) => ran(format!("exit {code}"), false, output),
            (None, Some(sig)) => ran(
                format!(
                    "killed by {}",
                    backstop_supervisor::machine::signal_name(sig)
                ),
                false,
                output,
            ),
            (None, None) => ran("ended".to_string(), false, output),
        },
        Err(e) => ran(format!("cannot wait for it: {e}"), false, output),
    }
}
