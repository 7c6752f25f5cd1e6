//! `backstop check` against a real HTTP server, real sockets and real commands.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Sandbox, free_port, wait_until};

/// The fixture server, killed (by its pid) when the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn server() -> (Server, u16) {
    server_with(&[])
}

/// The fixture server; with a certificate and key, it speaks HTTPS.
fn server_with(tls: &[&std::path::Path]) -> (Server, u16) {
    let port = free_port();
    let child = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/health_server.py"
        ))
        .arg(port.to_string())
        .args(tls)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    wait_until("the fixture server", Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    (server, port)
}

fn check_json(s: &Sandbox, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["check", "--json"];
    all.extend_from_slice(args);
    let out = s.run(&all);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), v)
}

fn detail<'v>(v: &'v Value, name: &str) -> (&'v Value, &'v str) {
    let row = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {v}"));
    (&row["passed"], row["detail"].as_str().unwrap())
}

#[test]
fn each_fault_gets_a_clear_detail_and_no_probe_outlives_its_timeout() {
    let (_server, port) = server();
    let closed = free_port();
    let s = Sandbox::new(&format!(
        r#"
[checks.ok]
http = "http://127.0.0.1:{port}/ok"
expect = {{ status = 200, json = {{ "status" = "healthy", "database.connected" = true, "application.data_freshness_minutes" = "< 60" }} }}

[checks.stale]
http = "http://127.0.0.1:{port}/stale"
expect = {{ json = {{ "application.data_freshness_minutes" = "< 60" }} }}

[checks.down]
http = "http://127.0.0.1:{port}/down"
expect = {{ status = 200 }}

[checks.missing_path]
http = "http://127.0.0.1:{port}/ok"
expect = {{ json = {{ "cache.connected" = true }} }}

[checks.not_json]
http = "http://127.0.0.1:{port}/text"
expect = {{ json = {{ "status" = "healthy" }} }}

[checks.body]
http = "http://127.0.0.1:{port}/text"
expect = {{ body = "not json" }}

[checks.auth]
http = "http://127.0.0.1:{port}/auth"
headers = {{ Authorization = "Bearer s3cret" }}

[checks.slow]
http = "http://127.0.0.1:{port}/slow"
timeout = "300ms"

[checks.closed]
tcp = "127.0.0.1:{closed}"

[checks.dns]
tcp = "nonexistent.invalid:80"

[checks.exec_ok]
exec = "sh -c 'echo all fine'"

[checks.exec_fail]
exec = ["sh", "-c", "echo first; echo 'disk is read-only' >&2; exit 3"]

[checks.exec_slow]
exec = "sleep 30"
timeout = "200ms"
"#
    ));
    let started = Instant::now();
    let (code, v) = check_json(&s, &[]);
    let took = started.elapsed();
    assert_eq!(code, 1, "only [checks] fail: degraded");
    assert_eq!(v["status"], "degraded");
    let expect = |name: &str, passed: bool, text: &str| {
        let (p, d) = detail(&v, name);
        assert_eq!(p, passed, "{name}: {d}");
        assert_eq!(d, text, "{name}");
    };
    expect("ok", true, "HTTP 200");
    expect(
        "stale",
        false,
        "`application.data_freshness_minutes` is 95 (expected < 60)",
    );
    expect(
        "down",
        false,
        "HTTP 503 (expected 200): {\"status\": \"unhealthy\", \"database\": {\"connected\": false}}",
    );
    expect(
        "missing_path",
        false,
        "`cache.connected` is missing from the JSON body",
    );
    expect("body", true, "HTTP 200");
    expect("auth", true, "HTTP 200");
    expect("slow", false, "timed out after 300ms");
    expect(
        "closed",
        false,
        &format!("cannot connect to 127.0.0.1:{closed}: connection refused"),
    );
    expect("exec_ok", true, "exit 0: all fine");
    expect("exec_fail", false, "exit 3: disk is read-only");
    expect("exec_slow", false, "timed out after 200ms");
    let (_, not_json) = detail(&v, "not_json");
    assert!(
        not_json.starts_with("HTTP 200, but the body is not JSON: "),
        "{not_json}"
    );
    let (_, dns) = detail(&v, "dns");
    assert!(
        dns.starts_with("cannot connect to nonexistent.invalid:80: DNS lookup failed"),
        "{dns}"
    );
    // Parallel and bounded: the slow server sleeps 5 s, the slow command 30 s.
    assert!(took < Duration::from_secs(4), "check took {took:?}");
}

