//! Test support: a backstop config in a temp dir, the real binary, real
//! child processes, and waiting on conditions with a deadline (no sleeps
//! as synchronisation).
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_backstop");

/// Polls `check` every 20 ms until it returns `Some`, or panics after `timeout`.
pub fn wait_until<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// True when `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next());
            !matches!(state, Some("Z" | "X"))
        }
        Err(_) => false,
    }
}

/// The resident memory of `pid`, in kB.
pub fn rss_kb(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new(config: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("bs")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::write(dir.path().join("backstop.toml"), config).unwrap();
        Self { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, content: &str) {
        std::fs::write(self.path(rel), content).unwrap();
    }

    pub fn config(&self) -> PathBuf {
        self.path("backstop.toml")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("-c")
            .arg(self.config())
            .args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("BACKSTOP_CONFIG");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().unwrap()
    }

    /// The standard output of a command that must succeed.
    pub fn stdout(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The log of `service` once it contains `needle` (polled, with a deadline).
    pub fn wait_log(&self, service: &str, needle: &str, timeout: Duration) -> String {
        wait_until(
            &format!("`{needle}` in the log of {service}"),
            timeout,
            || {
                let logs = self.stdout(&["logs", service]);
                logs.contains(needle).then_some(logs)
            },
        )
    }

    /// The messages of the recorded events of `kind`, oldest first.
    pub fn event_messages(&self, kind: &str) -> Vec<String> {
        self.try_event_messages(kind)
            .unwrap_or_else(|| panic!("`backstop events --kind {kind}` failed"))
    }

    /// [`Self::event_messages`], or `None` while the history cannot be
    /// read (a new `events.db` being made).
    pub fn try_event_messages(&self, kind: &str) -> Option<Vec<String>> {
        let out = self.run(&["events", "--json", "--kind", kind]);
        out.status.success().then(|| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| {
                    let e: Value = serde_json::from_str(l).expect("an event as JSON");
                    e["message"].as_str().expect("a message").to_string()
                })
                .collect()
        })
    }

    /// Every pid in a file the test's services append their pids to.
    /// True when `pid` is alive and is a process of this sandbox's daemon
    /// (its environment names this state dir): over a long run, pids wrap
    /// (`pid_max` is 32,768 here) and a recorded pid may be another's now.
    pub fn runs(&self, pid: i32) -> bool {
        let state_dir = format!("BACKSTOP_STATE_DIR={}", self.path(".backstop").display());
        alive(pid)
            && std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                env.split(|&b| b == 0)
                    .any(|var| var.starts_with(state_dir.as_bytes()))
            })
    }

    pub fn read_pids(&self, rel: &str) -> Vec<i32> {
        std::fs::read_to_string(self.path(rel))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// `method path` on the daemon's unix socket: (status code, body).
    pub fn api(&self, method: &str, path: &str) -> (u16, String) {
        let socket = self.path(".backstop/backstop.sock");
        curl(&[
            "-X",
            method,
            "--unix-socket",
            socket.to_str().unwrap(),
            &format!("http://localhost{path}"),
        ])
    }

    /// `backstop up` in the foreground, ready once the socket answers.
    pub fn up(&self) -> Daemon {
        self.up_with(&[], |_| {})
    }

    pub fn up_with(&self, services: &[&str], tweak: impl FnOnce(&mut Command)) -> Daemon {
        let mut cmd = self.command(&["up"]);
        cmd.args(services)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(self.path("up.stdout")).unwrap())
            .stderr(std::fs::File::create(self.path("up.stderr")).unwrap());
        tweak(&mut cmd);
        let child = cmd.spawn().unwrap();
        let mut daemon = Daemon {
            child,
            state_dir: self.path(".backstop"),
        };
        wait_until("the daemon to answer", Duration::from_secs(20), || {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!(
                    "backstop up exited early ({status}): {}",
                    std::fs::read_to_string(self.path("up.stderr")).unwrap_or_default()
                );
            }
            self.try_status().map(|_| ())
        });
        daemon
    }

    pub fn try_status(&self) -> Option<Value> {
        let out = self.run(&["status", "--json"]);
        serde_json::from_slice(&out.stdout).ok()
    }

    pub fn status(&self) -> Value {
        self.try_status().expect("status --json answers")
    }

    pub fn service(&self, name: &str) -> Value {
        self.status()["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no service {name} in status"))
    }

    /// Waits until `name` is in `state`; returns its status.
    pub fn wait_state(&self, name: &str, state: &str, timeout: Duration) -> Value {
        let mut last = Value::Null;
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_until(&format!("{name} to be {state}"), timeout, || {
                let s = self.try_status()?;
                let svc = s["services"]
                    .as_array()?
                    .iter()
                    .find(|s| s["name"] == name)?
                    .clone();
                last = svc.clone();
                (svc["state"] == state).then_some(svc)
            })
        }));
        found.unwrap_or_else(|_| {
            panic!(
                "{name} never became {state}; last seen: {last}\n{}",
                self.daemon_output()
            )
        })
    }

    /// Waits until `name`'s status satisfies `ready`; returns that status.
    pub fn wait_service(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        ready: impl Fn(&Value) -> bool,
    ) -> Value {
        wait_until(what, timeout, || {
            let svc = self.service(name);
            ready(&svc).then_some(svc)
        })
    }

    pub fn daemon_output(&self) -> String {
        std::fs::read_to_string(self.path("up.stderr")).unwrap_or_default()
    }

    /// Waits for a file holding a pid (written by a test service) and reads it.
    pub fn read_pid(&self, rel: &str) -> i32 {
        wait_until(
            &format!("{rel} to hold a pid"),
            Duration::from_secs(20),
            || {
                std::fs::read_to_string(self.path(rel))
                    .ok()?
                    .trim()
                    .lines()
                    .last()?
                    .parse()
                    .ok()
            },
        )
    }
}

