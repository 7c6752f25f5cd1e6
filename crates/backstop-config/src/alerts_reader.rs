//! Reads `[alerts]`.

use crate::alerts::{AlertSeverity, AlertsConfig, SinkConfig, SinkKind};
use crate::diagnostic::Diagnostic;
use crate::reader::{Reader, Value};

const ALERTS_KEYS: &[&str] = &[
    "repeat",
    "restarts_per_hour",
    "error_lines_per_minute",
    "disk_used_percent",
    "sinks",
];
const SINK_KEYS: &[&str] = &[
    "webhook",
    "alertmanager",
    "command",
    "format",
    "severity",
    "timeout",
];
const SEVERITIES: &[(&str, AlertSeverity)] = &[
    ("info", AlertSeverity::Info),
    ("warning", AlertSeverity::Warning),
    ("critical", AlertSeverity::Critical),
];
const FORMATS: &[(&str, bool)] = &[("json", false), ("slack", true)];

pub(crate) fn read_alerts(r: &mut Reader, v: &Value<'_>, base: &std::path::Path) -> AlertsConfig {
    let mut alerts = AlertsConfig::default();
    let Some(table) = r.table(v, "`[alerts]`") else {
        return alerts;
    };
    r.unknown_keys(table, ALERTS_KEYS, "`[alerts]`");
    for (key, value) in table {
        match key.get_ref().as_ref() {
            "repeat" => {
                if let Some(d) = r.duration(value, "`alerts.repeat`") {
                    alerts.repeat = d;
                }
            }
            "restarts_per_hour" => {
                if let Some(n) = r.integer(value, "`alerts.restarts_per_hour`", 1..100_000) {
                    alerts.restarts_per_hour = n as u32;
                }
            }
            "error_lines_per_minute" => {
                if let Some(n) = r.integer(value, "`alerts.error_lines_per_minute`", 1..10_000_000)
                {
                    alerts.error_lines_per_minute = n as u32;
                }
            }
            "disk_used_percent" => {
                if let Some(n) = r.integer(value, "`alerts.disk_used_percent`", 1..101) {
                    alerts.disk_used_percent = n as u32;
                }
            }
            "sinks" => {
                if let Some(sinks) = r.table(value, "`[alerts.sinks]`") {
                    for (name, sink) in sinks {
                        if let Some(s) = read_sink(r, name.get_ref(), name.span(), sink, base) {
                            alerts.sinks.push(s);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    alerts
}

fn read_sink(
    r: &mut Reader,
    name: &str,
    name_span: std::ops::Range<usize>,
    v: &Value<'_>,
    base: &std::path::Path,
) -> Option<SinkConfig> {
    let what = format!("`[alerts.sinks.{name}]`");
    let table = r.table(v, &what)?;
    r.unknown_keys(table, SINK_KEYS, &what);
    let field = |k: &str| table.get_key_value(k).map(|(_, v)| v);
    let url = |r: &mut Reader, v: &Value<'_>, key: &str| {
        let text = r.non_empty_string(v, &format!("`{key}` in {what}"))?;
        if text.starts_with("http://") || text.starts_with("https://") {
            Some(text)
        } else {
            r.error(Diagnostic::error(
                format!("invalid `{key}` in {what}"),
                v.span(),
                "expected an http:// or https:// URL",
            ));
            None
        }
    };
    // Every field is checked, so that all of a sink's errors are reported at once.
    let slack = field("format").map_or(Some(false), |f| {
        r.choice(f, &format!("`format` in {what}"), FORMATS)
    });
    let min_severity = field("severity").map_or(Some(AlertSeverity::Info), |s| {
        r.choice(s, &format!("`severity` in {what}"), SEVERITIES)
    });
    let timeout = field("timeout").map_or(Some(crate::alerts::SINK_TIMEOUT), |t| {
        let d = r.duration(t, &format!("`timeout` in {what}"))?;
        if d.is_zero() {
            r.error(Diagnostic::error(
                format!("invalid `timeout` in {what}"),
                t.span(),
                "expected a duration above zero, such as \"30s\"",
            ));
            return None;
        }
        Some(d)
    });
    let destinations: Vec<&str> = ["webhook", "alertmanager", "command"]
        .into_iter()
        .filter(|k| table.contains_key(*k))
        .collect();
    if destinations.len() > 1
        && let Some(v) = field(destinations[1])
    {
        r.error(Diagnostic::error(
            format!(
                "{what} has both `{}` and `{}`",
                destinations[0], destinations[1]
            ),
            v.span(),
            "one destination per sink: make two sinks",
        ));
        return None;
    }
    if let Some(c) = field("command") {
        let command = crate::load::read_command(r, c, &format!("`command` in {what}"))?;
        return Some(SinkConfig {
            name: name.to_string(),
            kind: SinkKind::Command {
                command,
                dir: base.to_path_buf(),
            },
            min_severity: min_severity?,
            timeout: timeout?,
        });
    }
    let kind = match (field("webhook"), field("alertmanager")) {
        (Some(w), None) => SinkKind::Webhook {
            url: url(r, w, "webhook")?,
            slack: slack?,
        },
        (None, Some(a)) => SinkKind::Alertmanager {
            url: url(r, a, "alertmanager")?.trim_end_matches('/').to_string(),
        },
        (Some(_), Some(a)) => {
            r.error(Diagnostic::error(
                format!("{what} has both `webhook` and `alertmanager`"),
                a.span(),
                "one destination per sink: make two sinks",
            ));
            return None;
        }
        (None, None) => {
            r.error(
                Diagnostic::error(
                    format!("{what} has no destination"),
                    name_span,
                    "expected `webhook = \"http…\"`, `alertmanager = \"http…\"` or `command = \"…\"`",
                )
                .with_help("for example: webhook = \"https://hooks.slack.com/services/…\" with format = \"slack\""),
            );
            return None;
        }
    };
    Some(SinkConfig {
        name: name.to_string(),
        kind,
        min_severity: min_severity?,
        timeout: timeout?,
    })
}
