//! Delivering alerts: webhook (backstop's JSON or Slack's `{"text"}`) and
//! Alertmanager's `/api/v2/alerts`. Each delivery is a task of its own,
//! bounded by a timeout and retried with backoff, so a dead sink never
//! blocks anything; every outcome is an event.

use std::time::{Duration, SystemTime};

use backstop_api::Event;
use backstop_config::{AlertsConfig, SinkConfig, SinkKind};
use serde_json::json;
use tokio::sync::broadcast;

use super::Alert;

/// Waits before the attempts after the first.
const RETRY_AFTER: &[Duration] = &[
    Duration::from_secs(1),
    Duration::from_secs(4),
    Duration::from_secs(16),
];
/// One attempt's limit.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

fn stamp(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

fn publish(bus: &broadcast::Sender<Event>, service: Option<&str>, kind: &str, message: String) {
    let _ = bus.send(Event {
        at: stamp(SystemTime::now()),
        service: service.map(str::to_string),
        kind: kind.to_string(),
        message,
    });
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_or_else(|_| "localhost".to_string(), |h| h.trim().to_string())
}

/// The request body for `sink`.
fn payload(
    sink: &SinkConfig,
    alert: &Alert,
    started: SystemTime,
    ended: Option<SystemTime>,
) -> (String, Vec<u8>) {
    let status = if ended.is_some() {
        "resolved"
    } else {
        "firing"
    };
    let body = match &sink.kind {
        SinkKind::Webhook { slack: true, .. } => {
            let head = match ended {
                Some(_) => "RESOLVED".to_string(),
                None => format!("FIRING {}", alert.severity.as_str()),
            };
            json!({ "text": format!("[{head}] {} (backstop on {})", alert.summary, hostname()) })
        }
        SinkKind::Webhook { slack: false, .. } => json!({
            "status": status,
            "rule": alert.rule,
            "severity": alert.severity.as_str(),
            "service": alert.service,
            "summary": alert.summary,
            "host": hostname(),
            "started_at": stamp(started),
            "ended_at": ended.map(stamp),
        }),
        SinkKind::Alertmanager { .. } => {
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
            json!([one])
        }
    };
    let url = match &sink.kind {
        SinkKind::Webhook { url, .. } => url.clone(),
        SinkKind::Alertmanager { url } => format!("{url}/api/v2/alerts"),
    };
    (url, body.to_string().into_bytes())
}

/// Announces the notification on the bus and starts one delivery per sink.
pub(super) fn notify(
    config: &AlertsConfig,
    alert: &Alert,
    started: SystemTime,
    ended: Option<SystemTime>,
    bus: &broadcast::Sender<Event>,
) {
    let (kind, verb) = match ended {
        None => ("alert-fired", format!("FIRING {}", alert.severity.as_str())),
        Some(_) => ("alert-resolved", "RESOLVED".to_string()),
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
        let (url, body) = payload(sink, alert, started, ended);
        let (name, service, bus) = (sink.name.clone(), alert.service.clone(), bus.clone());
        let summary = alert.summary.clone();
        tokio::spawn(async move {
            let mut last = String::new();
            for attempt in 0..=RETRY_AFTER.len() {
                if attempt > 0 {
                    tokio::time::sleep(RETRY_AFTER[attempt - 1]).await;
                }
                let sent = tokio::time::timeout(
                    ATTEMPT_TIMEOUT,
                    backstop_probe::post(&url, "application/json", body.clone()),
                )
                .await;
                match sent {
                    Ok(Ok(code)) if (200..300).contains(&code) => {
                        publish(
                            &bus,
                            service.as_deref(),
                            "alert-sent",
                            format!("{name}: delivered \"{summary}\""),
                        );
                        return;
                    }
                    Ok(Ok(code)) => last = format!("HTTP {code}"),
                    Ok(Err(e)) => last = e,
                    Err(_) => last = format!("no answer within {}s", ATTEMPT_TIMEOUT.as_secs()),
                }
            }
            publish(
                &bus,
                service.as_deref(),
                "alert-failed",
                format!(
                    "{name}: could not deliver \"{summary}\" after {} attempts: {last}",
                    RETRY_AFTER.len() + 1
                ),
            );
        });
    }
}
