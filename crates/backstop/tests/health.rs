//! Health checks inside the daemon: readiness, liveness, startup grace and
//! dependents, against real processes.

mod support;

use std::time::Duration;

use support::{Sandbox, free_port, wait_until};

const T: Duration = Duration::from_secs(20);

#[test]
fn a_service_is_starting_until_its_check_passes_and_dependents_wait() {
    let port = free_port();
    let s = Sandbox::new(&format!(
        r#"
[services.api]
command = ["sh", "-c", "while [ ! -e ready ]; do sleep 0.05; done; exec python3 -m http.server {port} --bind 127.0.0.1"]

[[services.api.health]]
http = "http://127.0.0.1:{port}/"
interval = "200ms"

[services.worker]
command = "sleep 1000"
depends_on = {{ api = "healthy" }}
"#
    ));
    let _daemon = s.up();
    let api = s.wait_state("api", "starting", T);
    assert_eq!(api["health"], "unknown");
    let worker = s.wait_state("worker", "pending", T);
    assert_eq!(
        worker["detail"],
        "waiting for api to be healthy: api is starting"
    );
    std::fs::write(s.path("ready"), "").unwrap();
    let api = s.wait_state("api", "running", T);
    assert_eq!(api["health"], "healthy");
    assert_eq!(api["checks"][0]["detail"], "HTTP 200");
    s.wait_state("worker", "running", T);
}

#[test]
fn a_failing_liveness_check_restarts_the_service() {
    let s = Sandbox::new(
        r#"
[services.app]
command = "sleep 1000"
restart = { backoff_initial = "0s" }

[[services.app.health]]
name = "alive"
exec = ["sh", "-c", "if [ -e broken ]; then echo 'deadlock detected'; exit 1; fi"]
interval = "100ms"
failures = 2
on_failure = "restart"
"#,
    );
    let _daemon = s.up();
    let first = s.wait_state("app", "running", T)["pid"].clone();
    std::fs::write(s.path("broken"), "").unwrap();
    let restarted = s.wait_service("app", "a liveness restart", T, |app| app["restarts"] == 1);
    assert_eq!(restarted["last_exit"]["signal"], "SIGTERM");
    let out = s.daemon_output();
    assert!(
        out.contains("app: check alive fails: exit 1: deadlock detected"),
        "{out}"
    );
    assert!(
        out.contains("app: a liveness check failed; restarting"),
        "{out}"
    );
    std::fs::remove_file(s.path("broken")).unwrap();
    let app = s.wait_service("app", "the new process to pass", T, |app| {
        app["state"] == "running" && app["health"] == "healthy"
    });
    assert_ne!(app["pid"], first);
}

#[test]
fn startup_grace_holds_liveness_then_startup_timeout_restarts() {
    let s = Sandbox::new(
        r#"
[services.slow]
command = "sleep 1000"
startup = "800ms"
restart = { backoff_initial = "0s", max_restarts = 1 }

[[services.slow.health]]
exec = "false"
interval = "100ms"
failures = 1
on_failure = "restart"
"#,
    );
    let _daemon = s.up();
    // Failing from the first run, but only the startup period ends it.
    let svc = s.wait_service("slow", "a restart after the startup period", T, |svc| {
        svc["restarts"].as_u64().is_some_and(|n| n >= 1)
    });
    assert_eq!(svc["last_exit"]["signal"], "SIGTERM");
    let out = s.daemon_output();
    let timeout_at = out
        .find("slow: no health check passed within its startup period of 800ms")
        .expect(&out);
    assert!(
        !out[..timeout_at].contains("liveness check failed"),
        "liveness counted during the grace period:\n{out}"
    );
    // The restart budget runs out: crash-loop, like any other failure.
    s.wait_state("slow", "crash-loop", T);
}

