//! Nobody gets in, nothing leaks: the control socket refuses another user,
//! oversized requests are refused, and secrets planted everywhere a user
//! puts them (an env file, the env table, a URL's password, a command-line
//! flag, a check's DSN, the service's own output) appear in no API answer,
//! event, alert payload, `/metrics` line, `daemon.log` or diagnostic bundle.

mod support;

use std::time::Duration;

use support::{Sandbox, curl, free_port, receiver, wait_until};

const T: Duration = Duration::from_secs(30);

#[test]
fn the_control_socket_refuses_another_user() {
    let s = Sandbox::new("[services.api]\ncommand = \"sleep 1000\"\n");
    let _daemon = s.up();
    s.wait_state("api", "running", T);
    // The sandbox directory is open to all: only the socket's own mode stops them.
    std::fs::set_permissions(
        s.dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(
        s.path(".backstop"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let socket = s.path(".backstop/backstop.sock");
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "curl",
            "-sS",
        ])
        .arg("--unix-socket")
        .arg(&socket)
        .args(["-X", "POST", "http://localhost/api/v1/services/api/stop"])
        .output()
        .expect("setpriv (util-linux) and curl");
    assert!(!out.status.success(), "nobody reached the API");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Permission denied") || err.contains("Couldn't connect"),
        "{err}"
    );
    // The service was not touched.
    assert_eq!(s.service("api")["state"], "running");
}

#[test]
fn oversized_requests_are_refused() {
    let s = Sandbox::new("[services.api]\ncommand = \"sleep 1000\"\n");
    let _daemon = s.up();
    s.wait_state("api", "running", T);
    let socket = s.path(".backstop/backstop.sock");
    let big = s.path("big.json");
    std::fs::write(
        &big,
        format!("{{\"instances\": 2, \"pad\": \"{}\"}}", "x".repeat(1 << 20)),
    )
    .unwrap();
    let (code, body) = curl(&[
        "--unix-socket",
        socket.to_str().unwrap(),
        "-H",
        "content-type: application/json",
        "--data-binary",
        &format!("@{}", big.display()),
        "http://localhost/api/v1/services/api/scale",
    ]);
    assert_eq!(code, 413, "{body}");
    // Refused from its Content-Length, before curl's `Expect: 100-continue`
    // got a 100 and started an upload the server would cut.
    assert!(body.contains("the API takes at most 65536"), "{body}");
    // Headers past hyper's bound (2 MB): the connection is refused or
    // closed, not held, and the daemon answers after.
    let mut stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    stream.set_read_timeout(Some(T)).unwrap();
    stream.set_write_timeout(Some(T)).unwrap();
    let request = format!(
        "GET /api/v1/services HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n",
        "y".repeat(2 << 20)
    );
    let _ = std::io::Write::write_all(&mut stream, request.as_bytes());
    let mut answer = Vec::new();
    let read = std::io::Read::read_to_end(&mut stream, &mut answer);
    let said = String::from_utf8_lossy(&answer);
    assert!(
        read.is_ok() && !said.starts_with("HTTP/1.1 200"),
        "{read:?} {said}"
    );
    assert_eq!(s.service("api")["state"], "running");
}

