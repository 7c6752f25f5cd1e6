//! `backstop diagnose` against real failing services: one per cause id,
//! each run under backstop until it fails, then `diagnose --json` must
//! name that cause first, with evidence that is really in the bundle.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use support::{Sandbox, free_port};

const T: Duration = Duration::from_secs(30);

/// Fails fast: one restart, then crash-loop.
const FAST: &str = r#"restart = { policy = "on-failure", max_restarts = 1, backoff_initial = "50ms", window = "5m" }"#;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/diagnose")
        .join(name)
}

fn fails_py() -> String {
    fixture("fails.py").display().to_string()
}

/// `diagnose SERVICE --json`, parsed; the exit code must agree with it
/// (1 when a cause was found, 0 otherwise).
fn diagnose(s: &Sandbox, service: &str) -> Value {
    let out = s.run(&["diagnose", service, "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "diagnose --json printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let found = !report["causes"].as_array().unwrap().is_empty();
    assert_eq!(out.status.code(), Some(i32::from(found)), "{report:#}");
    report
}

/// The first cause is `id`, its summary names `names`, and every evidence
/// line is in the bundle at the file and line it claims.
#[track_caller]
fn assert_cause(report: &Value, id: &str, names: &str) {
    let cause = &report["causes"][0];
    assert_eq!(cause["id"], id, "{report:#}");
    let summary = cause["summary"].as_str().unwrap();
    assert!(
        summary.contains(names),
        "summary {summary:?} should name {names:?}"
    );
    let evidence = cause["evidence"].as_array().unwrap();
    assert!(!evidence.is_empty(), "{report:#}");
    let bundle = Path::new(report["bundle"].as_str().unwrap());
    for e in evidence {
        let file = std::fs::read_to_string(bundle.join(e["source"].as_str().unwrap())).unwrap();
        let line = e["line"].as_u64().unwrap() as usize;
        let text = e["text"].as_str().unwrap();
        let at = file.lines().nth(line - 1).unwrap_or("");
        assert!(
            at.contains(text),
            "{}:{line} is {at:?}, not the evidence {text:?}",
            e["source"]
        );
    }
    let remedy = &cause["remedy"];
    assert!(
        remedy["manual"].is_string() || remedy["playbook"].is_string(),
        "{report:#}"
    );
    assert!(!report["healthy"].as_bool().unwrap());
}

/// Runs `config` until `service` reaches `state`, then diagnoses it.
fn diagnosed(config: &str, service: &str, state: &str) -> (Sandbox, support::Daemon, Value) {
    let s = Sandbox::new(config);
    let daemon = s.up();
    s.wait_state(service, state, T);
    let report = diagnose(&s, service);
    (s, daemon, report)
}

#[test]
fn command_not_found() {
    let (_s, _d, r) = diagnosed(
        &format!("[services.api]\ncommand = \"/srv/app/venv/bin/uvicorn main:app\"\n{FAST}\n"),
        "api",
        "failed",
    );
    assert_cause(&r, "command-not-found", "/srv/app/venv/bin/uvicorn");
    assert_eq!(r["state"], "failed");
}

#[test]
fn a_dangling_release_symlink_is_workdir_missing_naming_its_target() {
    let s = Sandbox::new(&format!(
        "[services.api]\ncommand = \"python3 -m http.server\"\ndir = \"current\"\n{FAST}\n"
    ));
    std::fs::create_dir(s.path("releases")).unwrap();
    std::os::unix::fs::symlink(s.path("releases/v2.14.0"), s.path("current")).unwrap();
    let _daemon = s.up();
    s.wait_state("api", "failed", T);
    let r = diagnose(&s, "api");
    assert_cause(&r, "workdir-missing", "current");
    let summary = r["causes"][0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("current is a symlink to ")
            && summary.contains("releases/v2.14.0, which does not exist"),
        "{summary}"
    );
}

#[test]
fn missing_module() {
    let (_s, _d, r) = diagnosed(
        &format!(
            "[services.api]\ncommand = \"python3 -c 'import backend.main'\"\n{FAST}\npreflight = [\"python3 -c 'import backend.main'\"]\n"
        ),
        "api",
        "crash-loop",
    );
    assert_cause(&r, "missing-module", "`backend`");
    let sources: Vec<&str> = r["causes"][0]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["source"].as_str().unwrap())
        .collect();
    assert!(sources.contains(&"05-logs.txt"), "{sources:?}");
    assert!(
        sources.contains(&"09-preflight.txt"),
        "the preflight import fails too: {sources:?}"
    );
}

#[test]
fn import_cycle() {
    let (_s, _d, r) = diagnosed(
        &format!(
            "[services.api]\ncommand = \"python3 -c 'import main'\"\ndir = \"{}\"\nenv = {{ PYTHONDONTWRITEBYTECODE = \"1\" }}\n{FAST}\n",
            fixture("cycle").display()
        ),
        "api",
        "crash-loop",
    );
    assert_cause(&r, "import-cycle", "`main`");
}

#[test]
fn syntax_error() {
    let (_s, _d, r) = diagnosed(
        &format!(
            "[services.api]\ncommand = [\"python3\", \"{}\"]\nenv = {{ PYTHONDONTWRITEBYTECODE = \"1\" }}\n{FAST}\n",
            fixture("broken.py").display()
        ),
        "api",
        "crash-loop",
    );
    assert_cause(&r, "syntax-error", "does not parse");
    let summary = r["causes"][0]["summary"].as_str().unwrap();
    assert!(
        summary.ends_with("broken.py, line 2)"),
        "names the file and line: {summary}"
    );
}

#[test]
fn env_file_missing() {
    let (s, _d, r) = diagnosed(
        &format!("[services.api]\ncommand = \"sleep 100\"\nenv_file = \".env\"\n{FAST}\n"),
        "api",
        "failed",
    );
    assert_cause(
        &r,
        "env-file-missing",
        &s.path(".env").display().to_string(),
    );
}

#[test]
fn missing_config() {
    let (_s, _d, r) = diagnosed(
        &format!(
            "[services.api]\ncommand = [\"python3\", \"{}\", \"settings\"]\n{FAST}\n",
            fails_py()
        ),
        "api",
        "crash-loop",
    );
    assert_cause(&r, "missing-config", "DATABASE_URL");
}

#[test]
fn port_in_use_names_the_holder() {
    // A real listener that is not part of the service: this test process.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let (_s, _d, r) = diagnosed(
        &format!(
            "[services.api]\ncommand = [\"python3\", \"{}\", \"bind\", \"{port}\"]\nport = {port}\n{FAST}\n",
            fails_py()
        ),
        "api",
        "failed",
    );
    assert_cause(&r, "port-in-use", &format!("port {port}"));
    let summary = r["causes"][0]["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!("pid {}", std::process::id())),
        "the holder is named: {summary}"
    );
}

