//! The event history and the `/health` endpoint, against a real daemon.

mod support;

use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;
use support::{Sandbox, wait_until};

const T: Duration = Duration::from_secs(20);

fn events(s: &Sandbox, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["events", "--json"];
    all.extend_from_slice(args);
    let out = s.run(&all);
    assert!(
        out.status.success(),
        "{all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

/// `GET path` on the daemon's unix socket with curl: (status code, body).
fn get(s: &Sandbox, path: &str) -> (u16, String) {
    let out = std::process::Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "--unix-socket"])
        .arg(s.path(".backstop/backstop.sock"))
        .arg(format!("http://localhost{path}"))
        .output()
        .expect("curl");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), body.to_string())
}

#[test]
fn a_crash_loop_is_recorded_and_survives_a_sigkill_of_the_daemon() {
    let s = Sandbox::new(
        r#"
[services.flaky]
command = ["sh", "-c", "echo starting; exit 3"]
restart = { backoff_initial = "100ms", max_restarts = 2, window = "1h" }

[services.steady]
command = "sleep 1000"
"#,
    );
    let before = s.run(&["events"]);
    assert!(String::from_utf8_lossy(&before.stderr).starts_with("no events yet in "));
    let mut daemon = s.up();
    s.wait_state("flaky", "crash-loop", T);
    let recorded = wait_until("the crash loop recorded", T, || {
        let all = events(&s, &["--since", "1h"]);
        kinds(&all)
            .contains(&"crash-loop".to_string())
            .then_some(all)
    });
    let flaky = events(&s, &["--service", "flaky", "--since", "1h"]);
    assert!(flaky.iter().all(|e| e["service"] == "flaky"));
    assert_eq!(
        kinds(&flaky).iter().filter(|k| *k == "exited").count(),
        3,
        "three exits: {flaky:?}"
    );
    let loops = events(&s, &["--kind", "crash-loop,spawn-failed"]);
    assert_eq!(kinds(&loops), ["crash-loop"]);
    let (code, body) = get(&s, "/api/v1/events?service=flaky&kind=crash-loop");
    assert_eq!(code, 200, "{body}");
    let api: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(api, loops);

    daemon.signal(Signal::SIGKILL);
    daemon.wait(T);
    let after = events(&s, &["--since", "1h"]);
    assert!(
        after.len() >= recorded.len() && after[..recorded.len()] == recorded[..],
        "every recorded event is still there after SIGKILL"
    );
    // The database is intact: a new daemon appends to it.
    let _again = s.up();
    wait_until("the new daemon's events", T, || {
        (events(&s, &["--since", "1h"]).len() > after.len()).then_some(())
    });
    let bad = s.run(&["events", "--since", "last tuesday"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn health_is_200_when_all_is_well_and_503_otherwise() {
    let s = Sandbox::new(
        r#"
[services.api]
command = "sleep 1000"

[services.worker]
command = "sleep 1000"
"#,
    );
    let _daemon = s.up();
    s.wait_state("worker", "running", T);
    let (code, body) = wait_until("healthy", T, || {
        let (code, body) = get(&s, "/health");
        (code == 200).then_some((code, body))
    });
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((code, v["status"].as_str()), (200, Some("healthy")));
    assert_eq!(v["services"][0]["name"], "api");
    assert!(v["services"][0]["memory_mb"].is_number(), "{v}");

    assert!(s.run(&["stop", "worker"]).status.success());
    let (code, body) = get(&s, "/health");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (code, v["status"].as_str()),
        (503, Some("unhealthy")),
        "{v}"
    );
    assert_eq!(v["services"][1]["health"], "unhealthy");

    assert!(s.run(&["start", "worker"]).status.success());
    wait_until("healthy again", T, || {
        (get(&s, "/health").0 == 200).then_some(())
    });
}