#[test]
fn without_liveness_a_slow_start_stays_in_startup_timeout_until_it_passes() {
    let s = Sandbox::new(
        r#"
[services.model]
command = "sleep 1000"
startup = "300ms"

[[services.model.health]]
exec = ["test", "-e", "loaded"]
interval = "100ms"
"#,
    );
    let _daemon = s.up();
    let svc = s.wait_state("model", "startup-timeout", T);
    assert_eq!(svc["restarts"], 0, "no liveness check: not restarted");
    std::fs::write(s.path("loaded"), "").unwrap();
    let svc = s.wait_state("model", "running", T);
    assert_eq!(svc["health"], "healthy");
    assert_eq!(svc["restarts"], 0);
}

#[test]
fn losing_a_dependency_degrades_dependents_without_stopping_them() {
    let s = Sandbox::new(
        r#"
[services.db]
command = "sleep 1000"

[services.api]
command = "sleep 1000"
depends_on = { db = "started" }

[[services.api.health]]
tcp = "127.0.0.1:1"
failures = 100
"#,
    );
    let _daemon = s.up();
    s.wait_state("api", "starting", T);
    let pid = s.service("api")["pid"].clone();
    assert!(s.run(&["stop", "db"]).status.success());
    let api = s.wait_service("api", "api degraded", T, |api| api["health"] == "degraded");
    assert_eq!(api["detail"], "dependency db is stopped");
    assert_eq!(api["pid"], pid, "dependents keep running");
    assert!(s.run(&["start", "db"]).status.success());
    wait_until("api no longer degraded", T, || {
        (s.service("api")["health"] != "degraded").then_some(())
    });
}

#[test]
fn a_service_waits_for_a_check_and_is_degraded_when_it_fails() {
    let s = Sandbox::new(
        r#"
[checks.db]
exec = ["sh", "-c", "test -e db-up || { echo 'db is down'; exit 1; }"]
interval = "100ms"
failures = 1

[services.api]
command = "sleep 1000"
depends_on = { db = "healthy" }
"#,
    );
    let _daemon = s.up();
    let api = s.wait_service("api", "api waiting for the check", T, |api| {
        api["detail"] == "waiting for check db to pass (exit 1: db is down)"
    });
    assert_eq!(api["state"], "pending");
    std::fs::write(s.path("db-up"), "").unwrap();
    s.wait_state("api", "running", T);
    std::fs::remove_file(s.path("db-up")).unwrap();
    let api = s.wait_service("api", "api degraded", T, |api| api["health"] == "degraded");
    assert_eq!(api["detail"], "check db fails: exit 1: db is down");
    let status = s.status();
    assert_eq!(status["checks"][0]["name"], "db");
    assert_eq!(status["checks"][0]["state"], "failing");
    let table = String::from_utf8(s.run(&["status"]).stdout).unwrap();
    assert!(
        table.contains("checks:\n  db               failing  exit 1: db is down"),
        "{table}"
    );
}

#[test]
fn memory_warn_degrades_and_memory_max_restarts() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/grow.py");
    let s = Sandbox::new(&format!(
        r#"
[services.hog]
command = ["python3", "{fixture}"]
restart = {{ backoff_initial = "0s" }}

[[services.hog.health]]
process = {{ memory_warn = "60MB", memory_max = "150MB" }}
interval = "100ms"
on_failure = "restart"
"#
    ));
    let _daemon = s.up();
    let hog = s.wait_service("hog", "hog above memory_warn", T, |hog| {
        hog["health"] == "degraded"
    });
    assert_eq!(
        hog["state"], "running",
        "a process check is not a readiness check"
    );
    let detail = hog["checks"][0]["detail"].as_str().unwrap();
    assert!(detail.ends_with(": above memory_warn 60.0 MB"), "{detail}");
    assert_eq!(hog["checks"][0]["state"], "warning");
    let rss = hog["rss_bytes"].as_u64().unwrap();
    assert!(
        rss > 60_000_000,
        "status counts the tree's memory too: {rss}"
    );
    // The same check without the daemon's help: a warning is "degraded".
    let out = s.run(&["check", "--json", "hog"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["checks"][0]["warning"], true);
    let detail = v["checks"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains(", CPU ") && detail.ends_with(": above memory_warn 60.0 MB"),
        "{detail}"
    );

    std::fs::write(s.path("more"), "").unwrap();
    let hog = s.wait_service("hog", "a memory_max restart", T, |hog| {
        hog["restarts"].as_u64().is_some_and(|n| n >= 1)
    });
    assert_eq!(hog["last_exit"]["signal"], "SIGTERM");
    let out = s.daemon_output();
    let line = out
        .lines()
        .find(|l| l.contains("above memory_max 150.0 MB; restarting"))
        .expect(&out);
    assert!(line.starts_with("backstop | hog: RSS "), "{line}");
    // One restart, for one reason, said once.
    assert!(!out.contains("a liveness check failed"), "{out}");
    assert!(
        !out.contains("left behind"),
        "nothing exited by itself: {out}"
    );
    assert!(
        out.contains("hog: running → stopping (restarting: its memory passed memory_max)"),
        "{out}"
    );
}