#[test]
fn planted_secrets_appear_in_no_answer_event_alert_metric_log_or_bundle() {
    const SECRETS: [&str; 6] = [
        "envfile-secret-1a2b3c4d",
        "envtable-secret-5e6f7a8b",
        "url-secret-0c1d2e3f",
        "flag-secret-9f8e7d6c",
        "check-secret-77aa88bb",
        "tcp-token-4455667788",
    ];
    let (rport, got) = receiver();
    let (port, dead) = (free_port(), free_port());
    let s = Sandbox::new(&format!(
        r#"
[daemon]
listen = "127.0.0.1:{port}"
token_file = "token"

[alerts.sinks.ops]
webhook = "http://127.0.0.1:{rport}/hook"

[services.api]
command = ["sh", "-c", "echo \"connecting with $API_SECRET to $DATABASE_URL\"; echo \"KeyError: 'PAYMENTS_KEY' (secret was $DB_PASSWORD)\" >&2; exit 1", "api", "--api-token=flag-secret-9f8e7d6c"]
env_file = ".env"
env = {{ DB_PASSWORD = "envtable-secret-5e6f7a8b", DATABASE_URL = "postgres://app:url-secret-0c1d2e3f@127.0.0.1:{dead}/app" }}
restart = {{ backoff_initial = "50ms", max_restarts = 2, window = "1h" }}

[checks.db]
postgres = "postgres://monitor:check-secret-77aa88bb@127.0.0.1:{dead}/app"
interval = "200ms"
severity = "critical"
"#
    ));
    s.write(".env", "API_SECRET=envfile-secret-1a2b3c4d\n");
    s.write("token", "tcp-token-4455667788\n");
    let _daemon = s.up();
    s.wait_state("api", "crash-loop", T);
    // The daemon's own diagnosis, and both alerts, have happened.
    wait_until("the automatic diagnosis", T, || {
        (!s.event_messages("diagnosed").is_empty()).then_some(())
    });
    wait_until("service-down and check-failing alerts", T, || {
        let got = got.lock().unwrap();
        let rules: Vec<&str> = got.iter().filter_map(|(_, b)| b["rule"].as_str()).collect();
        (rules.contains(&"service-down") && rules.contains(&"check-failing")).then_some(())
    });

    let mut seen: Vec<(String, String)> = Vec::new();
    let socket = s.path(".backstop/backstop.sock");
    for path in [
        "/api/v1/services",
        "/api/v1/services/api",
        "/api/v1/events?limit=1000",
        "/api/v1/services/api/logs?lines=200",
        "/health",
        "/metrics",
    ] {
        // `/health` is 503 here: the service is down.
        let ok = |code: u16| code == 200 || path == "/health" && code == 503;
        let (code, body) = s.api("GET", path);
        assert!(ok(code), "{path}: {code} {body}");
        seen.push((format!("socket GET {path}"), body));
        let (code, body) = curl(&[
            "-H",
            "authorization: Bearer tcp-token-4455667788",
            &format!("http://127.0.0.1:{port}{path}"),
        ]);
        assert!(ok(code), "tcp {path}: {code} {body}");
        seen.push((format!("tcp GET {path}"), body));
    }
    let (code, body) = curl(&[
        "--unix-socket",
        socket.to_str().unwrap(),
        "-X",
        "POST",
        "http://localhost/api/v1/services/api/diagnose",
    ]);
    assert_eq!(code, 200, "{body}");
    seen.push(("socket POST diagnose".into(), body));
    for args in [
        &["status", "--json"][..],
        &["status", "api"],
        &["events", "--json", "-n", "1000"],
        &["diagnose", "--json", "api"],
        &["check", "--json"],
    ] {
        let out = s.run(args);
        seen.push((
            format!("backstop {}", args.join(" ")),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ));
    }
    for (path, body) in got.lock().unwrap().iter() {
        seen.push((format!("alert to {path}"), body.to_string()));
    }
    // In the foreground, the daemon's log is its stderr.
    seen.push(("the daemon's log".into(), s.daemon_output()));
    let bundles = s.path(".backstop/diagnostics");
    let mut files = 0;
    for bundle in std::fs::read_dir(&bundles).unwrap() {
        let bundle = bundle.unwrap().path();
        if !bundle.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&bundle).unwrap() {
            let file = file.unwrap().path();
            if let Ok(text) = std::fs::read_to_string(&file) {
                files += 1;
                seen.push((file.display().to_string(), text));
            }
        }
    }
    assert!(files >= 10, "bundles were written: {files} files");
    // The secrets did reach the places they were planted: the service saw them.
    let log = std::fs::read_to_string(s.path(".backstop/logs/api.log")).unwrap();
    assert!(
        log.contains("envfile-secret-1a2b3c4d"),
        "the service printed its secret: {log}"
    );
    let mut leaks = Vec::new();
    for (place, text) in &seen {
        for secret in SECRETS {
            if text.contains(secret) {
                let at = text.find(secret).unwrap();
                let from = at.saturating_sub(80);
                let context: String = text[from..].chars().take(200).collect();
                leaks.push(format!("{secret} in {place}: …{context}…"));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
}
