//! Delivering alerts: webhook (backstop's JSON or Slack's `{"text"}`),
//! Alertmanager's `/api/v2/alerts`, and a command. Each delivery is a task
//! of its own, bounded by a timeout and retried with backoff, so a dead
//! sink never blocks anything; every outcome is an event.

use std::time::{Duration, SystemTime};

use backstop_api::Event;
use backstop_api::{EventBus, EventKind};
use backstop_config::{AlertsConfig, SinkConfig, SinkKind};
use backstop_probe::{ExecContext, ProbeReaper};
use serde_json::json;

use super::Alert;

/// Waits before the attempts after the first.
const RETRY_AFTER: &[Duration] = &[
    Duration::from_secs(1),
    Duration::from_secs(4),
    Duration::from_secs(16),
];

fn stamp(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

fn publish(bus: &EventBus, service: Option<&str>, kind: EventKind, message: String) {
    bus.publish(Event::now(service, kind, message));
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_or_else(|_| "localhost".to_string(), |h| h.trim().to_string())
}

/// What one delivery does.
enum Delivery {
    /// POST this JSON.
    Post { url: String, body: Vec<u8> },
    /// Run a program with the alert in its environment and on stdin.
    Run {
        command: Vec<String>,
        context: ExecContext,
        input: Vec<u8>,
    },
}

/// backstop's own JSON form of a notification (webhook body, command stdin).
fn document(alert: &Alert, started: SystemTime, ended: Option<SystemTime>) -> serde_json::Value {
    json!({
        "status": if ended.is_some() { "resolved" } else { "firing" },
        "rule": alert.rule,
        "severity": alert.severity.as_str(),
        "service": alert.service,
        "summary": alert.summary,
        "host": hostname(),
        "started_at": stamp(started),
        "ended_at": ended.map(stamp),
    })
}

/// The delivery of one notification to `sink`.
fn delivery(
    sink: &SinkConfig,
    alert: &Alert,
    started: SystemTime,
    ended: Option<SystemTime>,
    reaper: &ProbeReaper,
) -> Delivery {
    let doc = document(alert, started, ended);
    match &sink.kind {
        SinkKind::Webhook { url, slack: false } => Delivery::Post {
            url: url.clone(),
            body: doc.to_string().into_bytes(),
        },
        SinkKind::Webhook { url, slack: true } => {
            let head = match ended {
                Some(_) => "RESOLVED".to_string(),
                None => format!("FIRING {}", alert.severity.as_str()),
            };
            let text = format!("[{head}] {} (backstop on {})", alert.summary, hostname());
            Delivery::Post {
                url: url.clone(),
                body: json!({ "text": text }).to_string().into_bytes(),
            }
        }
        SinkKind::Alertmanager { url } => {
            let mut labels = json!({
                "alertname": alert.rule,
                "severity": alert.severity.as_str(),
                "instance": hostname(),
                "job": "backstop",
            });
            if let Some(s) = &alert.service {
                labels["service"] = json!(s);
            }
            let mut one = json!({
                "labels": labels,
                "annotations": { "summary": alert.summary },
                "startsAt": stamp(started),
            });
            if let Some(end) = ended {
                one["endsAt"] = json!(stamp(end));
            }
            Delivery::Post {
                url: format!("{url}/api/v2/alerts"),
                body: json!([one]).to_string().into_bytes(),
            }
        }
        SinkKind::Command { command, dir } => {
            let mut env = backstop_supervisor::spawn::inherited_environment();
            for (key, value) in doc.as_object().into_iter().flatten() {
                let text = match value {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                };
                env.insert(format!("BACKSTOP_ALERT_{}", key.to_ascii_uppercase()), text);
            }
            Delivery::Run {
                command: command.clone(),
                context: ExecContext {
                    dir: dir.clone(),
                    env,
                    ids: None,
                    reaper: Some(reaper.clone()),
                },
                input: doc.to_string().into_bytes(),
            }
        }
    }
}

/// One attempt, bounded by the sink's `timeout`.
async fn attempt(delivery: &Delivery, timeout: Duration) -> Result<(), String> {
    match delivery {
        Delivery::Post { url, body } => {
            let sent = tokio::time::timeout(
                timeout,
                backstop_probe::post(url, "application/json", body.clone()),
            )
            .await;
            match sent {
                Ok(Ok(code)) if (200..300).contains(&code) => Ok(()),
                Ok(Ok(code)) => Err(format!("HTTP {code}")),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(format!(
                    "no answer within {}",
                    humantime::format_duration(timeout)
                )),
            }
        }
        Delivery::Run {
            command,
            context,
            input,
        } => backstop_probe::run_with_input(command, context, input.clone(), timeout)
            .await
            .map(drop),
    }
}

/// Announces the notification on the bus and starts one delivery per sink.
pub(super) fn notify(
    config: &AlertsConfig,
    alert: &Alert,
    started: SystemTime,
    ended: Option<SystemTime>,
    bus: &EventBus,
    reaper: &ProbeReaper,
) {
    let (kind, verb) = match ended {
        None => (
            EventKind::AlertFired,
            format!("FIRING {}", alert.severity.as_str()),
        ),
        Some(_) => (EventKind::AlertResolved, "RESOLVED".to_string()),
    };
    publish(
        bus,
        alert.service.as_deref(),
        kind,
        format!("[{verb}] {}", alert.summary),
    );
    for sink in config
        .sinks
        .iter()
        .filter(|s| alert.severity >= s.min_severity)
    {
        let delivery = delivery(sink, alert, started, ended, reaper);
        let (name, service, bus) = (sink.name.clone(), alert.service.clone(), bus.clone());
        let timeout = sink.timeout;
        let summary = alert.summary.clone();
        tokio::spawn(async move {
            let mut last = String::new();
            for wait in std::iter::once(None).chain(RETRY_AFTER.iter().map(Some)) {
                if let Some(wait) = wait {
                    tokio::time::sleep(*wait).await;
                }
                match attempt(&delivery, timeout).await {
                    Ok(()) => {
                        publish(
                            &bus,
                            service.as_deref(),
                            EventKind::AlertSent,
                            format!("{name}: delivered \"{summary}\""),
                        );
                        return;
                    }
                    Err(e) => last = e,
                }
            }
            publish(
                &bus,
                service.as_deref(),
                EventKind::AlertFailed,
                format!(
                    "{name}: could not deliver \"{summary}\" after {} attempts: {last}",
                    RETRY_AFTER.len() + 1
                ),
            );
        });
    }
}
