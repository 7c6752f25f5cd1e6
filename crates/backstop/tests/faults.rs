//! Faults of children and of what the daemon talks to (issue #20): a
//! child forking 200 orphans a second, a child closing its stdout, a
//! health target that trickles one byte a second, an alert receiver that
//! accepts and never answers. Each is real; after each, the invariants:
//! the daemon answers, nothing is left behind, and what happened is said.

mod support;

use std::io::Write;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::{Sandbox, alive, wait_until};

const T: Duration = Duration::from_secs(30);

/// The pids whose parent is `parent` and that are zombies.
fn zombie_children(parent: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                // `pid (comm) S ppid …`: after the last `)`.
                let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
                let mut fields = rest.split_whitespace();
                let state = fields.next();
                let ppid = fields.next().and_then(|p| p.parse::<i32>().ok());
                state == Some("Z") && ppid == Some(parent)
            })
        })
        .collect()
}

#[test]
fn a_child_forking_200_orphans_a_second_is_served_and_leaves_no_zombie() {
    // Each `( /bin/true & )` leaves an orphan: its parent subshell exits at
    // once, so the daemon (the children's subreaper) must reap it.
    let s = Sandbox::new(
        r#"
[services.forker]
command = ["bash", "-c", "echo $$ > pid; while :; do for i in $(seq 20); do ( /bin/true & ); done; echo tick >> ticks; sleep 0.1; done"]
"#,
    );
    let daemon = s.up();
    let svc = s.wait_state("forker", "running", T);
    // Three seconds' worth: some 600 orphans.
    wait_until("30 rounds of 20 forks", T, || {
        let ticks = std::fs::read_to_string(s.path("ticks")).unwrap_or_default();
        (ticks.lines().count() >= 30).then_some(())
    });
    // The daemon answers meanwhile, and the service was never restarted.
    let now = s.service("forker");
    assert_eq!(now["pid"], svc["pid"], "{now}");
    assert_eq!(now["restarts"], 0, "{now}");
    assert!(s.run(&["stop", "forker"]).status.success());
    s.wait_state("forker", "stopped", T);
    let shell = s.read_pid("pid");
    assert!(!alive(shell));
    // Every orphan reaped: no zombie of the daemon's stays.
    wait_until("no zombie children of the daemon", T, || {
        zombie_children(daemon.pid()).is_empty().then_some(())
    });
}

#[test]
fn a_child_that_closes_its_stdout_keeps_running_and_its_stderr_is_captured() {
    let s = Sandbox::new(
        r#"
[services.quiet]
command = ["bash", "-c", "exec 1>&-; echo 'stdout closed, still here' >&2; exec sleep 1000"]
"#,
    );
    let _daemon = s.up();
    s.wait_log("quiet", "stdout closed, still here", T);
    let svc = s.wait_state("quiet", "running", T);
    assert_eq!(svc["restarts"], 0, "{svc}");
    // The end of one pipe is not the end of the service.
    assert!(s.run(&["restart", "quiet"]).status.success());
    let again = s.wait_state("quiet", "running", T);
    assert_ne!(again["pid"], svc["pid"]);
}

/// A TCP server that accepts and writes `reply` one byte every
/// `every`, never finishing; counts connections.
fn trickling_server(reply: &'static [u8], every: Duration) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                for byte in reply {
                    if stream.write_all(&[*byte]).is_err() {
                        return;
                    }
                    std::thread::sleep(every);
                }
                // Then hold the connection open, silent.
                std::thread::sleep(Duration::from_secs(600));
            });
        }
    });
    (port, accepted)
}

#[test]
fn a_health_target_trickling_a_byte_a_second_times_out_and_says_so() {
    let (port, accepted) = trickling_server(
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        Duration::from_secs(1),
    );
    let s = Sandbox::new(&format!(
        r#"
[services.api]
command = "sleep 1000"

[[services.api.health]]
http = "http://127.0.0.1:{port}/health"
interval = "500ms"
timeout = "1s"
"#
    ));
    let _daemon = s.up();
    let api = s.wait_service("api", "the check to time out and fail", T, |api| {
        api["checks"][0]["detail"].as_str() == Some("timed out after 1s")
            && api["checks"][0]["state"] == "failing"
    });
    assert!(accepted.load(Ordering::SeqCst) >= 1);
    // Never ready: it stays `starting`, saying why.
    assert_eq!(api["state"], "starting", "{api}");
    assert_eq!(
        api["detail"], "check http fails: timed out after 1s",
        "{api}"
    );
    // The daemon acts while the trickling connections are held.
    assert!(s.run(&["restart", "--no-wait", "api"]).status.success());
    wait_until("a new process", T, || {
        let now = s.service("api");
        (now["pid"].is_number() && now["pid"] != api["pid"]).then_some(())
    });
}

