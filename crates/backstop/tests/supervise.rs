//! Supervision end to end: the real binary, real child processes.

mod support;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;
use support::{Reap, Sandbox, alive, free_port, wait_until};

const T: Duration = Duration::from_secs(20);

fn lines(sandbox: &Sandbox, rel: &str) -> Vec<String> {
    std::fs::read_to_string(sandbox.path(rel))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Parses an RFC 3339 UTC timestamp (as written by backstop) to seconds.
fn seconds(at: &Value) -> f64 {
    let t = humantime::parse_rfc3339(at.as_str().unwrap()).unwrap();
    t.duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn starts_in_dependency_order_and_stops_in_reverse() {
    let s = Sandbox::new(
        r#"
[services.migrate]
command = ["sh", "-c", "echo migrate >> order"]
restart = "never"

[services.db]
command = ["sh", "-c", "echo start-db >> order; trap 'echo stop-db >> order; exit 0' TERM; while :; do sleep 0.05; done"]

[services.api]
command = ["sh", "-c", "echo start-api >> order; trap 'echo stop-api >> order; exit 0' TERM; while :; do sleep 0.05; done"]
depends_on = { migrate = "completed", db = "started" }
"#,
    );
    let mut daemon = s.up();
    s.wait_state("api", "running", T);
    assert_eq!(s.service("migrate")["state"], "exited");
    let order = lines(&s, "order");
    let pos = |w: &str| {
        order
            .iter()
            .position(|l| l == w)
            .unwrap_or_else(|| panic!("{w} missing in {order:?}"))
    };
    assert!(pos("migrate") < pos("start-api"), "{order:?}");
    assert!(pos("start-db") < pos("start-api"), "{order:?}");

    daemon.signal(Signal::SIGTERM);
    assert!(daemon.wait(T).success());
    let order = lines(&s, "order");
    let pos = |w: &str| {
        order
            .iter()
            .position(|l| l == w)
            .unwrap_or_else(|| panic!("{w} missing in {order:?}"))
    };
    assert!(
        pos("stop-api") < pos("stop-db"),
        "dependents stop first: {order:?}"
    );
}

#[test]
fn pending_service_says_what_it_waits_for() {
    let s = Sandbox::new(
        r#"
[services.db]
command = "sleep 1000"
env_file = "missing.env"

[services.api]
command = "sleep 1000"
depends_on = { db = "healthy" }
"#,
    );
    let _daemon = s.up();
    s.wait_state("db", "failed", T);
    let api = s.wait_state("api", "pending", T);
    let detail = api["detail"].as_str().unwrap();
    assert_eq!(detail, "waiting for db to be healthy: db has failed");
}

#[test]
fn restarts_with_exponential_backoff() {
    let s = Sandbox::new(
        r#"
[services.flaky]
command = ["sh", "-c", "echo run >> runs; exit 1"]
restart = { backoff_initial = "200ms", backoff_factor = 2, backoff_max = "10s", max_restarts = 10 }
"#,
    );
    let _daemon = s.up();
    // `status NAME` shows the exit history, whose gaps grow.
    let exits = wait_until("three exits", T, || {
        let v: Value =
            serde_json::from_slice(&s.run(&["status", "--json", "flaky"]).stdout).ok()?;
        let exits = v["services"][0]["exits"].as_array()?.clone();
        (exits.len() >= 3).then_some(exits)
    });
    assert_eq!(exits[0]["code"], 1);
    let gap1 = seconds(&exits[1]["at"]) - seconds(&exits[0]["at"]);
    let gap2 = seconds(&exits[2]["at"]) - seconds(&exits[1]["at"]);
    assert!(gap1 >= 0.2, "first restart waits backoff_initial: {gap1}");
    assert!(gap2 >= 0.4, "second restart waits twice as long: {gap2}");
}

#[test]
fn crash_loop_after_max_restarts() {
    let s = Sandbox::new(
        r#"
[services.broken]
command = ["sh", "-c", "echo run >> runs; exit 2"]
restart = { backoff_initial = "10ms", max_restarts = 3, window = "1h" }
"#,
    );
    let _daemon = s.up();
    let svc = s.wait_state("broken", "crash-loop", T);
    assert_eq!(svc["restarts"], 3);
    assert_eq!(svc["last_exit"]["code"], 2);
    assert_eq!(
        lines(&s, "runs").len(),
        4,
        "max_restarts = 3 allows 4 starts"
    );
    assert!(
        svc["detail"]
            .as_str()
            .unwrap()
            .contains("backstop start broken"),
        "{svc}"
    );
    // Status reports the failure through its exit code.
    assert_eq!(s.run(&["status"]).status.code(), Some(1));
    // No more restarts happen: the daemon's event log ends with the crash loop.
    assert!(
        s.daemon_output()
            .contains("broken: crash loop: 3 restarts within 1h")
    );
}

#[test]
fn stop_kills_a_tree_that_ignores_sigterm_within_the_timeout() {
    stop_kills_a_tree_that_ignores_sigterm_within_the_timeout_in(true);
}

/// The same with `[daemon] cgroups = false`: the process tree alone.
#[test]
fn stop_kills_a_tree_that_ignores_sigterm_within_the_timeout_in_process_tree_mode() {
    stop_kills_a_tree_that_ignores_sigterm_within_the_timeout_in(false);
}

fn stop_kills_a_tree_that_ignores_sigterm_within_the_timeout_in(cgroups: bool) {
    let s = Sandbox::new(&with_mode(
        cgroups,
        r#"
[services.stubborn]
command = ["sh", "-c", """
trap '' TERM
sh -c 'trap "" TERM; echo $$ > grandchild.pid; exec sleep 1000' &
setsid sh -c 'trap "" TERM; echo $$ > escaped.pid; exec sleep 1000' &
echo $$ > main.pid
wait
"""]
stop = { timeout = "500ms" }
"#,
    ));
    let _daemon = s.up();
    s.wait_state("stubborn", "running", T);
    let pids = [
        s.read_pid("main.pid"),
        s.read_pid("grandchild.pid"),
        s.read_pid("escaped.pid"),
    ];
    assert!(pids.iter().all(|p| alive(*p)));
    let started = Instant::now();
    let out = s.run(&["stop", "stubborn"]);
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "stubborn: stopped"
    );
    for pid in pids {
        assert!(!alive(pid), "pid {pid} survived the stop");
    }
    assert!(
        took < Duration::from_millis(500) + Duration::from_secs(4),
        "took {took:?}"
    );
    assert!(s.daemon_output().contains("sending SIGKILL"));
}

#[test]
fn killed_master_leaves_no_workers_and_the_restart_binds_the_port() {
    let port = free_port();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/prefork.py");
    let s = Sandbox::new(&format!(
        r#"
[services.web]
command = ["python3", "{fixture}", "{port}", "2"]
port = {port}
restart = {{ backoff_initial = "0s" }}
"#
    ));
    let _daemon = s.up();
    let master = s.read_pid("master.pid");
    let workers: Vec<i32> = wait_until("two workers", T, || {
        let w: Vec<i32> = lines(&s, "workers")
            .iter()
            .filter_map(|l| l.parse().ok())
            .collect();
        (w.len() == 2).then_some(w)
    });
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(master), Signal::SIGKILL).unwrap();
    let new_master = wait_until("a new master to bind", T, || {
        let events = lines(&s, "events");
        assert!(
            !events.iter().any(|e| e.starts_with("bind-failed")),
            "restart raced the old workers: {events:?}"
        );
        events
            .iter()
            .filter(|e| e.starts_with("bound"))
            .nth(1)
            .map(|e| e[6..].parse::<i32>().unwrap())
    });
    assert_ne!(new_master, master);
    for w in workers {
        assert!(!alive(w), "worker {w} of the killed master still runs");
    }
    let svc = s.wait_state("web", "running", T);
    assert_eq!(svc["pid"], new_master);
    assert_eq!(svc["last_exit"]["signal"], "SIGKILL");
    // The port answers from the new master's workers.
    let mut reply = String::new();
    std::net::TcpStream::connect(("127.0.0.1", port))
        .unwrap()
        .read_to_string(&mut reply)
        .unwrap();
    assert_eq!(reply.trim().parse::<i32>().unwrap(), new_master);
}