#[test]
fn port_in_use_seen_in_the_logs() {
    // No `port` declared: the service's own bind fails, in its words.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let (_s, _d, r) = diagnosed(
        &format!(
            "[services.api]\ncommand = \"python3 -m http.server {port} --bind 127.0.0.1\"\n{FAST}\n"
        ),
        "api",
        "crash-loop",
    );
    assert_cause(&r, "port-in-use", &format!("port {port}"));
    let summary = r["causes"][0]["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!("pid {}", std::process::id())),
        "the holder is found from the command line's port: {summary}"
    );
}

#[test]
fn missing_module_in_node() {
    let (_s, _d, r) = diagnosed(
        &format!("[services.api]\ncommand = [\"node\", \"-e\", \"require('express')\"]\n{FAST}\n"),
        "api",
        "crash-loop",
    );
    assert_cause(&r, "missing-module", "`express`");
}

#[test]
fn port_in_use_in_node_and_java() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let (s, _d, r) = diagnosed(
        &format!(
            r#"
[services.node]
command = ["node", "-e", "require('http').createServer().listen({port}, '127.0.0.1')"]
{FAST}

[services.java]
command = ["java", "{}", "{port}"]
{FAST}
"#,
            fixture("Bind.java").display()
        ),
        "node",
        "crash-loop",
    );
    assert_cause(
        &r,
        "port-in-use",
        &format!(
            "port {port} is already in use by pid {}",
            std::process::id()
        ),
    );
    s.wait_state("java", "crash-loop", T);
    let r = diagnose(&s, "java");
    assert_cause(&r, "port-in-use", &format!("by pid {}", std::process::id()));
    let evidence = r["causes"][0]["evidence"].to_string();
    assert!(evidence.contains("java.net.BindException"), "{evidence}");
}

