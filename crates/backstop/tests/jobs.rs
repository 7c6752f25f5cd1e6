//! Scheduled jobs (`[jobs.NAME]`) run by the real daemon: runs on an
//! interval and a cron schedule, recorded with their output; a failing one
//! alerts once on a real receiver; a run that must not overlap is skipped;
//! `run-job` waits and says how the run ended; a timeout stops the run's
//! whole process group; `job-missed` when no run succeeds in time.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{Sandbox, alive, receiver, wait_until};

const T: Duration = Duration::from_secs(30);

/// The job called `name` as the daemon reports it.
fn job(s: &Sandbox, name: &str) -> Option<Value> {
    s.try_status()?["jobs"]
        .as_array()?
        .iter()
        .find(|j| j["name"] == name)
        .cloned()
}

fn wait_job(s: &Sandbox, name: &str, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    wait_until(what, T, || job(s, name).filter(|j| ready(j)))
}

#[test]
fn an_interval_job_runs_and_is_recorded_and_a_failing_one_alerts_once() {
    let (port, got) = receiver();
    let s = Sandbox::new(&format!(
        r#"
[alerts.sinks.ops]
webhook = "http://127.0.0.1:{port}/hook"

[services.web]
command = "sleep 1000"

[jobs.tick]
command = ["sh", "-c", "echo tick $$; echo done"]
every = "1s"

[jobs.backup]
command = ["sh", "-c", "if [ -e fixed ]; then echo dumped; exit 0; fi; echo 'pg_dump: error: connection refused' >&2; exit 3"]
every = "1s"
"#
    ));
    let _daemon = s.up();
    // Jobs are not services: `status` lists them apart, `/health` ignores them.
    let status = s.status();
    let names: Vec<&str> = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web"]);

    let tick = wait_job(&s, "tick", "two runs of tick", |j| {
        j["runs"].as_u64() >= Some(2) && j["last_run"]["result"] == "succeeded"
    });
    assert_eq!(tick["runs_as"], "job:tick");
    assert_eq!(tick["schedule"], "every 1s");
    assert_eq!(tick["failures"], 0);
    let run = &tick["last_run"];
    assert_eq!(run["ended"], "exit 0");
    assert_eq!(run["trigger"], "schedule");
    assert_eq!(run["output"].as_array().unwrap().last().unwrap(), "done");
    assert!(tick["next_run"].is_string() && tick["last_success"].is_string());
    // Its output is in the log system, as a service's is.
    s.wait_log("job:tick", "done", T);
    let succeeded = s.event_messages("job-succeeded");
    assert!(
        succeeded.iter().any(|m| m.starts_with("job:tick: run #")),
        "{succeeded:?}"
    );

    // The failing job fails on every run, and alerts once.
    let backup = wait_job(&s, "backup", "three failed runs of backup", |j| {
        j["failures"].as_u64() >= Some(3)
    });
    assert_eq!(backup["last_run"]["ended"], "exit 3");
    assert_eq!(
        backup["last_run"]["output"][0],
        "pg_dump: error: connection refused"
    );
    let failed = s.event_messages("job-failed");
    assert!(
        failed
            .iter()
            .any(|m| m.contains("(exit 3); last output: pg_dump: error: connection refused")),
        "{failed:?}"
    );
    let firing = |got: &[(String, Value)]| -> Vec<Value> {
        got.iter()
            .filter(|(_, b)| b["rule"] == "job-failed")
            .map(|(_, b)| b.clone())
            .collect()
    };
    let fired = wait_until("the job-failed alert", T, || {
        let f = firing(&got.lock().unwrap());
        (!f.is_empty()).then_some(f)
    });
    assert_eq!(fired[0]["status"], "firing");
    assert_eq!(fired[0]["service"], "job:backup");
    assert_eq!(fired[0]["severity"], "critical");
    assert!(
        fired[0]["summary"]
            .as_str()
            .unwrap()
            .contains("last output: pg_dump: error: connection refused"),
        "{}",
        fired[0]
    );
    // Fixed: the next run succeeds and the alert resolves, once.
    std::fs::write(s.path("fixed"), "").unwrap();
    let all = wait_until("the job-failed alert to resolve", T, || {
        let f = firing(&got.lock().unwrap());
        f.iter().any(|b| b["status"] == "resolved").then_some(f)
    });
    let more = wait_job(&s, "backup", "more failures to have passed", |j| {
        j["last_run"]["result"] == "succeeded" && j["runs"].as_u64() >= Some(6)
    });
    assert_eq!(more["last_run"]["output"][0], "dumped");
    let all_now = firing(&got.lock().unwrap());
    let statuses: Vec<&str> = all_now
        .iter()
        .map(|b| b["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["firing", "resolved"],
        "one firing over {} failures, one resolution: {all:?}",
        backup["failures"]
    );
    // The web service was never touched.
    assert_eq!(s.service("web")["restarts"], 0);
}

#[test]
fn a_run_that_must_not_overlap_is_skipped_while_the_previous_one_goes_on() {
    let s = Sandbox::new(
        r#"
[services.web]
command = "sleep 1000"

[jobs.vacuum]
command = ["sh", "-c", "echo $$ >> pids; while [ ! -e release ]; do sleep 0.02; done; echo vacuumed"]
every = "1s"
"#,
    );
    let _daemon = s.up();
    let skipped = wait_job(&s, "vacuum", "a skipped run", |j| {
        j["skipped"].as_u64() >= Some(2)
    });
    assert_eq!(skipped["runs"], 1, "never two runs at once: {skipped}");
    assert_eq!(skipped["state"], "running");
    let pids = std::fs::read_to_string(s.path("pids")).unwrap();
    assert_eq!(pids.lines().count(), 1, "one process ran: {pids}");
    let said = s.event_messages("job-skipped");
    assert!(
        said[0].contains("run skipped: the previous one still goes on (run #1 started"),
        "{said:?}"
    );
    std::fs::write(s.path("release"), "").unwrap();
    let done = wait_job(&s, "vacuum", "the long run to end", |j| {
        j["last_run"]["result"] == "succeeded"
    });
    assert_eq!(done["last_run"]["output"][0], "vacuumed");
    assert!(done["last_run"]["duration_ms"].as_u64().unwrap() >= 1000);
}

#[test]
fn run_job_waits_and_says_how_it_ended_and_a_timeout_stops_the_whole_run() {
    let s = Sandbox::new(
        r#"
[services.web]
command = "sleep 1000"

[jobs.report]
command = ["sh", "-c", "echo rows=42"]
schedule = "0 3 1 1 *"
timezone = "UTC"

[jobs.broken]
command = ["sh", "-c", "echo 'fatal: bucket not found' >&2; exit 2"]
schedule = "0 3 1 1 *"

[jobs.stuck]
command = ["sh", "-c", "sleep 300 & echo $! > child; echo $$ > main; wait"]
schedule = "0 3 1 1 *"
timeout = "1s"
"#,
    );
    let _daemon = s.up();
    let listed = s.stdout(&["jobs"]);
    assert!(
        listed.contains("report") && listed.contains("0 3 1 1 * (UTC)"),
        "{listed}"
    );
    assert!(listed.contains("never"), "{listed}");

    let ok = s.run(&["run-job", "report"]);
    let said = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{said}");
    assert!(said.starts_with("job:report: succeeded in "), "{said}");
    assert!(said.contains("  rows=42"), "{said}");

    let bad = s.run(&["run-job", "--json", "job:broken"]);
    assert_eq!(bad.status.code(), Some(1));
    let run: Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(run["result"], "failed");
    assert_eq!(run["ended"], "exit 2");
    assert_eq!(run["trigger"], "manual");
    assert_eq!(run["output"][0], "fatal: bucket not found");

    let stuck = s.run(&["run-job", "stuck"]);
    let said = String::from_utf8_lossy(&stuck.stdout);
    assert_eq!(stuck.status.code(), Some(1), "{said}");
    assert!(
        said.contains("failed") && said.contains("(timed out after 1s)"),
        "{said}"
    );
    // The run's whole process group is gone, its background child too.
    let child = s.read_pid("child");
    let main = s.read_pid("main");
    wait_until("the run's processes to be gone", T, || {
        (!alive(child) && !alive(main)).then_some(())
    });

    let unknown = s.run(&["run-job", "nightly"]);
    assert_eq!(unknown.status.code(), Some(2));
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        err.contains("no job `nightly`; the jobs are: report, broken, stuck"),
        "{err}"
    );
    let listed = s.stdout(&["jobs"]);
    assert!(listed.contains("last output of broken"), "{listed}");
}

