//! backstop itself SIGKILLed in the middle of its work, then started
//! again: what the killed daemon ran is found and stopped, nothing runs
//! twice, and the history says so.

mod support;

use std::time::Duration;

use nix::sys::signal::Signal;
use support::{Sandbox, alive, wait_until};

const T: Duration = Duration::from_secs(30);

#[test]
fn killed_while_stopping_a_service_the_next_daemon_finishes_the_stop_and_runs_one_instance() {
    let s = Sandbox::new(
        r#"
[services.app]
command = ["sh", "-c", "echo $$ >> pids; trap 'echo draining >> log; sleep 30' TERM; while true; do sleep 0.05; done"]
stop = { timeout = "3s" }
"#,
    );
    let mut first = s.up();
    let old = s.read_pid("pids");
    let out = s.run(&["stop", "--no-wait", "app"]);
    assert!(out.status.success(), "{out:?}");
    wait_until("the service to be draining", T, || {
        std::fs::read_to_string(s.path("log"))
            .is_ok_and(|l| l.contains("draining"))
            .then_some(())
    });
    first.signal(Signal::SIGKILL);
    first.wait(T);
    assert!(alive(old), "the draining child outlives the killed daemon");
    let _second = s.up();
    let svc = s.wait_state("app", "running", T);
    let new = svc["pid"].as_i64().unwrap() as i32;
    wait_until("the old instance to be gone", T, || {
        (!alive(old)).then_some(())
    });
    let running: Vec<i32> = s
        .read_pids("pids")
        .into_iter()
        .filter(|p| alive(*p))
        .collect();
    assert_eq!(running, vec![new], "one instance");
    let said = s.event_messages("leftover");
    assert!(
        said.iter().any(|m| m.contains(&old.to_string())),
        "{said:?}"
    );
}

#[test]
fn killed_during_a_job_run_the_next_daemon_stops_the_run_it_left() {
    let s = Sandbox::new(
        r#"
[services.web]
command = "sleep 1000"

[jobs.backup]
command = ["sh", "-c", "echo $$ >> job-pids; sleep 300 & echo $! >> job-pids; wait"]
schedule = "0 3 1 1 *"
"#,
    );
    let mut first = s.up();
    s.wait_state("web", "running", T);
    assert!(s.run(&["run-job", "--no-wait", "backup"]).status.success());
    let run = wait_until("the run's two processes", T, || {
        let p = s.read_pids("job-pids");
        (p.len() == 2).then_some(p)
    });
    first.signal(Signal::SIGKILL);
    first.wait(T);
    assert!(
        run.iter().all(|p| alive(*p)),
        "the run outlives the killed daemon"
    );
    let _second = s.up();
    s.wait_state("web", "running", T);
    wait_until("the left run to be stopped", T, || {
        run.iter().all(|p| !alive(*p)).then_some(())
    });
    let said = s.event_messages("leftover");
    assert!(said.iter().any(|m| m.contains("job:backup")), "{said:?}");
    // The job is idle, ready for its next run: a run now works.
    let again = s.run(&["run-job", "--no-wait", "backup"]);
    assert!(again.status.success(), "{again:?}");
}