#[test]
fn dependency_unavailable_names_it_by_its_config_name() {
    let port = free_port();
    let (_s, _d, r) = diagnosed(
        &format!(
            r#"
[services.api]
command = ["sh", "-c", "redis-cli -h 127.0.0.1 -p {port} ping; exit 1"]
{FAST}

[checks.cache]
tcp = "127.0.0.1:{port}"
"#
        ),
        "api",
        "crash-loop",
    );
    assert_cause(&r, "dependency-unavailable", "check `cache`");
}

#[test]
fn dependency_auth_failed_against_a_real_redis() {
    let port = free_port();
    let (s, _d, r) = diagnosed(
        &format!(
            r#"
[services.cache]
command = ["redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", "right-pass-123"]

[[services.cache.health]]
redis = "redis://:right-pass-123@127.0.0.1:{port}"
interval = "200ms"

[services.api]
command = ["sh", "-c", "redis-cli --no-auth-warning -h 127.0.0.1 -p {port} -a wrong-pass ping; exit 1"]
depends_on = {{ cache = "healthy" }}
{FAST}
"#
        ),
        "api",
        "crash-loop",
    );
    assert_cause(&r, "dependency-auth-failed", "service `cache`");
    // The server's own bundle shows its command line and check: no password.
    let cache = diagnose(&s, "cache");
    assert_eq!(cache["healthy"], true, "{cache:#}");
    let bundle = Path::new(cache["bundle"].as_str().unwrap());
    let mut seen = 0;
    for entry in std::fs::read_dir(bundle).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("right-pass-123"),
            "{} holds the password:\n{text}",
            path.display()
        );
        seen += usize::from(text.contains("--requirepass"));
    }
    assert!(seen > 0, "the command line is in the bundle, masked");
}

#[test]
fn out_of_memory() {
    let (_s, _d, r) = diagnosed(
        &format!(
            "[services.api]\ncommand = [\"python3\", \"{}\", \"oom\"]\n{FAST}\n",
            fails_py()
        ),
        "api",
        "crash-loop",
    );
    assert_cause(&r, "out-of-memory", "memory");
}

#[test]
fn out_of_memory_by_memory_max() {
    let (_s, _d, r) = diagnosed(
        &format!(
            r#"
[services.api]
command = ["python3", "-c", "import time; hog = b'x' * 60_000_000; time.sleep(100)"]
{FAST}

[[services.api.health]]
process = {{ memory_max = "30MB" }}
interval = "200ms"
"#
        ),
        "api",
        "crash-loop",
    );
    assert_cause(&r, "out-of-memory", "above memory_max 30.0 MB");
    let summary = r["causes"][0]["summary"].as_str().unwrap();
    assert!(
        summary.ends_with("MB above memory_max 30.0 MB"),
        "{summary}"
    );
}

