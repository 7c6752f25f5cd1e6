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

[services.off]
command = "sleep 1000"
disabled = true
"#,
    );
    let _daemon = s.up();
    s.wait_state("worker", "running", T);
    // `off` is kept off on purpose: it does not make the whole unhealthy.
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
    // The whole cannot serve; the stopped service itself has no health to
    // speak of, the same word `status` shows.
    assert_eq!(v["services"][1]["state"], "stopped");
    assert_eq!(v["services"][1]["health"], "unknown");
    let status: Value = serde_json::from_str(&s.stdout(&["status", "--json"])).unwrap();
    assert_eq!(status["services"][1]["health"], "unknown");
    assert_eq!(v["services"][2]["state"], "stopped");

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
fn without_a_token_tcp_serves_only_states_and_metrics() {
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
            "[daemon]\nlisten = \"127.0.0.1:{port}\"\n\n[services.api]\ncommand = \"sleep 1000\"\n\n[[services.api.health]]\nexec = [\"echo\", \"a detail\"]\ninterval = \"100ms\"\n"
        ),
    );
    let _daemon = s.up();
    s.wait_state("api", "running", T);
    for (method, path) in [
        ("GET", "/api/v1/services"),
        ("GET", "/api/v1/services/api"),
        ("GET", "/api/v1/events"),
        ("POST", "/api/v1/services/api/stop"),
    ] {
        let (code, body) = tcp(port, method, path, None);
        assert_eq!(code, 403, "{method} {path}: {body}");
        assert!(body.contains("needs a token"), "{body}");
    }
    assert_eq!(s.service("api")["state"], "running");
    // States and health names, nothing more.
    let (code, body) = tcp(port, "GET", "/health", None);
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"status": "healthy", "services": [{"name": "api", "state": "running", "health": "healthy"}]})
    );
    assert_eq!(tcp(port, "GET", "/metrics", None).0, 200);
    assert_eq!(tcp(port, "GET", "/api/v1/openapi.json", None).0, 200);
    // The unix socket (mode 0600: only its owner) has the details.
    let (_, full) = s.api("GET", "/health");
    assert!(full.contains("a detail"), "{full}");
}