#[test]
fn exit_codes_healthy_degraded_unhealthy() {
    let (_server, port) = server();
    let s = Sandbox::new(&format!(
        r#"
[services.api]
command = "sleep 1000"

[[services.api.health]]
http = "http://127.0.0.1:{port}/ok"

[[services.api.health]]
name = "db"
http = "http://127.0.0.1:{port}/down"

[checks.upstream]
http = "http://127.0.0.1:{port}/down"

[checks.cache]
tcp = "127.0.0.1:{port}"

[checks.payments]
http = "http://127.0.0.1:{port}/down"
severity = "critical"
"#
    ));
    let (code, v) = check_json(&s, &["cache"]);
    assert_eq!((code, v["status"].as_str()), (0, Some("healthy")));
    let (code, v) = check_json(&s, &["upstream", "cache"]);
    assert_eq!((code, v["status"].as_str()), (1, Some("degraded")));
    // A failing critical entry is as bad as a service's own check.
    let (code, v) = check_json(&s, &["payments", "cache"]);
    assert_eq!((code, v["status"].as_str()), (2, Some("unhealthy")), "{v}");
    let severities: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["severity"].as_str().unwrap())
        .collect();
    assert_eq!(severities, ["warning", "critical"], "cache, payments");
    let (code, v) = check_json(&s, &[]);
    assert_eq!((code, v["status"].as_str()), (2, Some("unhealthy")));
    let names: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["api/http", "api/db", "upstream", "cache", "payments"]
    );
    // The table for people.
    let out = s.run(&["check", "api"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("CHECK     KIND  STATUS  LATENCY  DETAIL\n"),
        "{text}"
    );
    assert!(text.contains("api/db    http  FAIL"), "{text}");
    assert!(text.ends_with("overall: unhealthy\n"), "{text}");
    // Unknown names are usage errors.
    let out = s.run(&["check", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no service or check named `nope`"));
}

#[test]
fn exec_probes_run_in_the_service_directory_and_environment() {
    let s = Sandbox::new(
        r#"
[services.api]
command = "sleep 1000"
dir = "app"
env = { MARKER = "from-env" }

[[services.api.health]]
exec = ["sh", "-c", "test -f here && echo $MARKER"]
"#,
    );
    std::fs::create_dir(s.path("app")).unwrap();
    std::fs::write(s.path("app/here"), "").unwrap();
    let (code, v) = check_json(&s, &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(detail(&v, "api/exec").1, "exit 0: from-env");
}

#[test]
fn disk_checks_compare_used_space_and_inodes_with_limits() {
    let s = Sandbox::new(
        r#"
[checks.roomy]
disk = "."
max_used = "100%"

[checks.strict]
disk = "."
max_used = "0%"

[checks.inodes]
disk = "."
max_inodes = 0

[checks.gone]
disk = "no/such/dir"
"#,
    );
    let (code, v) = check_json(&s, &[]);
    assert_eq!(code, 1, "{v}");
    let here = s.dir.path().display().to_string();
    let (passed, roomy) = detail(&v, "roomy");
    assert_eq!(passed, true, "{roomy}");
    assert!(
        roomy.starts_with(&format!("{here}: ")) && roomy.contains("% of inodes"),
        "{roomy}"
    );
    let (passed, strict) = detail(&v, "strict");
    assert_eq!(passed, false);
    assert!(strict.ends_with("(limit 0% of space)"), "{strict}");
    assert!(detail(&v, "inodes").1.ends_with("(limit 0% of inodes)"));
    assert_eq!(
        detail(&v, "gone").1,
        format!("cannot stat {here}/no/such/dir: No such file or directory")
    );
}

/// A certificate authority and a certificate for 127.0.0.1 signed by it.
fn certificates(dir: &std::path::Path) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=backstop test CA",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "key.pem",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "ext",
    ]);
}

#[test]
fn https_checks_trust_a_ca_file_or_insecure_and_explain_certificate_errors() {
    let s = Sandbox::new("");
    certificates(s.dir.path());
    let (_server, port) = server_with(&[&s.path("cert.pem"), &s.path("key.pem")]);
    s.write(
        "backstop.toml",
        &format!(
            r#"
[checks.trusted]
http = "https://127.0.0.1:{port}/ok"
ca_file = "ca.pem"
expect = {{ json = {{ "status" = "healthy" }} }}

[checks.untrusted]
http = "https://127.0.0.1:{port}/ok"

[checks.insecure]
http = "https://127.0.0.1:{port}/ok"
insecure = true

[checks.plain_to_tls]
http = "http://127.0.0.1:{port}/ok"
timeout = "1s"
"#
        ),
    );
    let (code, v) = check_json(&s, &[]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(detail(&v, "trusted"), (&Value::Bool(true), "HTTP 200"));
    assert_eq!(detail(&v, "insecure"), (&Value::Bool(true), "HTTP 200"));
    let (passed, untrusted) = detail(&v, "untrusted");
    assert_eq!(passed, false);
    assert!(
        untrusted.starts_with(&format!("TLS handshake with 127.0.0.1:{port} failed: ")),
        "{untrusted}"
    );
    assert!(untrusted.ends_with("(not signed by a trusted authority: set ca_file, or insecure = true for a self-signed certificate)"), "{untrusted}");
    assert_eq!(detail(&v, "plain_to_tls").0, false);
}

/// A config without checks has nothing that can fail: exit 0, and a note
/// on how to add some (a cron job of `backstop check` must not page).
#[test]
fn no_checks_is_healthy_with_a_note() {
    let s = Sandbox::new("[services.api]\ncommand = \"sleep 1000\"\n");
    let out = s.run(&["check"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("no checks configured, so nothing fails"),
        "{text}"
    );
    assert!(text.ends_with("overall: healthy\n"), "{text}");
    let out = s.run(&["check", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "healthy");
    assert_eq!(v["checks"].as_array().unwrap().len(), 0);
}