pub struct Daemon {
    pub child: Child,
    state_dir: PathBuf,
}

impl Daemon {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.pid()), sig).unwrap();
    }

    /// Waits for the daemon to exit by itself.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        wait_until("backstop to exit", timeout, || {
            self.child.try_wait().unwrap()
        })
    }

    pub fn stdout(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(self.state_dir.parent().unwrap().join("up.stdout")) {
            f.read_to_string(&mut s).ok();
        }
        s
    }
}

/// Whatever a test does, no process it started outlives it.
impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = kill(Pid::from_raw(self.pid()), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline && self.child.try_wait().ok().flatten().is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        kill_recorded(&self.state_dir);
    }
}

/// Stops a daemon started with `up -d` when the test ends, even if it fails
/// before its own `down`: the daemon's pid is in `daemon.pid`.
pub struct DetachedGuard {
    pub state_dir: PathBuf,
}

impl Drop for DetachedGuard {
    fn drop(&mut self) {
        let pid = std::fs::read_to_string(self.state_dir.join("daemon.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok());
        if let Some(pid) = pid.filter(|p| alive(*p)) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(20);
            while alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        kill_recorded(&self.state_dir);
    }
}

/// SIGKILLs the process groups recorded in a state dir (test clean-up only).
pub fn kill_recorded(state_dir: &Path) {
    if let Ok(text) = std::fs::read_to_string(state_dir.join("state.json"))
        && let Ok(state) = serde_json::from_str::<Value>(&text)
        && let Some(services) = state["services"].as_object()
    {
        for s in services.values() {
            if let Some(pgid) = s["pgid"].as_i64() {
                let _ = kill(Pid::from_raw(-(pgid as i32)), Signal::SIGKILL);
            }
        }
    }
}

/// Adds an inherited fd and an ignored signal to a spawned backstop, to
/// prove its children get neither.
pub fn leak_fd_and_ignore_usr2(cmd: &mut Command) {
    // SAFETY: dup2 and signal are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::dup2(2, 9) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            nix::sys::signal::signal(Signal::SIGUSR2, nix::sys::signal::SigHandler::SigIgn)
                .map_err(std::io::Error::from)?;
            Ok(())
        });
    }
}

