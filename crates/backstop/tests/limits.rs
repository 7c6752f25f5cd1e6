//! `limits = { … }` on a service: thresholds watched on its real process
//! tree, `nofile` seen by the real child, and the verdict of `diagnose`.

mod support;

use std::time::Duration;

use support::Sandbox;

const T: Duration = Duration::from_secs(30);

#[test]
fn limits_degrade_with_the_figure_then_restart_above_memory_max() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/grow.py");
    let s = Sandbox::new(&format!(
        r#"
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
    let said = support::wait_until("the child's limits in its log", T, || {
        let logs = s.stdout(&["logs", "lim"]);
        logs.contains("soft=").then_some(logs)
    });
    assert!(said.contains("soft=64 hard=64"), "{said}");
}

#[test]
fn a_service_over_memory_max_is_diagnosed_out_of_memory_with_the_figure() {
    let s = Sandbox::new(
        r#"
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
