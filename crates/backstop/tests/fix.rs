//! `backstop fix`: playbooks run by the daemon against real processes,
//! ports and files.

mod support;

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::{Reap, Sandbox, alive, free_port, receiver, wait_until};

const T: Duration = Duration::from_secs(30);

/// What a process on the service's port is to service `web`.
#[derive(Clone, Copy, PartialEq)]
enum Kin {
    /// Carries web's environment markers: a stale instance backstop started.
    Leftover,
    /// web's own command in web's directory, started by hand.
    HandStarted,
    /// The same program elsewhere: somebody else's.
    Stranger,
}

/// An HTTP server on `port`, as `kin` of service `web`.
fn listener(s: &Sandbox, port: u16, kin: Kin) -> Reap {
    let mut cmd = Command::new("python3");
    cmd.args([
        "-m",
        "http.server",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .process_group(0);
    if kin == Kin::Stranger {
        let elsewhere = s.path("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        cmd.current_dir(elsewhere);
    } else {
        cmd.current_dir(s.dir.path());
    }
    if kin == Kin::Leftover {
        cmd.env("BACKSTOP_SERVICE", "web")
            .env("BACKSTOP_STATE_DIR", s.path(".backstop"));
    }
    let child = Reap(cmd.spawn().unwrap());
    wait_until("the listener", T, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    child
}

fn fix(s: &Sandbox, args: &[&str]) -> (Output, String) {
    let mut all = vec!["fix"];
    all.extend_from_slice(args);
    let out = s.run(&all);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, text)
}

/// Service `web` without a declared `port`: its start is not gated, so
/// with its port held it dies on "address already in use" and, after one
/// restart, crash-loops.
fn crash_looping_web(port: u16, extra: &str) -> String {
    format!(
        r#"
[services.web]
command = ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
restart = {{ max_restarts = 1, backoff_initial = "50ms" }}

[[services.web.health]]
http = "http://127.0.0.1:{port}/"
interval = "100ms"

{extra}"#
    )
}

fn web(port: u16, extra: &str) -> String {
    format!(
        r#"
[services.web]
command = ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
port = {port}

[[services.web.health]]
http = "http://127.0.0.1:{port}/"
interval = "100ms"
{extra}
"#
    )
}

#[test]
fn a_stale_instance_on_the_port_is_freed_and_the_service_verified() {
    let port = free_port();
    let s = Sandbox::new(&web(
        port,
        r#"
[playbooks.free-port]
steps = ["free-port", "start", "wait-healthy", { action = "verify", for = "1s" }]
"#,
    ));
    let _daemon = s.up();
    s.wait_state("web", "running", T);
    assert!(s.run(&["stop", "web"]).status.success());
    let stale = listener(&s, port, Kin::Leftover);
    let (out, text) = fix(&s, &["web", "free-port"]);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("a leftover of this service"), "{text}");
    assert!(text.contains("every step passed"), "{text}");
    wait_until("the stale instance gone", T, || {
        (!alive(stale.0.id() as i32)).then_some(())
    });
    let web = s.service("web");
    assert_eq!(web["state"], "running");
    assert_eq!(web["health"], "healthy");
}

#[test]
fn an_unrelated_holder_is_named_and_left_alone_unless_forced() {
    let port = free_port();
    let s = Sandbox::new(&web(
        port,
        r#"
[playbooks.take-port]
steps = [{ action = "free-port", force = true }, "start", "wait-healthy"]
"#,
    ));
    let stranger = listener(&s, port, Kin::Stranger);
    let _daemon = s.up();
    s.wait_state("web", "failed", T);
    let (out, text) = fix(&s, &["web", "free-port"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("port {port} is held by pid {}", stranger.0.id())),
        "{text}"
    );
    assert!(text.contains("left alone"), "{text}");
    assert!(text.contains("FAILED at step 1 (free-port)"), "{text}");
    assert!(alive(stranger.0.id() as i32), "untouched");
    let (out, text) = fix(&s, &["web", "take-port"]);
    assert!(out.status.success(), "{text}");
    wait_until("the stranger gone", T, || {
        (!alive(stranger.0.id() as i32)).then_some(())
    });
    assert_eq!(s.service("web")["health"], "healthy");
}

/// Every file under `dir` (but backstop's state) with its size.
fn tree_of(dir: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(at) = todo.pop() {
        for e in std::fs::read_dir(&at).unwrap().flatten() {
            let path = e.path();
            if path.ends_with(".backstop") {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                todo.push(path.clone());
            }
            out.insert(path.display().to_string(), meta.len());
        }
    }
    out
}

const CLEAN: &str = r#"
[services.api]
command = ["sh", "-c", "head -c 3000 /dev/zero | tr '\\0' x; echo; exec sleep 1000"]
dir = "app"

[[services.api.health]]
exec = ["true"]
interval = "100ms"

[playbooks.clean]
steps = ["stop", "kill-leftovers", "clear-cache", { action = "rotate-logs", above = "1KB" }, "start", "wait-healthy", { action = "verify", for = "1s" }]
"#;

fn clean_sandbox() -> Sandbox {
    let s = Sandbox::new(CLEAN);
    for dir in ["app/pkg/__pycache__", "app/pkg/sub/__pycache__", "app/keep"] {
        std::fs::create_dir_all(s.path(dir)).unwrap();
    }
    s.write("app/pkg/__pycache__/m.cpython-311.pyc", "bytecode");
    s.write("app/pkg/sub/__pycache__/n.cpython-311.pyc", "bytecode");
    s.write("app/keep/data.txt", "keep me");
    // A symlink to a cache outside the service's dir: never followed.
    std::fs::create_dir_all(s.path("outside/__pycache__")).unwrap();
    s.write("outside/__pycache__/o.pyc", "not ours");
    std::os::unix::fs::symlink(s.path("outside"), s.path("app/link")).unwrap();
    s
}

fn wait_for_output(s: &Sandbox) {
    wait_until("3 kB of output in the log", T, || {
        let len = std::fs::metadata(s.path(".backstop/logs/api.log"))
            .ok()?
            .len();
        (len > 3000).then_some(())
    });
}

#[test]
fn clean_restart_clears_caches_rotates_a_large_log_and_verifies() {
    let s = clean_sandbox();
    let _daemon = s.up();
    let before =
        s.wait_service("api", "api healthy", T, |a| a["health"] == "healthy")["pid"].clone();
    wait_for_output(&s);
    let (out, text) = fix(&s, &["api", "clean"]);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!s.path("app/pkg/__pycache__").exists(), "{text}");
    assert!(!s.path("app/pkg/sub/__pycache__").exists(), "{text}");
    assert!(s.path("app/keep/data.txt").exists());
    assert!(
        s.path("outside/__pycache__/o.pyc").exists(),
        "outside its dir: {text}"
    );
    assert!(text.contains("rotated 1 log file(s)"), "{text}");
    let rotated = std::fs::read_dir(s.path(".backstop/logs"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("api.log."))
        .count();
    assert_eq!(rotated, 1, "{text}");
    let api = s.service("api");
    assert_ne!(api["pid"], before, "restarted");
    assert_eq!(api["health"], "healthy");
    let (_, events) = s.api("GET", "/api/v1/events?kind=fix,fix-finished&limit=100");
    assert!(
        events.contains("api: clean step 3/7: clear-cache **/__pycache__"),
        "{events}"
    );
    assert!(events.contains("clean done in"), "{events}");
    // The report is a file too.
    let report = text
        .lines()
        .find_map(|l| l.strip_prefix("report: "))
        .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["steps"].as_array().unwrap().len(), 7);
}

#[test]
fn a_dry_run_says_what_would_happen_and_changes_nothing() {
    let s = clean_sandbox();
    let _daemon = s.up();
    let api = s.wait_service("api", "api healthy", T, |a| a["health"] == "healthy");
    wait_for_output(&s);
    let files = tree_of(s.dir.path());
    let logs = tree_of(&s.path(".backstop/logs"));
    let (out, text) = fix(&s, &["api", "clean", "--dry-run"]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("dry run: nothing changed"), "{text}");
    assert!(text.contains("app/pkg/__pycache__ ("), "{text}");
    assert!(text.contains("would rotate 1 log file(s)"), "{text}");
    assert!(!text.contains("outside"), "{text}");
    assert_eq!(tree_of(s.dir.path()), files);
    assert_eq!(tree_of(&s.path(".backstop/logs")), logs);
    assert_eq!(s.service("api")["pid"], api["pid"]);
    let (_, events) = s.api("GET", "/api/v1/events?kind=fix,fix-finished");
    assert_eq!(events, "[]", "a dry run records nothing");
}

#[test]
fn a_failed_verification_exits_non_zero_naming_the_failing_check() {
    let s = Sandbox::new(
        r#"
[services.api]
command = "sleep 1000"

[[services.api.health]]
name = "ready-file"
exec = ["sh", "-c", "test -e ready || { echo 'no ready file'; exit 1; }"]
interval = "100ms"
failures = 1

[playbooks.bounce]
steps = ["restart", { action = "wait-healthy", timeout = "1s" }, { action = "notify", message = "bounced" }]
"#,
    );
    let _daemon = s.up();
    s.wait_state("api", "starting", T);
    let (out, text) = fix(&s, &["api", "bounce"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAILED at step 2 (wait-healthy)"), "{text}");
    assert!(
        text.contains("check ready-file fails: exit 1: no ready file"),
        "{text}"
    );
    assert!(text.contains("3. notify          skipped"), "{text}");
    let (_, events) = s.api("GET", "/api/v1/events?kind=fix-finished");
    assert!(
        events.contains("bounce failed at step 2 (wait-healthy)"),
        "{events}"
    );
    // A second fix of the same service while none runs is taken; unknown
    // names are refused before anything runs.
    let (out, _) = fix(&s, &["api", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "no playbook named `nope`; the playbooks are: bounce, clean-restart, restart-dependency, free-port"
        )
    );
}

#[test]
fn fix_without_a_playbook_diagnoses_proposes_and_heals_a_port_held_by_a_leftover() {
    let port = free_port();
    // No `port` declared: the start is not gated, the service dies on
    // "address already in use" while a leftover of it holds the port.
    let s = Sandbox::new(&crash_looping_web(port, ""));
    let stale = listener(&s, port, Kin::Leftover);
    let _daemon = s.up();
    s.wait_state("web", "crash-loop", T);
    // Without a terminal and without --yes, it only proposes.
    let (out, text) = fix(&s, &["web"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.starts_with("web: port-in-use: "), "{text}");
    assert!(text.contains("  fix: backstop fix web free-port"), "{text}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("proposed: `backstop fix web free-port`; add --yes"),
        "{err}"
    );
    assert!(alive(stale.0.id() as i32), "nothing done without a yes");
    let (out, text) = fix(&s, &["web", "--yes"]);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("every step passed"), "{text}");
    assert!(!alive(stale.0.id() as i32));
    assert_eq!(s.service("web")["health"], "healthy");
}

#[test]
fn a_cause_that_needs_an_edit_proposes_no_playbook() {
    let s = Sandbox::new("[services.api]\ncommand = \"/nowhere/venv/bin/uvicorn main:app\"\n");
    let _daemon = s.up();
    s.wait_state("api", "failed", T);
    let (out, text) = fix(&s, &["api", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text.starts_with("api: command-not-found: "), "{text}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no playbook fixes this by itself; by hand: check `command`"),
        "{err}"
    );
}

#[test]
fn a_memory_max_rule_acts_max_runs_times_then_escalates_once() {
    let (hook, got) = receiver();
    let s = Sandbox::new(&format!(
        r#"
[alerts.sinks.ops]
webhook = "http://127.0.0.1:{hook}/hook"

[services.hog]
command = ["python3", "-c", "import time; hog = b'x' * 60_000_000; time.sleep(1000)"]
restart = {{ max_restarts = 1000, backoff_initial = "50ms" }}

[[services.hog.health]]
process = {{ memory_max = "30MB" }}
interval = "100ms"

[playbooks.quick-restart]
steps = ["restart"]

[[remediate]]
when = "memory-max"
service = "hog"
run = "quick-restart"
max_runs = 2
per = "1h"
"#
    ));
    let _daemon = s.up();
    let escalations = || {
        got.lock()
            .unwrap()
            .iter()
            .filter(|(_, body)| body["rule"] == "escalation")
            .cloned()
            .collect::<Vec<_>>()
    };
    let first = wait_until(
        "an escalation at the webhook",
        Duration::from_secs(60),
        || escalations().into_iter().next(),
    );
    let summary = first.1["summary"].as_str().unwrap();
    assert_eq!(first.1["severity"], "critical", "{first:?}");
    assert_eq!(first.1["status"], "firing", "{first:?}");
    assert!(
        summary.starts_with("hog: needs a person: quick-restart ran 2 times in 1h"),
        "{summary}"
    );
    assert!(
        summary.contains("Last diagnosis: out-of-memory: "),
        "{summary}"
    );
    assert!(summary.contains("(bundle: "), "{summary}");
    // The hog keeps going over its limit (the supervisor restarts it): the
    // rule sees more memory-max events after its escalation, and does
    // nothing more.
    let seen = s.event_messages("memory-max").len();
    wait_until(
        "three more memory-max events",
        Duration::from_secs(60),
        || (s.event_messages("memory-max").len() >= seen + 3).then_some(()),
    );
    let by_rule: Vec<String> = s
        .event_messages("fix-finished")
        .into_iter()
        .filter(|m| m.contains("(rule when memory-max on hog → quick-restart)"))
        .collect();
    assert_eq!(by_rule.len(), 2, "{by_rule:#?}");
    assert!(
        by_rule.iter().all(|m| m.contains("every step passed")),
        "{by_rule:#?}"
    );
    assert_eq!(escalations().len(), 1, "{:#?}", got.lock().unwrap());
    assert_eq!(s.event_messages("escalation").len(), 1);
    let (code, metrics) = s.api("GET", "/metrics");
    assert_eq!(code, 200);
    assert!(
        metrics.contains(
            r#"backstop_remediations_total{service="hog",playbook="quick-restart",result="ok"} 2"#
        ),
        "{metrics}"
    );
}

#[test]
fn a_port_held_by_a_leftover_heals_itself_by_rule() {
    let port = free_port();
    let s = Sandbox::new(&crash_looping_web(
        port,
        "[[remediate]]\nwhen = \"port-in-use\"\nrun = \"free-port\"\n",
    ));
    let stale = listener(&s, port, Kin::Leftover);
    let _daemon = s.up();
    // Crash loop → automatic diagnosis (port-in-use, a leftover) → the rule
    // runs the built-in free-port playbook → verified healthy.
    let done = wait_until(
        "the rule's playbook to finish",
        Duration::from_secs(60),
        || s.event_messages("fix-finished").into_iter().next(),
    );
    assert!(done.contains("free-port done in"), "{done}");
    assert!(done.contains("every step passed"), "{done}");
    assert!(
        done.contains("(rule when port-in-use → free-port)"),
        "{done}"
    );
    assert!(!alive(stale.0.id() as i32));
    let web = s.service("web");
    assert_eq!(web["state"], "running");
    assert_eq!(web["health"], "healthy");
    let steps = s.event_messages("fix");
    assert!(
        steps[0].starts_with("web: running playbook free-port (rule when port-in-use → free-port)"),
        "{steps:#?}"
    );
}

#[test]
fn a_notify_step_reaches_the_alert_sinks() {
    let (hook, got) = receiver();
    let port = free_port();
    let s = Sandbox::new(&web(
        port,
        &format!(
            r#"
[alerts.sinks.ops]
webhook = "http://127.0.0.1:{hook}/hook"

[playbooks.tell]
steps = [{{ action = "notify", message = "web was looked at by the on-call" }}]
"#
        ),
    ));
    let _daemon = s.up();
    s.wait_state("web", "running", T);
    let (out, text) = fix(&s, &["web", "tell"]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("sent through the alert sinks"), "{text}");
    let notice = wait_until("the notice at the webhook", T, || {
        got.lock()
            .unwrap()
            .iter()
            .find(|(_, b)| b["rule"] == "notify")
            .cloned()
    });
    assert_eq!(notice.1["summary"], "web: web was looked at by the on-call");
    assert_eq!(notice.1["service"], "web");
}

#[test]
fn the_api_diagnoses_on_request_with_the_same_document_as_the_cli() {
    let s = Sandbox::new(
        r#"
[services.app]
command = ["python3", "-c", "import no_such_module_here"]
restart = { max_restarts = 1, backoff_initial = "50ms" }
"#,
    );
    let _daemon = s.up();
    s.wait_state("app", "crash-loop", T);
    let (code, body) = s.api("POST", "/api/v1/services/app/diagnose");
    assert_eq!(code, 200, "{body}");
    let d: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(d["service"], "app");
    assert_eq!(d["causes"][0]["id"], "missing-module", "{body}");
    assert_eq!(
        d["causes"][0]["remedy"]["playbook"], "clean-restart",
        "{body}"
    );
    let bundle = Path::new(d["bundle"].as_str().unwrap());
    assert!(
        bundle.join("summary.txt").is_file() || bundle.is_dir(),
        "{body}"
    );
    let (code, body) = s.api("POST", "/api/v1/services/nope/diagnose");
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("no service named `nope`"), "{body}");
}

#[test]
fn a_copy_started_by_hand_is_named_and_freed_after_a_yes() {
    let port = free_port();
    let s = Sandbox::new(&web(port, ""));
    // `python3 -m http.server PORT` run by hand in web's directory, before
    // `backstop up`: the port gate names it and does not touch it.
    let copy = listener(&s, port, Kin::HandStarted);
    let _daemon = s.up();
    let web = s.wait_state("web", "failed", T);
    let detail = web["detail"].as_str().unwrap();
    assert!(
        detail.ends_with("the command of service `web`, started outside backstop; stop it, or run `backstop fix web free-port`"),
        "{detail}"
    );
    assert!(alive(copy.0.id() as i32), "never stopped without a request");
    let (out, text) = fix(&s, &["web", "--dry-run"]);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(": the service's own command, started outside backstop"),
        "{text}"
    );
    assert!(text.contains("would stop the holder(s)"), "{text}");
    assert!(alive(copy.0.id() as i32), "a dry run changes nothing");
    let (out, text) = fix(&s, &["web", "--yes"]);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("pid {}", copy.0.id()))
            && text.contains("this service's command, started outside backstop"),
        "{text}"
    );
    assert!(!alive(copy.0.id() as i32));
    assert_eq!(s.service("web")["health"], "healthy");
}