/// A running `backstop logs -f` (or any command) whose stdout lines are
/// read on a thread, so that a test waits for a line with a deadline
/// instead of blocking forever. The process is killed when dropped.
pub struct LineStream {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl LineStream {
    /// Spawns `cmd` with its stdout piped.
    pub fn spawn(mut cmd: Command) -> Self {
        use std::io::BufRead;
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let out = child.stdout.take().expect("piped");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The next line, or a panic naming `what` after `timeout`.
    pub fn next(&self, what: &str, timeout: Duration) -> String {
        self.lines
            .recv_timeout(timeout)
            .unwrap_or_else(|_| panic!("timed out after {timeout:?} waiting for {what}"))
    }
}

impl Drop for LineStream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `curl -s` with `args`: (status code, body).
pub fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), body.to_string())
}

/// A tmpfs of a fixed size mounted on a directory (root only), unmounted
/// when dropped: a real full disk.
pub struct SmallDisk(PathBuf);

impl SmallDisk {
    /// Mounts a tmpfs of `size` (`"256k"`) on `dir`, which must exist.
    pub fn mount(dir: &Path, size: &str) -> Self {
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .status()
            .unwrap();
        assert!(
            mounted.success(),
            "mount a {size} tmpfs on {}",
            dir.display()
        );
        Self(dir.to_path_buf())
    }
}

/// `dir` made read-only in place (a read-only bind mount of itself),
/// writable again when dropped.
pub struct ReadOnly(PathBuf);

impl ReadOnly {
    pub fn mount(dir: &Path) -> Self {
        for args in [&["--bind"][..], &["-o", "remount,ro,bind"]] {
            let ok = Command::new("mount")
                .args(args)
                .arg(dir)
                .arg(dir)
                .status()
                .unwrap();
            assert!(ok.success(), "mount {args:?} {}", dir.display());
        }
        Self(dir.to_path_buf())
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The newest installed PostgreSQL's `bin/` directory.
pub fn postgres_bin() -> String {
    let mut versions: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .expect(
            "PostgreSQL is not installed: scripts/test installs it (apt-get install postgresql)",
        )
        .map(|e| e.unwrap().path())
        .collect();
    versions.sort();
    versions
        .last()
        .expect("a PostgreSQL version")
        .join("bin")
        .display()
        .to_string()
}

/// A sandbox whose `pg/` belongs to the `postgres` user, with `pg/pwfile`
/// holding the superuser's password `s3cret` for `initdb --pwfile`.
pub fn postgres_sandbox(config: &str) -> Sandbox {
    let s = Sandbox::new(config);
    std::fs::set_permissions(
        s.dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::create_dir(s.path("pg")).unwrap();
    std::fs::write(s.path("pg/pwfile"), "s3cret\n").unwrap();
    let status = std::process::Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(s.path("pg"))
        .status()
        .unwrap();
    assert!(status.success(), "chown to postgres (tests run as root)");
    s
}

/// Services `pg-init` (initdb as the `postgres` user, password `s3cret`)
/// and `postgres` on `port`, with a health check: for a [`postgres_sandbox`].
pub fn postgres_services(port: u16) -> String {
    let bin = postgres_bin();
    format!(
        r#"
[services.pg-init]
command = ["{bin}/initdb", "-D", "pg/data", "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile=pg/pwfile"]
user = "postgres"
restart = "never"

[services.postgres]
command = ["{bin}/postgres", "-D", "pg/data", "-p", "{port}", "-k", "", "-c", "listen_addresses=127.0.0.1"]
user = "postgres"
depends_on = {{ pg-init = "completed" }}
stop = {{ signal = "INT", timeout = "20s" }}

[[services.postgres.health]]
postgres = "postgres://postgres:s3cret@127.0.0.1:{port}/postgres"
interval = "200ms"
failures = 1
"#
    )
}

/// A process the test started in its own process group, killed with its
/// whole group when the test ends (by that pid, never by a name).
pub struct Reap(pub Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let pgid = Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::killpg(pgid, Signal::SIGKILL);
        let _ = self.0.wait();
    }
}

/// What the receiver got: (path, JSON body) of each request.
pub type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>;

/// An HTTP server that answers 200 to everything and keeps what it got.
pub fn receiver() -> (u16, Received) {
    use std::io::{BufRead, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .to_string();
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if header.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = header.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            keep.lock()
                .unwrap()
                .push((path, serde_json::from_slice(&body).unwrap()));
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (port, got)
}
