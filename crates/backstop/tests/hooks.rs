//! `pre_start`, `post_stop` and `stop.command` on real processes.

mod support;

use std::time::Duration;

use support::{Sandbox, wait_until};

const T: Duration = Duration::from_secs(30);

#[test]
fn pre_start_runs_before_each_start_and_its_failure_is_a_failed_start() {
    let s = Sandbox::new(
        r#"
[services.api]
command = ["sh", "-c", "test -f migrated && exec sleep 1000"]
pre_start = ["sh", "-c", "echo migrating schema; touch migrated"]
restart = { max_restarts = 0 }

[services.broken]
command = "sleep 1000"
pre_start = { command = ["sh", "-c", "echo relation users does not exist >&2; exit 3"], timeout = "10s" }
restart = { max_restarts = 1, backoff_initial = "100ms" }
"#,
    );
    let _daemon = s.up();
    // `api` only runs when its pre_start made the file: the order held.
    s.wait_state("api", "running", T);
    s.wait_log("api", "[pre_start] migrating schema", T);
    let pid = s.service("api")["pid"].as_i64().unwrap();
    s.stdout(&["restart", "api"]);
    assert_ne!(s.service("api")["pid"].as_i64().unwrap(), pid);
    let done = s.event_messages("hook");
    assert!(
        done.iter().filter(|m| *m == "api: pre_start done").count() >= 2,
        "once per start: {done:?}"
    );

    // A failing pre_start: the main process never runs, the restart
    // policy applies, the reason is named.
    s.wait_state("broken", "crash-loop", T);
    let hooks = s.event_messages("hook");
    assert!(
        hooks
            .iter()
            .any(|m| m == "broken: pre_start failed (exit 3: relation users does not exist)"),
        "{hooks:?}"
    );
    assert!(
        s.event_messages("spawned")
            .iter()
            .all(|m| !m.starts_with("broken")),
        "broken's command never ran"
    );
}

#[test]
fn post_stop_runs_after_a_stop_and_stop_command_replaces_the_signal() {
    let s = Sandbox::new(
        r#"
[services.api]
command = "sleep 1000"
post_stop = ["sh", "-c", "echo cleaned > post_stop.txt"]

[services.nginxish]
# Ignores SIGTERM; quits on SIGUSR1, as `nginx -s quit` asks nginx to.
command = ["sh", "-c", "echo $$ > main.pid; trap 'exit 0' USR1; trap '' TERM; while :; do sleep 0.1; done"]
stop = { command = ["sh", "-c", "kill -USR1 $(cat main.pid)"], timeout = "30s" }
"#,
    );
    let _daemon = s.up();
    s.wait_state("api", "running", T);
    s.wait_state("nginxish", "running", T);
    wait_until("main.pid", T, || {
        std::fs::read_to_string(s.path("main.pid"))
            .ok()
            .filter(|p| !p.trim().is_empty())
    });

    s.stdout(&["stop", "api"]);
    // The shell creates the file before `echo` writes into it: wait for
    // the whole line, not for the file.
    let cleaned = wait_until("post_stop's line", T, || {
        std::fs::read_to_string(s.path("post_stop.txt"))
            .ok()
            .filter(|c| c.ends_with('\n'))
    });
    assert_eq!(cleaned.trim(), "cleaned");

    // Stopped by its command, well before the 30 s timeout's SIGKILL.
    let out = s.stdout(&["stop", "nginxish"]);
    assert!(out.contains("nginxish: stopped"), "{out}");
    assert!(
        s.event_messages("kill-escalated").is_empty(),
        "no SIGKILL was needed"
    );
    let exits = s.event_messages("exited");
    assert!(
        exits
            .iter()
            .any(|m| m.starts_with("nginxish:") && m.contains("code 0")),
        "it quit by itself on USR1: {exits:?}"
    );
    assert!(
        s.event_messages("hook")
            .iter()
            .any(|m| m == "nginxish: stop.command done")
    );
}