#[test]
fn an_alert_receiver_that_accepts_and_never_answers_delays_nothing_and_fails_at_its_timeout() {
    // The hanging receiver: accepts, reads nothing, answers nothing.
    let (hanging, held) = trickling_server(b"", Duration::ZERO);
    let (working, got) = support::receiver();
    let s = Sandbox::new(&format!(
        r#"
[alerts.sinks.hangs]
webhook = "http://127.0.0.1:{hanging}/hook"
timeout = "300ms"

[alerts.sinks.works]
webhook = "http://127.0.0.1:{working}/hook"

[services.down]
command = ["sh", "-c", "exit 1"]
restart = {{ backoff_initial = "50ms", max_restarts = 1, window = "1h" }}

[services.fine]
command = "sleep 1000"
"#
    ));
    let _daemon = s.up();
    s.wait_state("down", "crash-loop", T);
    // The working receiver has the alert while the hanging one holds its
    // connection open.
    wait_until("the working receiver's alert", T, || {
        (!got.lock().unwrap().is_empty()).then_some(())
    });
    wait_until("the hanging receiver's connection", T, || {
        (held.load(Ordering::SeqCst) >= 1).then_some(())
    });
    // The daemon acts while the delivery hangs.
    assert!(s.run(&["restart", "fine"]).status.success());
    s.wait_state("fine", "running", T);
    let sent = s.event_messages("alert-sent");
    assert!(sent.iter().any(|m| m.contains("works")), "{sent:?}");
    // Four attempts of 300 ms each, 1 + 4 + 16 s apart: the sink's own
    // timeout, not the 10 s default, bounds each.
    let failed = wait_until(
        "the hanging sink's alert-failed",
        Duration::from_secs(60),
        || {
            let failed = s.event_messages("alert-failed");
            (!failed.is_empty()).then_some(failed)
        },
    );
    assert!(
        failed[0].contains("hangs") && failed[0].contains("no answer within 300ms"),
        "{failed:?}"
    );
}

#[test]
fn children_killed_by_sigkill_sigsegv_and_sigabrt_are_restarted_and_the_signal_is_said() {
    let service = |name: &str, signal: &str| {
        format!(
            r#"
[services.{name}]
command = ["sh", "-c", "ulimit -c 0; echo $$ >> {name}.pids; sleep 0.2; kill -{signal} $$"]
restart = {{ backoff_initial = "50ms", max_restarts = 100, window = "1h" }}
"#
        )
    };
    let s = Sandbox::new(&format!(
        "{}{}{}",
        service("killed", "KILL"),
        service("segv", "SEGV"),
        service("abort", "ABRT")
    ));
    let _daemon = s.up();
    for (name, signal) in [
        ("killed", "SIGKILL"),
        ("segv", "SIGSEGV"),
        ("abort", "SIGABRT"),
    ] {
        let svc = s.wait_service(name, "two exits by its signal", T, |svc| {
            svc["exit_counts"][signal].as_u64().is_some_and(|n| n >= 2)
        });
        assert!(svc["restarts"].as_u64().unwrap() >= 2, "{svc}");
        // Every instance but the running one is gone: nothing orphaned.
        let pids = s.read_pids(&format!("{name}.pids"));
        let live: Vec<i32> = pids.into_iter().filter(|p| alive(*p)).collect();
        assert!(live.len() <= 1, "{name}: {live:?}");
    }
    let exits = s.event_messages("exited");
    for signal in ["SIGKILL", "SIGSEGV", "SIGABRT"] {
        assert!(
            exits.iter().any(|m| m.contains(signal)),
            "{signal}: {exits:?}"
        );
    }
}