#[test]
fn a_check_added_by_reload_runs_and_healthy_dependents_start() {
    let s = Sandbox::new("[services.api]\ncommand = \"sleep 1000\"\n");
    let _daemon = s.up();
    let pid = s.wait_state("api", "running", T)["pid"].clone();
    s.write(
        "backstop.toml",
        r#"
[services.api]
command = "sleep 1000"

[[services.api.health]]
name = "ready"
exec = ["true"]
interval = "100ms"

[services.web]
command = "sleep 1000"
depends_on = { api = "healthy" }
"#,
    );
    let out = s.stdout(&["reload"]);
    assert!(
        out.contains("updated without a restart api"),
        "a new check needs no restart: {out}"
    );
    let api = s.wait_service("api", "the new check to pass", T, |api| {
        api["health"] == "healthy"
    });
    assert_eq!(api["checks"][0]["name"], "ready");
    assert_eq!(api["pid"], pid, "a check change does not restart");
    s.wait_state("web", "running", T);
}

#[test]
fn a_liveness_check_removed_by_reload_restarts_no_more() {
    let check = |on_failure: &str| {
        format!(
            r#"
[services.app]
command = "sleep 1000"
restart = {{ backoff_initial = "0s", max_restarts = 1000 }}

[[services.app.health]]
name = "alive"
exec = ["sh", "-c", "test ! -e broken"]
interval = "100ms"
failures = 1
on_failure = "{on_failure}"
"#
        )
    };
    let s = Sandbox::new(&check("restart"));
    let _daemon = s.up();
    s.wait_state("app", "running", T);
    std::fs::write(s.path("broken"), "").unwrap();
    s.wait_service("app", "liveness restarts", T, |app| {
        app["restarts"].as_u64() >= Some(2)
    });
    s.write("backstop.toml", &check("report"));
    s.stdout(&["reload"]);
    // It never passed, so it is still `starting`; it fails, and that is all.
    let app = s.wait_service("app", "the report-only check to fail", T, |app| {
        app["state"] == "starting" && app["checks"][0]["state"] == "failing"
    });
    let (pid, restarts) = (app["pid"].clone(), app["restarts"].clone());
    // Ten more failed runs of the same check, and no restart among them.
    let app = s.wait_service("app", "ten more failed runs", T, |app| {
        app["checks"][0]["fails_in_a_row"].as_u64() >= Some(10)
    });
    assert_eq!(app["pid"], pid);
    assert_eq!(app["restarts"], restarts);
    assert_eq!(app["health"], "unhealthy");
}

#[test]
fn up_detached_says_what_a_service_that_is_not_up_is() {
    let s = Sandbox::new(
        r#"
[services.api]
command = "sleep 1000"
startup = "300ms"

[[services.api.health]]
exec = ["sh", "-c", "echo not listening yet; exit 1"]
interval = "100ms"

[services.web]
command = "sleep 1000"
"#,
    );
    let _guard = support::DetachedGuard {
        state_dir: s.path(".backstop"),
    };
    let out = s.run(&["up", "-d"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "api: startup-timeout (alive, but no health check passed within its startup period)"
        ),
        "{err}"
    );
    assert!(
        err.contains("not listening yet"),
        "the check's detail: {err}"
    );
    assert!(!err.contains("web:"), "web is up: {err}");
    assert!(err.contains("The daemon keeps running"), "{err}");
    assert!(s.run(&["down"]).status.success());
}