#[test]
fn no_outward_text_shows_a_secret() {
    let port = support::free_port();
    let config = format!(
        r#"
[daemon]
listen = "127.0.0.1:{port}"
token_file = "api-token"

[services.api]
command = ["sh", "-c", "echo ERROR cannot log in with $API_KEY; exec sleep 1000"]
env_file = "app.env"

[[services.api.health]]
name = "login"
exec = ["sh", "-c", "echo rejected: $API_KEY; exit 1"]
interval = "100ms"
failures = 1
"#
    );
    let s = Sandbox::new(&config);
    s.write("app.env", "API_KEY=k3y-abcdef-123456\n");
    s.write("api-token", "t0ken-for-the-api-98765\n");
    let _daemon = s.up();
    s.wait_service("api", "the login check to fail", T, |api| {
        api["checks"][0]["state"] == "failing" && api["output"]["last_error"].is_object()
    });
    // A broken reload quotes the config line: its secret flag is masked.
    s.write(
        "backstop.toml",
        &format!("{config}comand = \"serve --password hunter3-pw\"\n"),
    );
    assert_eq!(s.run(&["reload"]).status.code(), Some(2));
    wait_until("the failed reload recorded", T, || {
        let (_, body) = s.api("GET", "/api/v1/events?kind=reload-failed");
        body.contains("reload-failed").then_some(())
    });
    s.write("backstop.toml", &config);
    let token = Some("t0ken-for-the-api-98765");
    let texts = [
        ("status", s.api("GET", "/api/v1/services/api").1),
        ("health (socket)", s.api("GET", "/health").1),
        ("health (tcp)", tcp(port, "GET", "/health", token).1),
        ("events (api)", s.api("GET", "/api/v1/events?limit=1000").1),
        ("events (cli)", s.stdout(&["events", "-n", "1000"])),
        ("daemon output", s.daemon_output()),
    ];
    for (what, text) in &texts {
        for secret in ["k3y-abcdef-123456", "hunter3-pw", "t0ken-for-the-api-98765"] {
            assert!(!text.contains(secret), "{what} shows {secret}: {text}");
        }
    }
    let (_, status) = &texts[0];
    assert!(status.contains("rejected: ***"), "{status}");
    assert!(status.contains("cannot log in with ***"), "{status}");
    let (_, events) = &texts[3];
    assert!(events.contains("--password ***"), "{events}");
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
    // The tracking mode, as `status --json` says it.
    let status = s.status();
    let mode = if status["daemon"]["tracking"]
        .as_str()
        .unwrap()
        .starts_with("cgroup")
    {
        "cgroup"
    } else {
        "tree"
    };
    let tracking = format!(r#"backstop_process_tracking{{mode="{mode}"}} 1"#);
    assert!(
        text.lines().any(|l| l == tracking),
        "{tracking} in:
{text}"
    );
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

#[test]
fn a_burst_of_events_reaches_every_subscriber_whole() {
    // 150 services started in one go: hundreds of events published before
    // any subscriber runs. None may be lost to the history.
    use std::fmt::Write;
    let mut config = String::new();
    for n in 0..150 {
        writeln!(config, "[services.s{n}]\ncommand = \"sleep 1000\"\n").unwrap();
    }
    let s = Sandbox::new(&config);
    let _daemon = s.up();
    wait_until("150 services running", T, || {
        let status = s.try_status()?;
        let services = status["services"].as_array()?;
        services
            .iter()
            .all(|svc| svc["state"] == "running")
            .then_some(())
    });
    let spawned = wait_until("150 spawns recorded", T, || {
        let spawned = events(&s, &["--kind", "spawned", "-n", "1000"]);
        (spawned.len() >= 150).then_some(spawned)
    });
    assert_eq!(spawned.len(), 150);
    let lost = events(&s, &["--kind", "events-lost", "-n", "1000"]);
    assert!(lost.is_empty(), "{lost:?}");
    // The daemon's own output (a subscriber on its runtime, as the alert
    // engine and the automatic diagnosis are) shows every one of them too.
    let out = wait_until("150 starts shown", T, || {
        let out = s.daemon_output();
        (out.matches(": started, pid ").count() >= 150).then_some(out)
    });
    assert!(!out.contains("not shown"), "{out}");
}

#[test]
fn the_api_token_variable_reaches_no_child() {
    let port = support::free_port();
    let s = Sandbox::new(&format!(
        r#"
[daemon]
listen = "127.0.0.1:{port}"
token_env = "BS_TEST_API_TOKEN"

[services.api]
command = ["sh", "-c", "env > service.env; exec sleep 1000"]

[[services.api.health]]
exec = ["sh", "-c", "env > check.env"]
interval = "100ms"

[checks.outside]
exec = ["sh", "-c", "env > outside.env"]
interval = "100ms"
"#
    ));
    let _daemon = s.up_with(&[], |cmd| {
        cmd.env("BS_TEST_API_TOKEN", "t0ken-in-the-daemon-env-4242")
            .env("BS_TEST_NEIGHBOUR", "inherited");
    });
    assert_eq!(
        tcp(
            port,
            "GET",
            "/api/v1/services",
            Some("t0ken-in-the-daemon-env-4242")
        )
        .0,
        200,
        "the daemon itself has the token"
    );
    for file in ["service.env", "check.env", "outside.env"] {
        let env = wait_until(file, T, || {
            std::fs::read_to_string(s.path(file))
                .ok()
                .filter(|t| t.contains("BS_TEST_NEIGHBOUR="))
        });
        assert!(env.contains("BS_TEST_NEIGHBOUR=inherited"), "{file}: {env}");
        assert!(!env.contains("BS_TEST_API_TOKEN"), "{file}: {env}");
        assert!(!env.contains("t0ken-in-the-daemon"), "{file}: {env}");
    }
}

#[test]
fn a_secret_written_into_the_env_file_since_the_start_is_masked_too() {
    let s = Sandbox::new(
        r#"
[services.api]
command = "sleep 1000"
env_file = "app.env"

[[services.api.health]]
name = "login"
exec = ["sh", "-c", "echo rejected: $API_KEY; exit 1"]
interval = "100ms"
failures = 1
"#,
    );
    s.write("app.env", "API_KEY=first-key-0000000\n");
    let _daemon = s.up();
    s.wait_service("api", "the first key rejected", T, |api| {
        api["checks"][0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("rejected: ***"))
    });
    // Rotated by hand, then a restart: the config itself did not change.
    s.write("app.env", "API_KEY=second-key-1111111\n");
    let pid = s.service("api")["pid"].clone();
    s.stdout(&["restart", "api", "--no-wait"]);
    let api = s.wait_service("api", "the new process's check to run", T, |api| {
        api["pid"] != pid && api["checks"][0]["detail"].is_string()
    });
    let (_, status) = s.api("GET", "/api/v1/services/api");
    assert!(!status.contains("second-key-1111111"), "{status}");
    assert!(status.contains("rejected: ***"), "{status}");
    assert!(!s.daemon_output().contains("second-key-1111111"), "{api}");
}

#[test]
fn an_events_db_deleted_or_damaged_while_running_starts_a_new_history() {
    let s = Sandbox::new(
        r#"
[services.flappy]
command = ["sh", "-c", "sleep 0.2; exit 1"]
restart = { backoff_initial = "100ms", backoff_max = "100ms", max_restarts = 10000 }
"#,
    );
    let _daemon = s.up();
    wait_until("some exits recorded", T, || {
        s.try_event_messages("exited")
            .is_some_and(|m| m.len() >= 2)
            .then_some(())
    });
    // Deleted under the daemon: noticed at the next event, a new file.
    for f in ["events.db", "events.db-wal", "events.db-shm"] {
        let _ = std::fs::remove_file(s.path(&format!(".backstop/{f}")));
    }
    let reset = wait_until("the new history", T, || {
        s.try_event_messages("history-reset")
            .filter(|m| !m.is_empty())
    });
    assert!(
        reset[0].contains("was deleted or replaced while the daemon ran: a new one starts here"),
        "{reset:?}"
    );
    wait_until("exits recorded in the new file", T, || {
        s.try_event_messages("exited")
            .is_some_and(|m| m.len() >= 2)
            .then_some(())
    });
    // Damaged in place: kept aside, a new history again.
    std::fs::write(
        s.path(".backstop/events.db"),
        "this is not a database\n".repeat(200),
    )
    .unwrap();
    let damaged = wait_until("the damaged file kept aside", T, || {
        std::fs::read_dir(s.path(".backstop"))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with("events.db.damaged-"))
    });
    let reset = wait_until("the second new history", T, || {
        s.try_event_messages("history-reset")
            .filter(|m| m.iter().any(|m| m.contains(&damaged)))
    });
    assert!(
        reset
            .iter()
            .any(|m| m.contains("was overwritten while the daemon ran")),
        "{reset:?}"
    );
    wait_until("exits recorded after the damage", T, || {
        s.try_event_messages("exited")
            .is_some_and(|m| m.len() >= 2)
            .then_some(())
    });
    // Supervision went on throughout.
    assert!(s.service("flappy")["restarts"].as_u64().unwrap() >= 6);
}

#[test]
fn a_read_only_state_dir_stops_no_supervision_and_writing_resumes() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: a read-only bind mount needs root");
        return;
    }
    let s = Sandbox::new(
        r#"
[services.ticker]
command = ["sh", "-c", "while true; do echo tick; sleep 0.05; done"]

[services.flappy]
command = ["sh", "-c", "sleep 0.2; exit 1"]
restart = { backoff_initial = "100ms", backoff_max = "100ms", max_restarts = 10000 }
"#,
    );
    let _daemon = s.up();
    s.wait_state("ticker", "running", T);
    let ro = support::ReadOnly::mount(&s.path(".backstop"));
    let before = s.service("flappy")["restarts"].as_u64().unwrap();
    // Restarts go on, the API answers, and the failed write is said.
    wait_until("restarts while read-only", T, || {
        (s.service("flappy")["restarts"].as_u64().unwrap() >= before + 3).then_some(())
    });
    wait_until("the failed state write said", T, || {
        s.daemon_output()
            .contains("Read-only file system")
            .then_some(())
    });
    assert_eq!(s.service("ticker")["restarts"], 0);
    drop(ro);
    // Writable again: new events and new output are recorded.
    let after = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    wait_until("events recorded again", T, || {
        let out = s.run(&["events", "--json", "--since", &after, "--kind", "spawned"]);
        (out.status.success() && !out.stdout.is_empty()).then_some(())
    });
    wait_until("output recorded again", T, || {
        let out = s.run(&["logs", "ticker", "--since", &after]);
        String::from_utf8_lossy(&out.stdout)
            .contains("tick")
            .then_some(())
    });
    assert_eq!(s.service("ticker")["state"], "running");
}