#[test]
fn permission_denied() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: running a service as another user needs root");
        return;
    }
    let s = Sandbox::new("");
    let target = s.path("owned-by-root.log");
    std::fs::write(&target, "").unwrap();
    s.write(
        "backstop.toml",
        &format!(
            "[services.api]\ncommand = [\"python3\", \"{}\", \"write\", \"{}\"]\nuser = \"nobody\"\ndir = \"/\"\n{FAST}\n",
            fails_py(),
            target.display()
        ),
    );
    let _d = s.up();
    s.wait_state("api", "crash-loop", T);
    assert_cause(
        &diagnose(&s, "api"),
        "permission-denied",
        &target.display().to_string(),
    );
}

#[test]
fn disk_full() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let s = Sandbox::new("");
    let data = s.path("data");
    std::fs::create_dir_all(&data).unwrap();
    let _disk = support::SmallDisk::mount(&data, "64k");
    s.write(
        "backstop.toml",
        &format!(
            "[services.api]\ncommand = [\"python3\", \"{}\", \"write\", \"{}/upload.tmp\"]\n{FAST}\n",
            fails_py(),
            data.display()
        ),
    );
    let _d = s.up();
    s.wait_state("api", "crash-loop", T);
    assert_cause(&diagnose(&s, "api"), "disk-full", "no space");
}

#[test]
fn startup_timeout() {
    let (_s, _d, r) = diagnosed(
        r#"
[services.api]
command = "sleep 100"
startup = "500ms"

[[services.api.health]]
exec = "false"
interval = "100ms"
"#,
        "api",
        "startup-timeout",
    );
    assert_cause(&r, "startup-timeout", "startup period");
    let summary = r["causes"][0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("check exec fails now: exit 1"),
        "says what the check saw: {summary}"
    );
}

/// backstop's own probe refused on the service's own port says the
/// service does not listen (yet): never a dependency outage, even when the
/// program's own output also mentions the refusal.
#[test]
fn a_probe_refused_on_the_service_own_port_is_not_a_dependency() {
    let port = support::free_port();
    let (_s, _d, r) = diagnosed(
        &format!(
            r#"
[services.api]
command = ["python3", "-c", "import socket,time; s=socket.socket(); print(s.connect_ex(('127.0.0.1', {port})), 'Connection refused on 127.0.0.1:{port}', flush=True); time.sleep(100)"]
port = {port}
startup = "500ms"

[[services.api.health]]
http = "http://127.0.0.1:{port}/health"
interval = "100ms"
"#
        ),
        "api",
        "startup-timeout",
    );
    assert_cause(&r, "startup-timeout", "startup period");
    let ids: Vec<&str> = r["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(&"dependency-unavailable"), "{ids:?}");
}

#[test]
fn unhealthy() {
    let s = Sandbox::new("");
    let broken = s.path("broken");
    s.write(
        "backstop.toml",
        &format!(
            r#"
[services.api]
command = "sleep 100"

[[services.api.health]]
exec = ["sh", "-c", "if [ -e {} ]; then echo 'database pool exhausted'; exit 1; fi"]
interval = "100ms"
failures = 1
"#,
            broken.display()
        ),
    );
    let _d = s.up();
    s.wait_state("api", "running", T);
    std::fs::write(&broken, "").unwrap();
    s.wait_service("api", "api unhealthy", T, |v| v["health"] == "unhealthy");
    let r = diagnose(&s, "api");
    assert_cause(&r, "unhealthy", "database pool exhausted");
    assert_eq!(r["state"], "running");
}

#[test]
fn crashed_quotes_the_last_error() {
    let (_s, _d, r) = diagnosed(
        &format!(
            "[services.api]\ncommand = [\"python3\", \"{}\", \"odd\"]\n{FAST}\n",
            fails_py()
        ),
        "api",
        "crash-loop",
    );
    assert_cause(&r, "crashed", "unexpected state 42");
    assert!(
        r["causes"][0]["summary"]
            .as_str()
            .unwrap()
            .contains("code 3"),
        "{r:#}"
    );
    // The remedy names the service: nothing left to fill in.
    let manual = r["causes"][0]["remedy"]["manual"].as_str().unwrap();
    assert!(manual.contains("`backstop logs api -n 200`"), "{manual}");
}

#[test]
fn a_silent_crash_quotes_no_words_of_backstop_as_its_error() {
    let (_s, _d, r) = diagnosed(
        &format!("[services.api]\ncommand = [\"sh\", \"-c\", \"exit 3\"]\n{FAST}\n"),
        "api",
        "crash-loop",
    );
    assert_eq!(r["causes"][0]["id"], "crashed", "{r:#}");
    let summary = r["causes"][0]["summary"].as_str().unwrap();
    assert!(summary.contains("code 3"), "{summary}");
    assert!(
        !summary.contains("restarts within") && !summary.contains("backstop start"),
        "backstop's own crash-loop message is no error of the service: {summary}"
    );
    for e in r["causes"][0]["evidence"].as_array().unwrap() {
        assert!(
            !e["text"].as_str().unwrap().contains("restarts within"),
            "{e}"
        );
    }
}

#[test]
fn a_healthy_service_says_so() {
    let s = Sandbox::new(
        r#"
[services.api]
command = "sleep 100"

[[services.api.health]]
exec = "true"
interval = "100ms"
"#,
    );
    let _d = s.up();
    s.wait_service("api", "api healthy", T, |v| v["health"] == "healthy");
    let out = s.run(&["diagnose", "api", "--json"]);
    assert!(out.status.success(), "exit 0 when healthy: {out:?}");
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["healthy"], true, "{r:#}");
    assert_eq!(r["causes"].as_array().unwrap().len(), 0);
    let text = s.stdout(&["diagnose", "api"]);
    assert!(
        text.lines().next().unwrap().contains("api: healthy"),
        "the first line says so: {text}"
    );
    // Nothing unhealthy: nothing to diagnose without a name.
    let all = s.stdout(&["diagnose"]);
    assert!(all.contains("every service is healthy"), "{all}");
}