#[test]
fn a_job_without_a_successful_run_in_time_is_missed_once() {
    let (port, got) = receiver();
    let s = Sandbox::new(&format!(
        r#"
[alerts.sinks.ops]
webhook = "http://127.0.0.1:{port}/hook"

[services.web]
command = "sleep 1000"

[jobs.heartbeat]
command = ["sh", "-c", "[ -e ok ] || exit 1"]
every = "1s"
missed_after = "2s"
"#
    ));
    let _daemon = s.up();
    let missed = wait_job(&s, "heartbeat", "the job to be missed", |j| {
        j["missed"] == true
    });
    assert!(missed["last_success"].is_null());
    let said = s.event_messages("job-missed");
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].starts_with("job:heartbeat: no successful run within 2s of being due at "),
        "{said:?}"
    );
    wait_until("the job-missed alert", T, || {
        got.lock()
            .unwrap()
            .iter()
            .any(|(_, b)| b["rule"] == "job-missed" && b["status"] == "firing")
            .then_some(())
    });
    std::fs::write(s.path("ok"), "").unwrap();
    let back = wait_job(&s, "heartbeat", "a success", |j| j["missed"].is_null());
    assert!(back["last_success"].is_string());
    let succeeded = s.event_messages("job-succeeded");
    assert!(
        succeeded.iter().any(|m| m.ends_with("(no longer missed)")),
        "{succeeded:?}"
    );
    assert_eq!(s.event_messages("job-missed").len(), 1);
}

