//! `limits = { … }` on a service: thresholds watched on its real process
//! tree, `nofile` seen by the real child, and the verdict of `diagnose`.

mod support;

use std::time::Duration;

use support::Sandbox;

const T: Duration = Duration::from_secs(30);

/// Without cgroups (`[daemon] cgroups = false`) the sampler holds the
/// limits: degraded with the figure, restarted (SIGTERM) above memory_max.
#[test]
fn limits_degrade_with_the_figure_then_restart_above_memory_max() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/grow.py");
    let s = Sandbox::new(&format!(
        r#"
[daemon]
cgroups = false

[services.hog]
command = ["python3", "{fixture}"]
restart = {{ backoff_initial = "0s" }}
limits = {{ memory_warn = "60MB", memory_max = "150MB" }}
"#
    ));
    let _daemon = s.up();
    let hog = s.wait_service("hog", "hog above memory_warn", T, |hog| {
        hog["health"] == "degraded"
    });
    assert_eq!(hog["state"], "running", "limits are not a readiness check");
    let check = &hog["checks"][0];
    assert_eq!(check["name"], "limits");
    let detail = check["detail"].as_str().unwrap();
    assert!(detail.ends_with(": above memory_warn 60.0 MB"), "{detail}");
    let status = s.stdout(&["status", "hog"]);
    assert!(
        status.contains("limits of hog:\n  memory ")
            && status.contains(", degraded above 60.0 MB, restarted above 150.0 MB"),
        "{status}"
    );
    assert!(
        s.status()["daemon"]["tracking"]
            .as_str()
            .unwrap()
            .starts_with("process tree (no cgroups: `[daemon] cgroups = false`)"),
        "{}",
        s.status()
    );

    std::fs::write(s.path("more"), "").unwrap();
    let hog = s.wait_service("hog", "a memory_max restart", T, |hog| {
        hog["restarts"].as_u64().is_some_and(|n| n >= 1)
    });
    assert_eq!(hog["last_exit"]["signal"], "SIGTERM");
    let events = s.stdout(&["events", "--kind", "memory-max"]);
    assert!(
        events.contains("above memory_max 150.0 MB; restarting"),
        "the event carries the figure: {events}"
    );
}

#[test]
fn nofile_is_the_limit_the_child_sees() {
    let s = Sandbox::new(
        r#"
[services.lim]
command = ["sh", "-c", "echo soft=$(ulimit -Sn) hard=$(ulimit -Hn); exec sleep 1000"]
limits = { nofile = 64 }
"#,
    );
    let _daemon = s.up();
    s.wait_state("lim", "running", T);
    let said = s.wait_log("lim", "soft=", T);
    assert!(said.contains("soft=64 hard=64"), "{said}");
}

#[test]
fn nofile_above_the_hard_limit_is_refused_by_name_unless_backstop_may_raise_it() {
    let hard: u64 = String::from_utf8(
        std::process::Command::new("sh")
            .args(["-c", "ulimit -Hn"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap_or(u64::MAX);
    if hard == u64::MAX {
        return; // unlimited: nothing is above it
    }
    let wanted = hard + 1;
    let s = Sandbox::new(&format!(
        "[services.lim]\ncommand = [\"sh\", \"-c\", \"echo hard=$(ulimit -Hn); exec sleep 1000\"]\nlimits = {{ nofile = {wanted} }}\n"
    ));
    // CAP_SYS_RESOURCE is bit 24 of CapEff: root in a container often lacks it.
    let may_raise = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << 24) != 0);
    let _daemon = s.up();
    if may_raise {
        s.wait_state("lim", "running", T);
        let said = s.wait_log("lim", "hard=", T);
        assert!(said.contains(&format!("hard={wanted}")), "{said}");
    } else {
        // Not "cannot execute sh": the limit, the figures and the way out.
        let failed = s.wait_state("lim", "failed", T);
        let detail = failed["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(&format!(
                "limits.nofile = {wanted} is above the hard limit of open files ({hard})"
            )) && detail.contains("CAP_SYS_RESOURCE"),
            "{detail}"
        );
    }
}

#[test]
fn a_service_over_memory_max_is_diagnosed_out_of_memory_with_the_figure() {
    let s = Sandbox::new(
        r#"
[daemon]
cgroups = false

[services.api]
command = ["python3", "-c", "import time; hog = b'x' * 60_000_000; time.sleep(100)"]
restart = { max_restarts = 1, backoff_initial = "50ms" }
limits = { memory_max = "30MB" }
"#,
    );
    let _daemon = s.up();
    s.wait_state("api", "crash-loop", T);
    let out = s.run(&["diagnose", "api", "--json"]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["causes"][0]["id"], "out-of-memory", "{r:#}");
    let summary = r["causes"][0]["summary"].as_str().unwrap();
    assert!(summary.contains("above memory_max 30.0 MB"), "{summary}");
}