#[test]
fn main_mode_signals_only_the_main_process() {
    let script = |tag: &str| {
        format!(
            r#"["sh", "-c", """
sh -c 'trap "echo {tag}-child-term >> signals; exit 0" TERM; echo $$ > {tag}-child.pid; while :; do sleep 0.05; done' &
trap 'echo {tag}-main-term >> signals; exit 0' TERM
echo $$ > {tag}-main.pid
wait
"""]"#
        )
    };
    let s = Sandbox::new(&format!(
        r#"
[services.main_mode]
command = {}
stop = {{ mode = "main", timeout = "5s" }}

[services.group_mode]
command = {}
stop = {{ mode = "group", timeout = "5s" }}
"#,
        script("main"),
        script("group")
    ));
    let _daemon = s.up();
    let children = [s.read_pid("main-child.pid"), s.read_pid("group-child.pid")];
    s.read_pid("main-main.pid");
    s.read_pid("group-main.pid");
    let out = s.run(&["stop", "main_mode", "group_mode"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signals = lines(&s, "signals");
    assert!(
        signals.contains(&"main-main-term".to_string()),
        "{signals:?}"
    );
    assert!(
        !signals.contains(&"main-child-term".to_string()),
        "main mode must not signal the child: {signals:?}"
    );
    assert!(
        signals.contains(&"group-child-term".to_string()),
        "group mode signals everyone: {signals:?}"
    );
    for pid in children {
        assert!(!alive(pid));
    }
}

#[test]
fn sigterm_to_backstop_leaves_no_process_behind() {
    sigterm_to_backstop_leaves_no_process_behind_in(true);
}

/// The same with `[daemon] cgroups = false`: the process tree alone.
#[test]
fn sigterm_to_backstop_leaves_no_process_behind_in_process_tree_mode() {
    sigterm_to_backstop_leaves_no_process_behind_in(false);
}

fn sigterm_to_backstop_leaves_no_process_behind_in(cgroups: bool) {
    let s = Sandbox::new(&with_mode(
        cgroups,
        r#"
[services.a]
command = ["sh", "-c", "sleep 1000 & echo $! > a-child.pid; setsid sleep 1000 & echo $! > a-escaped.pid; wait"]

[services.b]
command = ["sh", "-c", "echo $$ > b.pid; exec sleep 1000"]
depends_on = ["a"]
"#,
    ));
    let mut daemon = s.up();
    s.wait_state("b", "running", T);
    let pids: Vec<i32> = ["a-child.pid", "a-escaped.pid", "b.pid"]
        .iter()
        .map(|f| s.read_pid(f))
        .collect();
    let a_main = s.service("a")["pid"].as_i64().unwrap() as i32;
    daemon.signal(Signal::SIGTERM);
    let status = daemon.wait(T);
    assert!(status.success(), "exit status {status}");
    for pid in pids.iter().chain([&a_main]) {
        assert!(!alive(*pid), "pid {pid} outlived backstop");
    }
    assert!(
        !s.path(".backstop/backstop.sock").exists(),
        "socket removed"
    );
}

#[test]
fn after_sigkill_of_backstop_a_new_up_runs_exactly_one_instance() {
    let s = Sandbox::new(
        r#"
[services.app]
command = ["sh", "-c", "echo $$ >> pids; exec sleep 1000"]
"#,
    );
    let mut first = s.up();
    let old = s.read_pid("pids");
    first.signal(Signal::SIGKILL);
    first.wait(T);
    assert!(alive(old), "the child outlives a SIGKILLed backstop");
    let _second = s.up();
    let svc = s.wait_state("app", "running", T);
    let new = svc["pid"].as_i64().unwrap() as i32;
    assert_ne!(new, old);
    assert!(
        !alive(old),
        "the leftover of the killed backstop was stopped"
    );
    // …and the history says so.
    let cleanup = s.event_messages("leftover");
    assert!(
        cleanup.iter().any(|m| m.contains(&old.to_string())),
        "a leftover event names pid {old}: {cleanup:?}"
    );
    let started: Vec<String> = lines(&s, "pids");
    let running: Vec<&String> = started
        .iter()
        .filter(|p| alive(p.parse().unwrap()))
        .collect();
    assert_eq!(running, vec![&new.to_string()]);
}

#[test]
fn port_held_by_an_unrelated_process_fails_with_its_name() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let s = Sandbox::new(&format!(
        r#"
[services.api]
command = "sleep 1000"
port = {port}

[services.other]
command = "sleep 1000"
"#
    ));
    let _daemon = s.up();
    let svc = s.wait_state("api", "failed", T);
    let detail = svc["detail"].as_str().unwrap();
    let me = std::process::id();
    assert!(
        detail.starts_with(&format!("port {port} is already in use by pid {me} (")),
        "{detail}"
    );
    assert!(
        detail.ends_with("which is not part of service `api`"),
        "{detail}"
    );
    assert_eq!(svc["restarts"], 0, "no crash loop");
    s.wait_state("other", "running", T);
}

#[test]
fn a_leftover_of_the_same_service_on_its_port_is_stopped() {
    let port = free_port();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/prefork.py");
    // Process-tree mode: in cgroup mode the leftover is found by its cgroup
    // before the port is looked at (limits.rs tests that).
    let s = Sandbox::new(&format!(
        r#"
[daemon]
cgroups = false

[services.web]
command = ["python3", "{fixture}", "{port}", "1"]
port = {port}
"#
    ));
    let mut first = s.up();
    let old = s.read_pid("master.pid");
    first.signal(Signal::SIGKILL);
    first.wait(T);
    // Lose the record of it: only the port and its environment tell.
    std::fs::remove_file(s.path(".backstop/state.json")).unwrap();
    assert!(alive(old));
    let _second = s.up();
    let svc = s.wait_state("web", "running", T);
    assert_ne!(svc["pid"].as_i64().unwrap() as i32, old);
    assert!(!alive(old));
    assert!(
        s.daemon_output()
            .contains("stopping a leftover instance holding port")
    );
}

#[test]
fn children_get_default_signals_and_only_three_fds() {
    let s = Sandbox::new(
        r#"
[services.probe]
command = "sleep 1000"
"#,
    );
    let _daemon = s.up_with(&[], support::leak_fd_and_ignore_usr2);
    let svc = s.wait_state("probe", "running", T);
    let pid = svc["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap()
            .to_string()
    };
    assert_eq!(
        field("SigIgn:"),
        "0000000000000000",
        "SIGPIPE and SIGUSR2 must not be ignored"
    );
    assert_eq!(field("SigBlk:"), "0000000000000000");
    let mut fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    fds.sort();
    assert_eq!(fds, vec!["0", "1", "2"]);
    // Own session and process group.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(fields[2], pid.to_string(), "process group");
    assert_eq!(fields[3], pid.to_string(), "session");
}

#[test]
fn missing_env_file_fails_that_service_only() {
    let s = Sandbox::new(
        r#"
[services.api]
command = "sleep 1000"
env_file = "missing.env"

[services.worker]
command = ["sh", "-c", "echo $GREETING $FROM_TABLE > env.out; exec sleep 1000"]
env_file = "worker.env"
env = { FROM_TABLE = "table" }
"#,
    );
    s.write("worker.env", "GREETING=hello\nFROM_TABLE=file\n");
    let validate = s.run(&["validate"]);
    assert!(validate.status.success());
    assert!(
        String::from_utf8_lossy(&validate.stderr)
            .contains("warning: env file of service `api` does not exist")
    );
    let _daemon = s.up();
    let api = s.wait_state("api", "failed", T);
    assert_eq!(
        api["detail"].as_str().unwrap(),
        format!(
            "cannot read env file {}: no such file",
            s.path("missing.env").display()
        )
    );
    s.wait_state("worker", "running", T);
    wait_until("worker env", T, || {
        (std::fs::read_to_string(s.path("env.out")).ok()?.trim() == "hello table").then_some(())
    });
}

#[test]
fn cli_without_daemon_exits_3_and_second_up_refuses() {
    let s = Sandbox::new("[services.a]\ncommand = \"sleep 1000\"\n");
    let out = s.run(&["status"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no backstop daemon is running"));
    let _daemon = s.up();
    let second = s.run(&["up"]);
    assert_eq!(second.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("backstop is already running for"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    // `up -d` asks for a running daemon of this config: it is there.
    let again = s.run(&["up", "-d"]);
    assert_eq!(again.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("backstop.toml (pid ")
            && String::from_utf8_lossy(&again.stdout).contains("nothing to do"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    let mode = std::fs::metadata(s.path(".backstop/backstop.sock")).unwrap();
    assert_eq!(mode.permissions().mode() & 0o777, 0o600);
}

#[test]
fn unknown_names_are_usage_errors_with_a_suggestion_and_all_means_every_service() {
    let s = Sandbox::new(
        "[services.api]\ncommand = \"sleep 1000\"\n\n[services.worker]\ncommand = \"sleep 1000\"\n",
    );
    let _daemon = s.up();
    s.wait_state("worker", "running", T);
    let out = s.run(&["restart", "apj"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no service named `apj` (did you mean `api`?)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = s.run(&["events", "--kind", "exitd"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("(did you mean `exited`?)"));
    let out = s.run(&["stop", "all"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("api: stopped") && text.contains("worker: stopped"),
        "{text}"
    );
    let events = s.stdout(&["events", "api", "--kind", "state"]);
    assert!(events.lines().all(|l| l.contains(" api ")), "{events}");
    assert!(events.contains("api: stopping → stopped"), "{events}");
}

#[test]
fn sighup_restarts_only_changed_services() {
    let s = Sandbox::new(
        r#"
[services.same]
command = "sleep 1000"

[services.changing]
command = "sleep 1000"
"#,
    );
    let daemon = s.up();
    let same = s.wait_state("same", "running", T)["pid"].clone();
    let before = s.wait_state("changing", "running", T)["pid"].clone();
    s.write(
        "backstop.toml",
        "[services.same]\ncommand = \"sleep 1000\"\n\n[services.changing]\ncommand = \"sleep 1001\"\n\n[services.added]\ncommand = \"sleep 1000\"\n",
    );
    daemon.signal(Signal::SIGHUP);
    s.wait_state("added", "running", T);
    let after = s.wait_service("changing", "changing to restart", T, |svc| {
        svc["state"] == "running" && svc["pid"] != before
    });
    assert_ne!(after["pid"], before);
    assert_eq!(
        s.service("same")["pid"],
        same,
        "unchanged service keeps running"
    );
}

#[test]
fn up_detached_returns_once_started_and_down_stops_everything() {
    let s = Sandbox::new(
        r#"
[services.web]
command = ["sh", "-c", "echo $$ > web.pid; exec sleep 1000"]
"#,
    );
    let _guard = support::DetachedGuard {
        state_dir: s.path(".backstop"),
    };
    let out = s.run(&["up", "-d"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let row: Vec<&str> = stdout
        .lines()
        .find(|l| l.starts_with("web "))
        .expect(&stdout)
        .split_whitespace()
        .collect();
    assert_eq!(row[1], "running", "{stdout}");
    let pid = s.read_pid("web.pid");
    let down = s.run(&["down"]);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(!alive(pid));
    assert_eq!(s.run(&["status"]).status.code(), Some(3));
}

#[test]
fn reloading_a_broken_config_reports_every_error_and_changes_nothing() {
    let s = Sandbox::new("[services.app]\ncommand = \"sleep 1000\"\n");
    let _daemon = s.up();
    let pid = s.wait_state("app", "running", T)["pid"].clone();
    s.write("backstop.toml", "[services.app]\ncomand = \"sleep 1001\"\n");
    let out = s.run(&["reload"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown key `comand` in service `app`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `command`?"), "{stderr}");
    assert_eq!(
        s.service("app")["pid"],
        pid,
        "the old config stays in force"
    );
    assert!(
        s.daemon_output()
            .contains("config not reloaded; the old one stays in force")
    );
}

#[test]
fn a_terminal_that_does_not_read_stalls_nothing() {
    let s = Sandbox::new(
        r#"
[services.flood]
command = ["yes", "a line of output that nobody reads on the terminal"]

[services.churn]
command = ["sh", "-c", "exit 1"]
restart = { backoff_initial = "10ms", backoff_factor = 1, max_restarts = 999999 }

[services.victim]
command = "sleep 1000"
"#,
    );
    // `backstop up | less` at a page break: both pipes are never read.
    let _daemon = s.up_with(&[], |cmd| {
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
    });
    let before = s.wait_state("victim", "running", T)["pid"]
        .as_i64()
        .unwrap();
    // Far more than both pipes hold has been captured to the log file...
    wait_until("20 MB of flood in its log", T, || {
        let len = std::fs::metadata(s.path(".backstop/logs/flood.log"))
            .ok()?
            .len();
        (len > 20_000_000).then_some(())
    });
    // ... and hundreds of restarts (each several events on stderr) happened.
    s.wait_service("churn", "200 restarts", T, |c| {
        c["restarts"].as_u64() >= Some(200)
    });
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(before as i32), Signal::SIGKILL).unwrap();
    s.wait_service("victim", "a restart after SIGKILL", T, |v| {
        v["state"] == "running" && v["pid"].as_i64().is_some_and(|p| p != before)
    });
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn the_state_dir_is_private_and_so_is_everything_in_it() {
    let s = Sandbox::new(
        r#"
[services.app]
command = ["sh", "-c", "echo hello; exec sleep 1000"]
"#,
    );
    // Left open by an older backstop, or made by hand under umask 022.
    std::fs::create_dir_all(s.path(".backstop/logs")).unwrap();
    for dir in [".backstop", ".backstop/logs"] {
        std::fs::set_permissions(s.path(dir), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for old in [
        ".backstop/daemon.log",
        ".backstop/logs/old.log.20261101T000000.000Z.gz",
    ] {
        s.write(old, "old\n");
        std::fs::set_permissions(s.path(old), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let _daemon = s.up();
    s.wait_state("app", "running", T);
    wait_until("the output logged", T, || {
        std::fs::read_to_string(s.path(".backstop/logs/app.log"))
            .ok()
            .filter(|l| l.contains("hello"))
    });
    wait_until("the history written", T, || {
        s.path(".backstop/events.db-wal").exists().then_some(())
    });
    let expected = [
        (".backstop", 0o700),
        (".backstop/logs", 0o700),
        (".backstop/backstop.sock", 0o600),
        (".backstop/daemon.pid", 0o600),
        (".backstop/daemon.log", 0o600),
        (".backstop/state.json", 0o600),
        (".backstop/events.db", 0o600),
        (".backstop/events.db-wal", 0o600),
        (".backstop/logs/app.log", 0o600),
        (".backstop/logs/old.log.20261101T000000.000Z.gz", 0o600),
    ];
    for (rel, want) in expected {
        assert_eq!(mode(&s.path(rel)), want, "{rel}: {:o}", mode(&s.path(rel)));
    }
}

#[test]
fn a_state_dir_of_another_user_is_refused() {
    let s = Sandbox::new("[services.app]\ncommand = \"sleep 1000\"\n");
    std::fs::create_dir(s.path(".backstop")).unwrap();
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    nix::unistd::chown(&s.path(".backstop"), Some(nobody.uid), None).unwrap();
    let out = s.run(&["up", "-d"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            ".backstop belongs to uid {}, not to you (uid {})",
            nobody.uid,
            nix::unistd::Uid::effective()
        )),
        "{err}"
    );
}

/// A stale instance of service `web` on `port`, started by hand from a
/// script (its own process group) that exported the service's markers.
/// `ignore_term`: the instance ignores SIGTERM. Returns (script, stale pid).
fn stale_instance(s: &Sandbox, port: u16, ignore_term: bool) -> (std::process::Child, i32) {
    use std::os::unix::process::CommandExt;
    let trap = if ignore_term { "trap '' TERM; " } else { "" };
    let script = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "({trap}exec python3 -m http.server {port} --bind 127.0.0.1) & echo $! > stale.pid; exec sleep 1000"
        ))
        .env("BACKSTOP_SERVICE", "web")
        .env("BACKSTOP_STATE_DIR", s.path(".backstop"))
        .current_dir(s.dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let stale = s.read_pid("stale.pid");
    wait_until("the stale instance to listen", T, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    (script, stale)
}

#[test]
fn clearing_a_port_spares_whatever_started_the_stale_instance() {
    let port = free_port();
    let s = Sandbox::new(&format!(
        r#"
[services.web]
command = ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
port = {port}
"#
    ));
    let (script, stale) = stale_instance(&s, port, false);
    let script = Reap(script);
    let _daemon = s.up();
    let web = s.wait_state("web", "running", T);
    assert_ne!(web["pid"].as_i64().unwrap() as i32, stale);
    assert!(!alive(stale), "the stale instance is stopped");
    assert!(
        alive(script.0.id() as i32),
        "the script that started it, in the same process group, is not"
    );
}

#[test]
fn a_restart_while_the_port_is_cleared_starts_one_instance() {
    let port = free_port();
    let s = Sandbox::new(&format!(
        r#"
[services.web]
command = ["sh", "-c", "echo $$ >> starts; exec python3 -m http.server {port} --bind 127.0.0.1"]
port = {port}
stop = {{ timeout = "2s" }}

[[services.web.health]]
tcp = "127.0.0.1:{port}"
interval = "100ms"
"#
    ));
    // It ignores SIGTERM: the clearing takes the whole stop timeout.
    let (script, stale) = stale_instance(&s, port, true);
    let _script = Reap(script);
    let _daemon = s.up();
    s.wait_service("web", "the clearing to begin", T, |web| {
        web["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("stopping a leftover instance"))
    });
    for _ in 0..2 {
        let out = s.run(&["restart", "web", "--no-wait"]);
        assert!(out.status.success(), "{out:?}");
    }
    s.wait_state("web", "running", T);
    assert!(!alive(stale));
    let starts = std::fs::read_to_string(s.path("starts")).unwrap();
    assert_eq!(starts.lines().count(), 1, "one instance: {starts}");
}

/// `strace -f` on a running process, recording the files it opens.
struct Trace {
    child: std::process::Child,
    out: std::path::PathBuf,
}

impl Trace {
    /// Attaches, and returns once the trace shows `sync` being opened
    /// (`poke` makes the traced process open it).
    fn attach(pid: i32, out: std::path::PathBuf, sync: &str, poke: impl Fn()) -> Self {
        let child = std::process::Command::new("strace")
            .args(["-f", "-qq", "-e", "trace=openat", "-o"])
            .arg(&out)
            .args(["-p", &pid.to_string()])
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("strace (scripts/test installs it)");
        wait_until("strace to attach", T, || {
            poke();
            std::fs::read_to_string(&out)
                .ok()
                .filter(|t| t.contains(sync))
                .map(|_| ())
        });
        Self { child, out }
    }

    /// Detaches, and returns the pids whose `/proc/<pid>` was opened.
    fn stat_reads(mut self) -> std::collections::HashSet<i32> {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            Signal::SIGINT,
        )
        .unwrap();
        self.child.wait().unwrap();
        let text = std::fs::read_to_string(&self.out).unwrap();
        text.lines()
            .filter_map(|l| {
                let path = l.split('"').nth(1)?;
                let rest = path.strip_prefix("/proc/")?;
                rest.split('/').next()?.parse().ok()
            })
            .collect()
    }
}

/// Process-tree mode (`cgroups = false`): each service's tree is walked,
/// never the whole process table.
#[test]
fn status_health_and_metrics_read_the_services_trees_not_the_whole_host() {
    use std::os::unix::process::CommandExt;
    let port = free_port();
    let s = Sandbox::new(&format!(
        r#"
[daemon]
listen = "127.0.0.1:{port}"
cgroups = false

[services.api]
command = ["sh", "-c", "sleep 1000 & exec sleep 1000"]

[services.worker]
command = "sleep 1000"
"#
    ));
    // A busy host: a thousand processes that are none of backstop's business.
    let crowd = Reap(
        std::process::Command::new("sh")
            .args(["-c", "for i in $(seq 1000); do sleep 1000 & done; wait"])
            .process_group(0)
            .spawn()
            .unwrap(),
    );
    wait_until("the crowd to start", T, || {
        (procfs_count() > 1000).then_some(())
    });
    let daemon = s.up();
    let worker = s.wait_state("worker", "running", T)["pid"].clone();
    let trace = Trace::attach(
        daemon.pid(),
        s.path("strace.out"),
        &format!("\"/proc/{worker}\""),
        || drop(s.status()),
    );
    let status = s.status();
    assert!(status["services"][0]["rss_bytes"].as_u64().unwrap() > 0);
    assert_eq!(s.api("GET", "/health").0, 200);
    let (code, metrics) = support::curl(&[&format!("http://127.0.0.1:{port}/metrics")]);
    assert_eq!(code, 200, "{metrics}");
    let read = trace.stat_reads();
    assert!(
        read.len() < 50,
        "{} processes read for 3 services' figures",
        read.len()
    );
    drop(crowd);
}

/// Cgroup mode: the figures come from each service's cgroup; no process
/// is read in /proc for them.
#[test]
fn in_cgroup_mode_status_reads_the_cgroups_not_proc() {
    let s = Sandbox::new(
        r#"
[services.api]
command = ["sh", "-c", "sleep 1000 & exec sleep 1000"]

[services.worker]
command = "sleep 1000"
"#,
    );
    let daemon = s.up();
    let tracking = s.status()["daemon"]["tracking"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        tracking.starts_with("cgroup"),
        "needs cgroup mode: {tracking}"
    );
    s.wait_state("worker", "running", T);
    let trace = Trace::attach(daemon.pid(), s.path("strace.out"), "memory.stat", || {
        drop(s.status());
    });
    let status = s.status();
    let api = &status["services"][0];
    assert!(api["rss_bytes"].as_u64().unwrap() > 0, "{api}");
    assert!(api["cpu_seconds"].as_f64().is_some(), "{api}");
    let read = trace.stat_reads();
    let services: Vec<i32> = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["pid"].as_i64().map(|p| p as i32))
        .collect();
    assert!(
        services.iter().all(|p| !read.contains(p)),
        "the services' processes were read in /proc: {read:?}"
    );
}

fn procfs_count() -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        })
        .count()
}

#[test]
fn a_project_in_a_deep_directory_runs() {
    let s = Sandbox::new("");
    let deep = s.path(&format!("{}/{}", "d".repeat(50), "e".repeat(50)));
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(
        deep.join("backstop.toml"),
        "[services.app]\ncommand = \"sleep 1000\"\n",
    )
    .unwrap();
    let socket = deep.join(".backstop/backstop.sock");
    assert!(socket.as_os_str().len() > 108, "{}", socket.display());
    let run = |args: &[&str]| {
        std::process::Command::new(support::BIN)
            .arg("-c")
            .arg(deep.join("backstop.toml"))
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let _guard = support::DetachedGuard {
        state_dir: deep.join(".backstop"),
    };
    let up = run(&["up", "-d"]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert!(socket.exists());
    let status = run(&["status", "--json"]);
    let v: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v["services"][0]["state"], "running");
    let down = run(&["down"]);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
}

/// `config` in cgroup mode (where the host allows it), or with
/// `[daemon] cgroups = false`.
fn with_mode(cgroups: bool, config: &str) -> String {
    if cgroups {
        config.to_string()
    } else {
        format!("[daemon]\ncgroups = false\n{config}")
    }
}

/// `${VAR}` in the config comes from `[daemon] env_file` (and backstop's
/// environment); `$${VAR}` is left to the service's shell.
#[test]
fn variables_in_the_config_come_from_the_daemon_env_file() {
    let s = Sandbox::new(
        r#"
[daemon]
env_file = "backstop.env"

[services.greeter]
command = ["sh", "-c", "echo ${WHO} from $${WHERE}; exec sleep 1000"]
env = { WHERE = "${PLACE:-the shell}" }
"#,
    );
    s.write("backstop.env", "WHO=world\n");
    let _daemon = s.up();
    s.wait_state("greeter", "running", T);
    let said = s.wait_log("greeter", " from ", T);
    assert!(said.contains("world from the shell"), "{said}");
}

/// `disabled = true`: kept in the config, left stopped by `up`, started by
/// name.
#[test]
fn a_disabled_service_is_left_stopped_until_started_by_name() {
    let s = Sandbox::new(
        r#"
[services.nightly]
command = "sleep 1000"
disabled = true

[services.web]
command = "sleep 1000"
"#,
    );
    // Nothing runs: `down` has nothing to do, and says so (exit 0).
    let out = s.run(&["down"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to stop"));
    let _daemon = s.up();
    s.wait_state("web", "running", T);
    assert_eq!(s.service("nightly")["state"], "stopped");
    // `--all` is what `up` starts: not the disabled one.
    let out = s.stdout(&["restart", "--all"]);
    assert!(
        out.contains("web: running") && !out.contains("nightly"),
        "{out}"
    );
    assert_eq!(s.service("nightly")["state"], "stopped");
    let out = s.run(&["start", "nightly"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.wait_state("nightly", "running", T);
}

/// `backstop ls`: every daemon of this user, across projects, like `pm2 ls`.
#[test]
fn ls_lists_the_daemons_of_every_project() {
    let runtime = tempfile::tempdir().unwrap();
    let a = Sandbox::new("[services.a]\ncommand = \"sleep 1000\"\n");
    let b = Sandbox::new("[services.b]\ncommand = \"sleep 1000\"\n");
    let with_runtime = |cmd: &mut std::process::Command| {
        cmd.env("XDG_RUNTIME_DIR", runtime.path());
    };
    let da = a.up_with(&[], with_runtime);
    let _db = b.up_with(&[], with_runtime);
    let ls = || {
        let out = a
            .command(&["ls", "--json"])
            .env("XDG_RUNTIME_DIR", runtime.path())
            .output()
            .unwrap();
        assert!(out.status.success());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|d| d["config"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let both = ls();
    assert_eq!(both.len(), 2, "{both:?}");
    assert!(both.contains(&a.config().display().to_string()), "{both:?}");
    assert!(both.contains(&b.config().display().to_string()), "{both:?}");
    // A daemon killed without a word is not listed (its record is stale).
    da.signal(Signal::SIGKILL);
    wait_until("a's daemon gone from ls", T, || {
        (ls().len() == 1).then_some(())
    });
    assert_eq!(ls(), [b.config().display().to_string()]);
    // A new daemon takes over what the killed one left (and, at its end,
    // removes the cgroups).
    let _again = a.up_with(&[], with_runtime);
    wait_until("a back in ls", T, || (ls().len() == 2).then_some(()));
}

/// A wait that cannot succeed ends at once, with the reason: a service
/// pending on a dependency that failed will not start by itself.
#[test]
fn waits_on_a_failed_dependency_end_at_once_with_the_reason() {
    let s = Sandbox::new(
        r#"
[services.db]
command = ["sh", "-c", "exit 1"]
restart = { max_restarts = 1, backoff_initial = "50ms" }

[[services.db.health]]
exec = "false"
interval = "100ms"

[services.api]
command = "sleep 1000"
depends_on = { db = "healthy" }
"#,
    );
    // Stopped when the test ends, even if it fails first.
    let _guard = support::DetachedGuard {
        state_dir: s.path(".backstop"),
    };
    // `up -d` asked to wait two minutes returns well before: nothing it
    // waits for can happen.
    let mut up = s.command(&["up", "-d", "--wait", "120s"]).spawn().unwrap();
    let status = wait_until("up -d to return", T, || up.try_wait().unwrap());
    assert!(!status.success());
    let api = s.service("api");
    assert_eq!(api["state"], "pending");
    assert!(
        api["detail"]
            .as_str()
            .unwrap()
            .contains("is in a crash loop"),
        "{api}"
    );
    let mut start = s.command(&["start", "api"]).spawn().unwrap();
    let status = wait_until("start to return", T, || start.try_wait().unwrap());
    assert_eq!(status.code(), Some(1));
    assert!(s.run(&["down"]).status.success());
}