#[test]
fn without_a_daemon_and_without_a_name() {
    let s = Sandbox::new(&format!(
        r#"
[services.ok]
command = "sleep 100"

[services.api]
command = "python3 -c 'import backend'"
{FAST}
"#
    ));
    let mut d = s.up();
    s.wait_state("api", "crash-loop", T);
    d.signal(nix::sys::signal::Signal::SIGTERM);
    d.wait(T);
    // The daemon is gone: the state comes from events.db, the cause from the logs.
    let out = s.run(&["diagnose", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 1, "only the unhealthy service: {all:#?}");
    assert_eq!(all[0]["service"], "api");
    assert_eq!(all[0]["state"], "crash-loop");
    assert_cause(&all[0], "missing-module", "`backend`");
    let text = s.run(&["diagnose", "api"]);
    let first = String::from_utf8_lossy(&text.stdout);
    assert!(
        first
            .lines()
            .next()
            .unwrap()
            .starts_with("api: missing-module: "),
        "the verdict comes first: {first}"
    );
}

#[test]
fn a_bundle_holds_no_secret() {
    let port = free_port();
    let s = Sandbox::new(&format!(
        r#"
[services.api]
command = ["python3", "{}", "secrets", "--token=cli-token-5150"]
env_file = ".env"
env = {{ STRIPE_KEY = "sk_live_table_7788", LOG_LEVEL = "info" }}
{FAST}

[[services.api.health]]
redis = "redis://:url-pass-4242@127.0.0.1:{port}/0"
"#,
        fails_py()
    ));
    s.write(
        ".env",
        "DB_PASSWORD=hunter2-from-env\nDATABASE_URL=postgres://app:dsn-pass-9911@127.0.0.1:5432/app\nSESSION_SALT=plain-looking-value\nAPP_REGION=eu-central-zone-7\n",
    );
    std::fs::set_permissions(
        s.path(".env"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let _d = s.up();
    s.wait_state("api", "crash-loop", T);
    // The secrets really reached the log: redaction has work to do.
    let logs = s.stdout(&["logs", "api"]);
    assert!(logs.contains("hunter2-from-env"), "{logs}");
    let out = s.run(&["diagnose", "api", "--json", "--archive"]);
    let json = String::from_utf8_lossy(&out.stdout).into_owned();
    let r: Value = serde_json::from_str(&json).unwrap();
    let bundle = PathBuf::from(r["bundle"].as_str().unwrap());
    let secrets = [
        "hunter2-from-env",
        "dsn-pass-9911",
        "sk_live_table_7788",
        "url-pass-4242",
        "cli-token-5150",
        "plain-looking-value",
        "eu-central-zone-7",
    ];
    let mut files = 0;
    for entry in std::fs::read_dir(&bundle).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        files += 1;
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "{} holds {secret}:\n{text}",
                path.display()
            );
        }
    }
    assert_eq!(files, 12, "twelve numbered files");
    for secret in secrets {
        assert!(!json.contains(secret), "the JSON holds {secret}");
    }
    // The archive holds the same redacted files.
    let archive = r["archive"].as_str().unwrap();
    let listing = std::process::Command::new("tar")
        .args(["-xzOf", archive])
        .output()
        .unwrap();
    assert!(listing.status.success());
    let unpacked = String::from_utf8_lossy(&listing.stdout);
    assert!(unpacked.contains("***"), "masked values are shown as ***");
    for secret in secrets {
        assert!(!unpacked.contains(secret), "the archive holds {secret}");
    }
    // The loose env file is flagged.
    let env = std::fs::read_to_string(bundle.join("08-environment.txt")).unwrap();
    assert!(env.contains("WARNING") && env.contains("0644"), "{env}");
    let warnings = r["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("chmod 600")),
        "the warning reaches the report: {warnings:?}"
    );
}