/// The tests below need a writable cgroup hierarchy (CI runs them as root
/// on a host with one): they fail, saying so, where there is none.
fn cgroup_mode(s: &Sandbox) -> String {
    let tracking = s.status()["daemon"]["tracking"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        tracking.starts_with("cgroup"),
        "these tests need cgroup mode (root and a writable cgroup hierarchy); the daemon says: {tracking}"
    );
    tracking
}

#[test]
fn the_kernel_holds_memory_max_and_the_oom_kill_is_named_with_the_figure() {
    let s = Sandbox::new(
        r#"
[services.hog]
command = ["python3", "-c", "import time; held = [b'x' * 10_000_000 for _ in range(20)]; time.sleep(100)"]
restart = { max_restarts = 1, backoff_initial = "50ms" }
limits = { memory_max = "64MB" }
"#,
    );
    let _daemon = s.up();
    cgroup_mode(&s);
    let hog = s.wait_service("hog", "an oom kill", T, |hog| {
        hog["last_exit"]["oom_kill"].is_string()
    });
    let last = &hog["last_exit"];
    assert_eq!(last["signal"], "SIGKILL");
    let note = last["oom_kill"].as_str().unwrap();
    assert!(note.starts_with("oom-kill at 64.0 MB"), "{note}");
    let events = s.stdout(&["events", "--kind", "oom-killed"]);
    assert!(
        events.contains("hog: killed by the kernel's OOM killer (oom-kill at 64.0 MB"),
        "{events}"
    );
    s.wait_state("hog", "crash-loop", T);
    let out = s.run(&["diagnose", "hog", "--json"]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["causes"][0]["id"], "out-of-memory", "{r:#}");
    let summary = r["causes"][0]["summary"].as_str().unwrap();
    assert!(summary.contains("oom-kill at 64.0 MB"), "{summary}");
}