#[test]
fn killed_during_a_playbook_step_the_next_daemon_stops_what_the_step_left() {
    let s = Sandbox::new(
        r#"
[services.app]
command = "sleep 1000"

[playbooks.migrate]
steps = [
  { action = "exec", command = "echo $$ >> step-pids; sleep 300 & echo $! >> step-pids; wait", timeout = "10m" },
  "restart",
]
"#,
    );
    let mut first = s.up();
    s.wait_state("app", "running", T);
    let mut fix = s
        .command(&["fix", "app", "migrate", "--yes"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let step = wait_until("the step's two processes", T, || {
        let p = s.read_pids("step-pids");
        (p.len() == 2).then_some(p)
    });
    first.signal(Signal::SIGKILL);
    first.wait(T);
    assert!(
        step.iter().all(|p| alive(*p)),
        "the step outlives the killed daemon"
    );
    // The client is told, not left waiting.
    let status = wait_until("the fix command to end", T, || fix.try_wait().unwrap());
    assert!(!status.success());
    let mut said = String::new();
    std::io::Read::read_to_string(&mut fix.stderr.take().unwrap(), &mut said).unwrap();
    assert!(
        said.contains("the daemon closed the connection before answering"),
        "{said}"
    );
    let _second = s.up();
    s.wait_state("app", "running", T);
    wait_until("the step's processes to be stopped", T, || {
        step.iter().all(|p| !alive(*p)).then_some(())
    });
    let said = s.event_messages("leftover");
    assert!(
        said.iter()
            .any(|m| m.contains("playbook step") && m.contains(&step[0].to_string())),
        "{said:?}"
    );
    // Its record is gone with it; the one instance of the service runs.
    let helpers = s.path(".backstop/helpers");
    let left: Vec<_> = std::fs::read_dir(&helpers)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn killed_during_a_reload_that_replaces_a_service_the_next_daemon_runs_only_the_new_one() {
    let old_config = r#"
[services.app]
command = ["sh", "-c", "echo $$ >> old-pids; trap 'echo draining >> log; sleep 30' TERM; while true; do sleep 0.05; done"]
stop = { timeout = "20s" }
"#;
    let s = Sandbox::new(old_config);
    let mut first = s.up();
    s.wait_state("app", "running", T);
    let old = s.read_pid("old-pids");
    // The new command: the reload replaces the service, the old instance drains.
    s.write(
        "backstop.toml",
        r#"
[services.app]
command = ["sh", "-c", "echo $$ >> new-pids; exec sleep 1000"]
stop = { timeout = "20s" }
"#,
    );
    assert!(s.run(&["reload"]).status.success());
    wait_until("the old instance to be draining", T, || {
        std::fs::read_to_string(s.path("log"))
            .is_ok_and(|l| l.contains("draining"))
            .then_some(())
    });
    first.signal(Signal::SIGKILL);
    first.wait(T);
    assert!(
        alive(old),
        "the draining instance outlives the killed daemon"
    );
    let _second = s.up();
    let svc = s.wait_service("app", "the new command running", T, |app| {
        app["state"] == "running"
            && s.read_pids("new-pids").last().map(|p| i64::from(*p)) == app["pid"].as_i64()
    });
    wait_until("the old instance to be gone", T, || {
        (!alive(old)).then_some(())
    });
    let alive_old: Vec<i32> = s
        .read_pids("old-pids")
        .into_iter()
        .filter(|p| alive(*p))
        .collect();
    let alive_new: Vec<i32> = s
        .read_pids("new-pids")
        .into_iter()
        .filter(|p| alive(*p))
        .collect();
    assert!(alive_old.is_empty(), "{alive_old:?}");
    assert_eq!(
        alive_new.len(),
        1,
        "one instance, of the new command: {alive_new:?} {svc}"
    );
}

#[test]
fn killed_during_a_start_the_next_daemon_starts_each_service_once() {
    // `db` is starting (its check fails until `ready` exists); `api` waits
    // for it, pending. The daemon dies in the middle of that.
    let s = Sandbox::new(
        r#"
[services.db]
command = ["sh", "-c", "echo $$ >> db-pids; exec sleep 1000"]

[[services.db.health]]
exec = ["test", "-e", "ready"]
interval = "100ms"

[services.api]
command = ["sh", "-c", "echo $$ >> api-pids; exec sleep 1000"]
depends_on = { db = "healthy" }
"#,
    );
    let mut first = s.up();
    s.wait_state("db", "starting", T);
    assert_eq!(s.service("api")["state"], "pending");
    let old_db = s.read_pid("db-pids");
    first.signal(Signal::SIGKILL);
    first.wait(T);
    let _second = s.up();
    s.write("ready", "");
    s.wait_state("api", "running", T);
    wait_until("the first db to be gone", T, || {
        (!alive(old_db)).then_some(())
    });
    let running = |file: &str| -> Vec<i32> {
        s.read_pids(file)
            .into_iter()
            .filter(|p| alive(*p))
            .collect()
    };
    assert_eq!(running("db-pids").len(), 1, "one db");
    assert_eq!(
        s.read_pids("api-pids").len(),
        1,
        "api started once, after db was healthy"
    );
    let said = s.event_messages("leftover");
    assert!(
        said.iter().any(|m| m.contains(&old_db.to_string())),
        "{said:?}"
    );
}