#[test]
fn the_daemon_diagnoses_a_crash_loop_by_itself() {
    // Broken until the file `fixed` exists, like an app whose fix is deployed.
    let s = Sandbox::new(&format!(
        "[services.api]\ncommand = [\"sh\", \"-c\", \"if [ -e fixed ]; then exec sleep 100; fi; exec python3 -c 'import backend'\"]\n{FAST}\n"
    ));
    let _d = s.up();
    s.wait_state("api", "crash-loop", T);
    let events = |kind: &str| -> Vec<Value> {
        s.stdout(&["events", "--json", "--kind", kind])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let diagnosed = support::wait_until("a diagnosed event", T, || events("diagnosed").pop());
    let message = diagnosed["message"].as_str().unwrap();
    assert!(
        message.starts_with("api: missing-module: the runtime cannot import `backend`"),
        "{message}"
    );
    let bundle = message
        .rsplit_once("(bundle: ")
        .map(|(_, b)| b.trim_end_matches(')'))
        .unwrap();
    assert!(
        Path::new(bundle).join("01-summary.md").is_file(),
        "the bundle {bundle} was written"
    );
    // `status` shows it until the service starts again.
    let api = s.service("api");
    let verdict = api["diagnosis"].as_str().unwrap_or_default();
    assert!(verdict.starts_with("missing-module: "), "{api:#}");
    let table = s.run(&["status"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("↳ diagnosis: missing-module: "), "{table}");
    // The alert waited for the verdict and carries it.
    let fired = support::wait_until("the service-down alert", T, || events("alert-fired").pop());
    let alert = fired["message"].as_str().unwrap();
    assert!(alert.contains("diagnosis: missing-module"), "{alert}");
    s.write("fixed", "");
    s.stdout(&["start", "api"]);
    let api = s.wait_state("api", "running", T);
    assert!(api["diagnosis"].is_null(), "a new start clears it: {api:#}");
}

#[test]
fn a_running_service_shows_its_own_environment_masked() {
    let s = Sandbox::new(
        "[services.api]\ncommand = \"sleep 100\"\nenv_file = \".env\"\nenv = { MODE = \"blue\" }\n",
    );
    s.write(
        ".env",
        "DB_PASSWORD=hunter2-running\nREGION_NAME=north-east-9\n",
    );
    let _d = s.up();
    let pid = s.wait_service("api", "a pid", T, |v| v["pid"].is_number())["pid"].clone();
    let r = diagnose(&s, "api");
    let env = std::fs::read_to_string(
        Path::new(r["bundle"].as_str().unwrap()).join("08-environment.txt"),
    )
    .unwrap();
    assert!(
        env.contains(&format!("running main process, pid {pid}")),
        "{env}"
    );
    assert!(env.contains("DB_PASSWORD=***    # env_file"), "{env}");
    assert!(env.contains("REGION_NAME=***    # env_file"), "{env}");
    assert!(env.contains("MODE=blue    # env"), "{env}");
    assert!(
        env.contains("BACKSTOP_SERVICE=api    # set by backstop"),
        "{env}"
    );
    assert!(
        !env.contains("hunter2-running") && !env.contains("north-east-9"),
        "{env}"
    );
    let tree =
        std::fs::read_to_string(Path::new(r["bundle"].as_str().unwrap()).join("03-processes.txt"))
            .unwrap();
    assert!(tree.contains("sleep 100"), "{tree}");
}

#[test]
fn a_service_that_never_ran_is_not_a_fault() {
    let s = Sandbox::new("[services.api]\ncommand = \"sleep 100\"\n");
    let out = s.run(&["diagnose", "api"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "exit 0: {text}");
    assert!(
        text.starts_with(
            "api: stopped, and nothing in its logs, exits or checks points to a fault"
        ),
        "{text}"
    );
}

/// Kills a process the test started when the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_port_holders_secret_flags_are_masked() {
    use std::io::BufRead;
    let port = free_port();
    let mut child = std::process::Command::new("python3")
        .args([
            &fails_py(),
            "bind",
            &port.to_string(),
            "--password",
            "holder-pw-6677",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let holder = KillOnDrop(child);
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "listening");
    let (_s, _d, r) = diagnosed(
        &format!("[services.api]\ncommand = \"sleep 100\"\nport = {port}\n{FAST}\n"),
        "api",
        "failed",
    );
    assert_cause(&r, "port-in-use", &format!("pid {}", holder.0.id()));
    let json = r.to_string();
    assert!(json.contains("--password ***"), "{json}");
    assert!(!json.contains("holder-pw-6677"), "{json}");
    for entry in std::fs::read_dir(r["bundle"].as_str().unwrap()).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("holder-pw-6677"),
            "{} holds it:\n{text}",
            path.display()
        );
    }
}

#[test]
fn a_bundle_that_cannot_be_written_still_gives_the_verdict() {
    let s = Sandbox::new(&format!(
        "[services.api]\ncommand = \"python3 -c 'import backend'\"\n{FAST}\n"
    ));
    let _d = s.up();
    s.wait_state("api", "crash-loop", T);
    // /proc takes no new directories, whoever asks.
    let out = s.run(&["diagnose", "api", "--out", "/proc/backstop-bundles"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("api: missing-module: the runtime cannot import `backend`"),
        "{text}"
    );
    assert!(text.contains("warning: no bundle written"), "{text}");
}

#[test]
fn dependency_auth_failed_against_a_real_postgres() {
    let pg = free_port();
    let pg_services = support::postgres_services(pg);
    let s = support::postgres_sandbox(&format!(
        r#"
{pg_services}
[services.api]
command = ["sh", "-c", "psql 'postgresql://postgres:not-the-password@127.0.0.1:{pg}/postgres' -c 'select 1'; exit 1"]
depends_on = {{ postgres = "healthy" }}
{FAST}
"#
    ));
    let _d = s.up();
    s.wait_state("api", "crash-loop", Duration::from_secs(60));
    let r = diagnose(&s, "api");
    assert_cause(&r, "dependency-auth-failed", "service `postgres`");
    let evidence = r["causes"][0]["evidence"].to_string();
    assert!(
        evidence.contains("password authentication failed"),
        "{evidence}"
    );
    assert!(!r.to_string().contains("not-the-password"), "{r:#}");
}

#[test]
fn preflight_runs_as_the_service_with_its_env_and_dir() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: running a preflight as another user needs root");
        return;
    }
    let s = Sandbox::new(
        "[services.api]\ncommand = \"sleep 100\"\nuser = \"nobody\"\ndir = \"/tmp\"\nenv = { GREETING = \"hello-from-env\" }\npreflight = [\"id -un; pwd; echo $GREETING\", \"echo import failed >&2; exit 4\"]\n",
    );
    let out = s.run(&["diagnose", "api", "--json"]);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let text =
        std::fs::read_to_string(Path::new(r["bundle"].as_str().unwrap()).join("09-preflight.txt"))
            .unwrap();
    assert!(
        text.contains("  nobody\n  /tmp\n  hello-from-env\n"),
        "{text}"
    );
    assert!(text.contains("→ exit 4"), "{text}");
    // A failing preflight is evidence even for a service that never ran.
    let evidence = r["causes"][0]["evidence"].to_string();
    assert!(evidence.contains("import failed"), "{r:#}");
    assert_eq!(out.status.code(), Some(1), "a failing preflight is a fault");
}