#[test]
fn a_double_forked_child_in_its_own_session_is_stopped_with_its_service() {
    let s = Sandbox::new(&forker(false));
    let _daemon = s.up();
    cgroup_mode(&s);
    s.wait_state("forker", "running", T);
    let escaped = escaped_pid(&s);
    assert!(support::alive(escaped));
    // It left the process group and the session, not the cgroup.
    let cgroups = std::fs::read_to_string(format!("/proc/{escaped}/cgroup")).unwrap();
    assert!(
        cgroups
            .lines()
            .any(|l| l.contains("/backstop-") && l.ends_with("/forker")),
        "{cgroups}"
    );
    let out = s.run(&["stop", "forker"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    support::wait_until("the escaped grandchild gone", T, || {
        (!support::alive(escaped)).then_some(())
    });
}

#[test]
fn pids_max_stops_a_fork_bomb_and_the_daemon_keeps_answering() {
    let s = Sandbox::new(
        r#"
[services.bomb]
command = ["python3", "-c", """
import os, time
n = 0
try:
    while n < 200:
        if os.fork() == 0:
            time.sleep(1000)
            os._exit(0)
        n += 1
except OSError as e:
    print(f'forked {n}, then: {e}', flush=True)
time.sleep(1000)
"""]
limits = { pids_max = 20 }
"#,
    );
    let _daemon = s.up();
    cgroup_mode(&s);
    let logs = s.wait_log("bomb", "forked ", T);
    assert!(
        logs.contains("forked 19, then: [Errno 11] Resource temporarily unavailable"),
        "fork fails at the limit (the main process is the 20th): {logs}"
    );
    // Counted by the kernel in the service's cgroup.
    let main = s.service("bomb")["pid"].as_i64().unwrap();
    let own = std::fs::read_to_string(format!("/proc/{main}/cgroup")).unwrap();
    let pids_dir = own
        .lines()
        .find_map(|l| l.split_once(":pids:").map(|(_, p)| p.to_string()))
        .expect("a pids cgroup");
    let current: u64 =
        std::fs::read_to_string(format!("/sys/fs/cgroup/pids{pids_dir}/pids.current"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
    assert!(current <= 20, "{current} processes");
    let status = s.stdout(&["status", "bomb"]);
    assert!(
        status.contains("pids_max 20 held by the kernel"),
        "{status}"
    );
    assert!(s.run(&["stop", "bomb"]).status.success());
}

#[test]
fn after_a_sigkilled_daemon_an_escaped_process_is_found_by_its_cgroup() {
    let s = Sandbox::new(&forker(true));
    let mut first = s.up();
    cgroup_mode(&s);
    s.wait_state("forker", "running", T);
    let escaped = escaped_pid(&s);
    first.signal(nix::sys::signal::Signal::SIGKILL);
    first.wait(T);
    assert!(
        support::alive(escaped),
        "nothing stops it while no daemon runs"
    );
    std::fs::remove_file(s.path("escaped.pid")).unwrap();
    let _second = s.up();
    support::wait_until("the escaped process stopped", T, || {
        (!support::alive(escaped)).then_some(())
    });
    let said = s.daemon_output();
    assert!(
        said.contains(&format!("forker: stopped processes [{escaped}]"))
            && said.contains("left in its cgroup by a previous backstop"),
        "{said}"
    );
    s.wait_state("forker", "running", T);
}

#[test]
fn a_one_shot_service_leaves_no_empty_cgroup_behind() {
    let s = Sandbox::new(
        r#"
[services.oneshot_cgroup_probe]
command = ["sh", "-c", "cat /proc/self/cgroup > cgroups.txt"]
restart = "never"

[services.keeper]
command = "sleep 1000"
"#,
    );
    let _daemon = s.up();
    cgroup_mode(&s);
    s.wait_state("oneshot_cgroup_probe", "exited", T);
    // It ran in its cgroup …
    let cgroups = std::fs::read_to_string(s.path("cgroups.txt")).unwrap();
    let dir = cgroups
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("a cgroup v2 membership");
    assert!(dir.ends_with("/oneshot_cgroup_probe"), "{cgroups}");
    // … which is gone once it is at rest, empty.
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let v2_mount = mountinfo
        .lines()
        .find(|l| l.contains(" - cgroup2 "))
        .and_then(|l| l.split(' ').nth(4))
        .expect("a cgroup2 mount");
    let path = format!("{v2_mount}{dir}");
    support::wait_until("its cgroup removed", T, || {
        (!std::path::Path::new(&path).exists()).then_some(())
    });
}

#[test]
fn a_restarting_service_keeps_its_cgroup_and_loses_it_at_rest() {
    let s = Sandbox::new(
        r#"
[services.flapper]
command = ["sh", "-c", "cat /proc/self/cgroup > cgroup-$$.txt; sleep 0.05"]
restart = { backoff_initial = "10ms", backoff_max = "10ms", max_restarts = 100000 }
limits = { pids_max = 50 }
"#,
    );
    let _daemon = s.up();
    cgroup_mode(&s);
    support::wait_until("three restarts", T, || {
        (s.service("flapper")["restarts"].as_u64().unwrap_or(0) >= 3).then_some(())
    });
    // Every run was in the same cgroup directory: its inode never changed.
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let v2_mount = mountinfo
        .lines()
        .find(|l| l.contains(" - cgroup2 "))
        .and_then(|l| l.split(' ').nth(4))
        .expect("a cgroup2 mount")
        .to_string();
    let runs: Vec<String> = std::fs::read_dir(s.path("."))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("cgroup-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert!(runs.len() >= 3, "{runs:?}");
    let dir = runs[0]
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("a cgroup v2 membership")
        .to_string();
    assert!(
        runs.iter().all(|r| r.contains(&format!("0::{dir}\n"))),
        "{runs:?}"
    );
    let path = format!("{v2_mount}{dir}");
    let inode = |p: &str| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    let first = inode(&path);
    let seen = s.service("flapper")["restarts"].as_u64().unwrap();
    support::wait_until("two more restarts", T, || {
        (s.service("flapper")["restarts"].as_u64().unwrap_or(0) >= seen + 2).then_some(())
    });
    assert_eq!(inode(&path), first, "the cgroup was kept across restarts");
    // Stopped, it is at rest: its cgroup goes.
    assert!(s.run(&["stop", "flapper"]).status.success());
    support::wait_until("its cgroup removed", T, || {
        (!std::path::Path::new(&path).exists()).then_some(())
    });
}

/// Service `forker`: its grandchild double-forks into a session of its own
/// and writes its pid to `escaped.pid`; with `bare`, it also drops its
/// environment (no marker left to find it by).
fn forker(bare: bool) -> String {
    let run = if bare {
        "os.execve('/bin/sleep', ['sleep', '1000'], {})"
    } else {
        "time.sleep(1000)"
    };
    format!(
        r#"
[services.forker]
command = ["python3", "-c", """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        open('escaped.pid', 'w').write(str(os.getpid()))
        {run}
    os._exit(0)
time.sleep(1000)
"""]
"#
    )
}

/// The pid the escaped grandchild of [`forker`] wrote.
fn escaped_pid(s: &Sandbox) -> i32 {
    support::wait_until("the escaped grandchild", T, || {
        std::fs::read_to_string(s.path("escaped.pid"))
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
    })
}