#[test]
fn a_job_waits_for_its_dependency_to_be_healthy() {
    let s = Sandbox::new(
        r#"
[services.db]
command = "sleep 1000"

[[services.db.health]]
exec = "test -e db-ready"
interval = "200ms"

[jobs.dump]
command = ["sh", "-c", "echo dumped"]
schedule = "0 3 1 1 *"
depends_on = { db = "healthy" }
"#,
    );
    let _daemon = s.up();
    assert!(s.run(&["run-job", "--no-wait", "dump"]).status.success());
    let waiting = wait_job(&s, "dump", "the run to wait", |j| j["state"] == "pending");
    assert!(waiting["running_since"].is_string());
    let detail = wait_until("the wait to be explained", T, || {
        let out = s.stdout(&["status", "--json", "job:dump"]);
        let v: Value = serde_json::from_str(&out).ok()?;
        let d = v["services"][0]["detail"].as_str()?.to_string();
        Some(d)
    });
    assert!(detail.contains("db"), "{detail}");
    std::fs::write(s.path("db-ready"), "").unwrap();
    let done = wait_job(&s, "dump", "the run after db is healthy", |j| {
        j["last_run"]["result"] == "succeeded"
    });
    assert_eq!(done["last_run"]["output"][0], "dumped");
}

#[test]
fn bad_schedules_are_named_with_their_place_in_the_file() {
    let s = Sandbox::new(
        r#"
[services.web]
command = "sleep 1000"

[jobs.a]
command = "true"
schedule = "0 25 * * *"

[jobs.b]
command = "true"
schedule = "0 2 * * *"
timezone = "Mars/Olympus"

[jobs.c]
command = "true"

[jobs.d]
command = "true"
every = "1h"
schedule = "0 2 * * *"

[jobs.e]
command = "true"
every = "1h"
concurency = "queue"

[jobs.f]
command = "true"
every = "10ms"

[jobs.g]
command = "true"
every = "1h"
missed_after = "0s"
"#,
    );
    let out = s.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "invalid `schedule` in job `a`",
        "backstop.toml:7:12",
        "Number out of bounds: expected five fields",
        "unknown time zone `Mars/Olympus`",
        "job `c` has no `schedule`",
        "job `d` has both `schedule` and `every`",
        "unknown key `concurency` in job `e`",
        "did you mean `concurrency`?",
        "expected an interval of at least 1s",
        "invalid `missed_after` in job `g`",
        "expected a duration of at least 1s",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
}

#[test]
fn a_queued_run_starts_when_the_previous_one_ends() {
    let s = Sandbox::new(
        r#"
[services.web]
command = "sleep 1000"

[jobs.import]
command = ["sh", "-c", "echo $$ >> pids; while [ ! -e release ]; do sleep 0.02; done; rm -f release; echo imported"]
schedule = "0 3 1 1 *"
concurrency = "queue"
"#,
    );
    let _daemon = s.up();
    assert!(s.run(&["run-job", "--no-wait", "import"]).status.success());
    wait_job(&s, "import", "the first run", |j| j["state"] == "running");
    // Asked again while it runs: queued, not started beside it.
    assert!(s.run(&["run-job", "--no-wait", "import"]).status.success());
    let queued = wait_job(&s, "import", "the queued run", |j| j["queued"] == true);
    assert_eq!(queued["runs"], 1);
    std::fs::write(s.path("release"), "").unwrap();
    let second = wait_job(&s, "import", "the queued run to start", |j| {
        j["runs"] == 2 && j["state"] == "running"
    });
    assert_eq!(second["last_run"]["result"], "succeeded");
    std::fs::write(s.path("release"), "").unwrap();
    let done = wait_job(&s, "import", "the queued run to end", |j| {
        j["runs"] == 2 && j["running_since"].is_null()
    });
    assert_eq!(done["last_run"]["trigger"], "queued");
    let pids = std::fs::read_to_string(s.path("pids")).unwrap();
    assert_eq!(pids.lines().count(), 2, "{pids}");
}

#[test]
fn a_job_runs_as_its_user_with_that_user_s_home() {
    let s = Sandbox::new(
        r#"
[jobs.vacuum]
command = ["sh", "-c", "echo uid=$(id -u) gid=$(id -g) home=$HOME"]
schedule = "0 3 1 1 *"
user = "nobody"
"#,
    );
    let _daemon = s.up();
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let ran = s.run(&["run-job", "vacuum"]);
    let said = String::from_utf8_lossy(&ran.stdout);
    assert!(ran.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "  uid={} gid={} home={}",
            nobody.uid,
            nobody.gid,
            nobody.dir.display()
        )),
        "{said}"
    );
}
