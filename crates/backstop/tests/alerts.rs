//! Alerts delivered to a real HTTP receiver on 127.0.0.1.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{Sandbox, receiver, wait_until};

const T: Duration = Duration::from_secs(30);

#[test]
fn a_crash_loop_fires_once_and_resolves_once_on_webhook_and_alertmanager() {
    let (port, got) = receiver();
    let s = Sandbox::new(&format!(
        r#"
[alerts.sinks.ops]
webhook = "http://127.0.0.1:{port}/hook"

[alerts.sinks.am]
alertmanager = "http://127.0.0.1:{port}/"
severity = "critical"

[services.flaky]
command = ["sh", "-c", "if [ -e ok ]; then exec sleep 1000; fi; echo 'cannot start'; exit 1"]
restart = {{ backoff_initial = "50ms", max_restarts = 2, window = "1h" }}
"#
    ));
    let _daemon = s.up();
    s.wait_state("flaky", "crash-loop", T);
    let fired = wait_until("the firing on both sinks", T, || {
        let got = got.lock().unwrap().clone();
        (got.len() >= 2).then_some(got)
    });
    let hook = fired
        .iter()
        .find(|(p, _)| p == "/hook")
        .expect("webhook")
        .1
        .clone();
    assert_eq!(hook["status"], "firing");
    assert_eq!(hook["rule"], "service-down");
    assert_eq!(hook["severity"], "critical");
    assert_eq!(hook["service"], "flaky");
    assert!(
        hook["summary"]
            .as_str()
            .unwrap()
            .starts_with("flaky is crash-loop"),
        "{hook}"
    );
    let am = fired
        .iter()
        .find(|(p, _)| p == "/api/v2/alerts")
        .expect("alertmanager")
        .1
        .clone();
    let one = &am.as_array().expect("an array of alerts")[0];
    assert_eq!(one["labels"]["alertname"], "service-down");
    assert_eq!(one["labels"]["service"], "flaky");
    assert_eq!(one["labels"]["severity"], "critical");
    assert!(humantime::parse_rfc3339(one["startsAt"].as_str().unwrap()).is_ok());
    assert!(one.get("endsAt").is_none());
    assert!(one["annotations"]["summary"].is_string());

    std::fs::write(s.path("ok"), "").unwrap();
    assert!(s.run(&["start", "flaky"]).status.success());
    let all = wait_until("the resolution on both sinks", T, || {
        let got = got.lock().unwrap().clone();
        (got.len() >= 4).then_some(got)
    });
    let hooks: Vec<&Value> = all
        .iter()
        .filter(|(p, _)| p == "/hook")
        .map(|(_, b)| b)
        .collect();
    let statuses: Vec<&str> = hooks
        .iter()
        .map(|b| b["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["firing", "resolved"], "{hooks:?}");
    assert_eq!(hooks[1]["started_at"], hooks[0]["started_at"]);
    let resolved = &all.iter().rfind(|(p, _)| p == "/api/v2/alerts").unwrap().1[0];
    assert!(humantime::parse_rfc3339(resolved["endsAt"].as_str().unwrap()).is_ok());
    // The incident is in the history too.
    let (_, metrics) = s.api("GET", "/metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l == "backstop_alerts_fired_total 1"),
        "{metrics}"
    );
    let events = s.run(&["events", "--kind", "alert-fired,alert-resolved,alert-sent"]);
    let text = String::from_utf8_lossy(&events.stdout);
    assert_eq!(text.matches("alert-fired").count(), 1, "{text}");
    assert_eq!(text.matches("alert-resolved").count(), 1, "{text}");
}

#[test]
fn a_dead_sink_is_reported_and_blocks_nothing() {
    // A port nobody listens on.
    let port = support::free_port();
    let s = Sandbox::new(&format!(
        r#"
[alerts.sinks.dead]
webhook = "http://127.0.0.1:{port}/hook"

[services.down]
command = ["sh", "-c", "exit 1"]
restart = {{ backoff_initial = "50ms", max_restarts = 1, window = "1h" }}

[services.fine]
command = "sleep 1000"
"#
    ));
    let _daemon = s.up();
    s.wait_state("down", "crash-loop", T);
    // The daemon answers while deliveries are being retried.
    assert!(s.run(&["restart", "fine"]).status.success());
    s.wait_state("fine", "running", T);
    let text = wait_until("the failure recorded", T, || {
        let out = s.run(&["events", "--kind", "alert-failed"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.contains("alert-failed").then_some(text)
    });
    assert!(
        text.contains("dead: could not deliver") && text.contains("after 4 attempts"),
        "{text}"
    );
}

#[test]
fn a_command_sink_gets_the_alert_in_its_environment_and_on_stdin() {
    let s = Sandbox::new(
        r#"
[alerts.sinks.mail]
command = ["sh", "-c", "cat > \"alert-$BACKSTOP_ALERT_STATUS.json\"; echo \"$BACKSTOP_ALERT_SEVERITY $BACKSTOP_ALERT_RULE $BACKSTOP_ALERT_SERVICE\" > \"alert-$BACKSTOP_ALERT_STATUS.env\""]

[services.broken]
command = ["sh", "-c", "exit 2"]
restart = { backoff_initial = "50ms", max_restarts = 1, window = "1h" }
"#,
    );
    let _daemon = s.up();
    s.wait_state("broken", "crash-loop", T);
    // The shell creates the file before `echo` writes: wait for the line.
    let env = wait_until("the command to run", T, || {
        std::fs::read_to_string(s.path("alert-firing.env"))
            .ok()
            .filter(|c| c.ends_with('\n'))
    });
    assert_eq!(env.trim(), "critical service-down broken");
    let json: Value = wait_until("its stdin written", T, || {
        serde_json::from_str(&std::fs::read_to_string(s.path("alert-firing.json")).ok()?).ok()
    });
    assert_eq!(json["rule"], "service-down");
    assert_eq!(json["status"], "firing");
    let sent = wait_until("the delivery recorded", T, || {
        let out = s.run(&["events", "--kind", "alert-sent"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.contains("mail: delivered").then_some(text)
    });
    assert!(sent.contains("broken is crash-loop"), "{sent}");
}
