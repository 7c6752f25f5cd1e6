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
    let (code, body) = s.api("GET", "/api/v1/events?service=flaky&kind=crash-loop");
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
        let (code, body) = s.api("GET", "/health");
        (code == 200).then_some((code, body))
    });
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((code, v["status"].as_str()), (200, Some("healthy")));
    assert_eq!(v["services"][0]["name"], "api");
    assert!(v["services"][0]["memory_mb"].is_number(), "{v}");

    assert!(s.run(&["stop", "worker"]).status.success());
    let (code, body) = s.api("GET", "/health");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (code, v["status"].as_str()),
        (503, Some("unhealthy")),
        "{v}"
    );
    assert_eq!(v["services"][1]["health"], "unhealthy");

    let (code, body) = s.api("GET", "/api/v1/openapi.json");
    let spec: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((code, spec["openapi"].as_str()), (200, Some("3.1.0")));
    assert!(spec["paths"]["/health"].is_object());

    assert!(s.run(&["start", "worker"]).status.success());
    wait_until("healthy again", T, || {
        (s.api("GET", "/health").0 == 200).then_some(())
    });
}

/// A request to the TCP API: (status code, body).
fn tcp(port: u16, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let auth = token.map(|t| format!("Authorization: Bearer {t}"));
    let url = format!("http://127.0.0.1:{port}{path}");
    let mut args = vec!["-X", method];
    if let Some(a) = &auth {
        args.extend(["-H", a.as_str()]);
    }
    args.push(&url);
    support::curl(&args)
}

#[test]
fn the_tcp_api_needs_its_token_for_api_routes_but_not_for_health() {
    let port = support::free_port();
    let s = Sandbox::new(&format!(
        r#"
[daemon]
listen = "127.0.0.1:{port}"
token_file = "api-token"

[services.api]
command = "sleep 1000"
env = {{ DATABASE_PASSWORD = "hunter2-secret" }}
"#
    ));
    s.write("api-token", "s3cret-token-value\n");
    let _daemon = s.up();
    s.wait_state("api", "running", T);
    let (code, body) = tcp(port, "GET", "/health", None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        tcp(port, "GET", "/api/v1/services", None),
        (401, r#"{"error":"unauthorized"}"#.to_string())
    );
    assert_eq!(tcp(port, "GET", "/api/v1/services", Some("wrong")).0, 401);
    assert_eq!(tcp(port, "POST", "/api/v1/services/api/stop", None).0, 401);
    let (code, body) = tcp(
        port,
        "GET",
        "/api/v1/services/api",
        Some("s3cret-token-value"),
    );
    assert_eq!(code, 200, "{body}");
    assert!(!body.contains("hunter2"), "no secret in API output: {body}");
    let (code, _) = tcp(
        port,
        "POST",
        "/api/v1/services/api/restart",
        Some("s3cret-token-value"),
    );
    assert_eq!(code, 200);
    let (code, body) = tcp(
        port,
        "GET",
        "/api/v1/nothing-here",
        Some("s3cret-token-value"),
    );
    assert_eq!(code, 404, "{body}");
    assert!(body.starts_with(r#"{"error":"#), "{body}");
}

#[test]
fn without_a_token_tcp_is_loopback_only_and_read_only() {
    let s = Sandbox::new(
        r#"
[daemon]
listen = "0.0.0.0:9107"

[services.api]
command = "sleep 1000"
"#,
    );
    let out = s.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`daemon.listen` is not a loopback address, and no token is configured")
            && err.contains("backstop.toml:3:10"),
        "{err}"
    );
    let port = support::free_port();
    s.write(
        "backstop.toml",
        &format!(
            "[daemon]\nlisten = \"127.0.0.1:{port}\"\n\n[services.api]\ncommand = \"sleep 1000\"\n"
        ),
    );
    let _daemon = s.up();
    s.wait_state("api", "running", T);
    assert_eq!(tcp(port, "GET", "/api/v1/services", None).0, 200);
    let (code, body) = tcp(port, "POST", "/api/v1/services/api/stop", None);
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("needs a token"), "{body}");
    assert_eq!(s.service("api")["state"], "running");
}

#[test]
fn metrics_pass_promtool_and_carry_the_figures() {
    let port = support::free_port();
    let s = Sandbox::new(&format!(
        r#"
[daemon]
listen = "127.0.0.1:{port}"

[services.api]
command = ["sh", "-c", "echo 'ERROR boom' >&2; exec sleep 1000"]

[[services.api.health]]
exec = "true"
interval = "100ms"

[services.flaky]
command = ["sh", "-c", "exit 1"]
restart = {{ backoff_initial = "50ms", max_restarts = 2, window = "1h" }}
"#
    ));
    let _daemon = s.up();
    s.wait_state("flaky", "crash-loop", T);
    s.wait_service("api", "errors counted and the check passing", T, |v| {
        v["output"]["errors"] == 1 && v["checks"][0]["state"] == "passing"
    });
    let (code, text) = tcp(port, "GET", "/metrics", None);
    assert_eq!(code, 200);
    let check = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .expect("promtool (Debian package prometheus)");
    assert!(
        check.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    for expected in [
        r#"backstop_service_up{service="api"} 1"#,
        r#"backstop_service_up{service="flaky"} 0"#,
        r#"backstop_service_state{service="flaky",state="crash-loop"} 1"#,
        r#"backstop_service_restarts_total{service="flaky"} 2"#,
        r#"backstop_service_exits_total{service="flaky",reason="code_1"} 3"#,
        r#"backstop_service_error_lines_total{service="api"} 1"#,
        r#"backstop_check_passing{service="api",check="exec"} 1"#,
        "backstop_healthy 0",
    ] {
        assert!(
            text.lines().any(|l| l == expected),
            "{expected} in:\n{text}"
        );
    }
    // Every probe run is in the latency histogram.
    let runs = text
        .lines()
        .find_map(|l| {
            l.strip_prefix(
                r#"backstop_check_duration_seconds_bucket{le="+Inf",service="api",check="exec"} "#,
            )
        })
        .and_then(|n| n.parse::<u64>().ok());
    assert!(runs.is_some_and(|n| n >= 1), "{text}");
    assert!(text.contains("\nprocess_resident_memory_bytes "), "{text}");
    assert!(
        text.contains("\nbackstop_service_cpu_seconds{service=\"api\"} "),
        "{text}"
    );
}

#[test]
fn bad_requests_get_a_json_error_never_a_panic() {
    let s = Sandbox::new("[services.api]\ncommand = \"sleep 1000\"\n");
    let _daemon = s.up();
    for (path, code) in [
        ("/api/v1/events?limit=many", 400),
        ("/api/v1/events?since=someday", 400),
        ("/api/v1/services/nope", 404),
        ("/api/v2/anything", 404),
    ] {
        let (got, body) = s.api("GET", path);
        assert_eq!(got, code, "{path}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: {body}"));
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{path}: {body}"
        );
    }
    let (code, body) = s.api("DELETE", "/api/v1/services");
    assert!(code == 405 && body.starts_with(r#"{"error":"#), "{body}");
    let long = format!("/api/v1/services/{}", "x".repeat(100_000));
    assert!(s.api("GET", &long).0 >= 400, "an absurd path is refused");
    assert_eq!(
        s.service("api")["state"],
        "running",
        "the daemon is unharmed"
    );
}