#[test]
fn a_malformed_env_file_is_named_with_its_line() {
    let s = Sandbox::new(&format!(
        "[services.api]\ncommand = \"sleep 100\"\nenv_file = \".env\"\n{FAST}\n"
    ));
    // The bad line holds a secret, which the parser's error quotes.
    s.write(".env", "GOOD=1\nDB_PASSWORD hunter2-broken\n");
    let _d = s.up();
    s.wait_state("api", "failed", T);
    let r = diagnose(&s, "api");
    assert_cause(&r, "missing-config", "is not valid");
    let summary = r["causes"][0]["summary"].as_str().unwrap();
    assert!(
        summary.contains(&s.path(".env").display().to_string()),
        "{summary}"
    );
    assert!(
        summary.contains("DB_PASSWORD ***"),
        "the bad line, masked: {summary}"
    );
    let bundle = Path::new(r["bundle"].as_str().unwrap());
    for entry in std::fs::read_dir(bundle).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("hunter2-broken"),
            "{} holds it:\n{text}",
            path.display()
        );
    }
    assert!(!r.to_string().contains("hunter2-broken"));
}

#[test]
fn an_unreadable_event_history_is_a_warning_not_a_silence() {
    let s = Sandbox::new("[services.api]\ncommand = \"sleep 100\"\n");
    std::fs::create_dir_all(s.path(".backstop")).unwrap();
    s.write(
        ".backstop/events.db",
        "this is not a SQLite database, it is a text file\n",
    );
    let r = diagnose(&s, "api");
    let warnings = r["warnings"].to_string();
    assert!(
        warnings.contains("the event history cannot be read"),
        "{r:#}"
    );
}

#[test]
fn a_service_degraded_by_a_stopped_dependency_names_it() {
    let s = Sandbox::new(
        r#"
[services.db]
command = "sleep 1000"

[services.web]
command = "sleep 1000"
depends_on = { db = "healthy" }
"#,
    );
    let _d = s.up();
    s.wait_state("web", "running", T);
    s.stdout(&["stop", "db"]);
    s.wait_service("web", "web degraded", T, |v| v["health"] == "degraded");
    let r = diagnose(&s, "web");
    let cause = &r["causes"][0];
    assert_eq!(cause["id"], "dependency-unavailable", "{r:#}");
    assert!(
        cause["summary"]
            .as_str()
            .unwrap()
            .starts_with("its dependency db is stopped"),
        "{r:#}"
    );
    assert!(
        cause["remedy"]["manual"]
            .as_str()
            .unwrap()
            .contains("`backstop start db`"),
        "{r:#}"
    );
}
