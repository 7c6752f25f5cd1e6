//! `backstop export prometheus`: watch a fleet of hosts, each running
//! backstop, with the engines people already run. A scrape config for the
//! hosts' `/metrics` (open over TCP), and alerting rules that say what
//! backstop's own alerts say, with this config's thresholds; Alertmanager
//! is the shared sink.
//!
//! | backstop alert | rule | expression |
//! |---|---|---|
//! | (a host stops answering) | `BackstopDown` | `up{job="backstop"} == 0` for 1 m |
//! | `service-down` | `BackstopServiceDown` | state crash-loop, failed or startup-timeout |
//! | `service-unhealthy` | `BackstopServiceUnhealthy` | running and `unhealthy` for 1 m |
//! | `service-degraded` | `BackstopServiceDegraded` | running and `degraded` for 5 m |
//! | `restarts` | `BackstopRestarts` | `increase(backstop_service_restarts_total[1h]) > restarts_per_hour` |
//! | `error-rate` | `BackstopErrorRate` | `backstop_service_error_lines_last_minute > error_lines_per_minute` |
//! | `memory-max` | `BackstopMemoryHigh` / `BackstopMemoryNearMax` | above `memory_warn` for 5 m / above 90 % of `memory_max` for 2 m, per service |
//! | `escalation` | `BackstopRemediationFailed` | a playbook run failed in the last 15 m |
//! | `check-failing` | `BackstopCheckFailing` | a `[checks]` entry failing for 1 m, with its severity |
//! | `disk-space` | `BackstopDiskSpace` | node_exporter's figures for the state directory's filesystem above `disk_used_percent` |
//! | (output lost) | `BackstopLogLosses` | `increase(backstop_log_losses_total[15m]) > 0` |

use backstop_config::{AlertSeverity, Config};
use serde_json::{Value, json};

use super::Export;
use super::yaml::to_yaml;

/// How to write the files.
pub(crate) struct Options {
    /// `host:port` of every backstop to scrape.
    pub(crate) hosts: Vec<String>,
    /// Alertmanager's `host:port`.
    pub(crate) alertmanager: String,
    /// The mount point holding the state directory, for the disk rule.
    pub(crate) mountpoint: String,
}

/// The rule file's name; the scrape config refers to it.
pub(crate) const RULES: &str = "backstop-rules.yml";

fn rule(name: &str, expr: &str, for_: &str, severity: &str, summary: &str) -> Value {
    let mut r = json!({
        "alert": name,
        "expr": expr,
        "labels": {"severity": severity},
        "annotations": {"summary": summary},
    });
    if for_ != "0s" {
        r["for"] = json!(for_);
    }
    r
}

fn severity(s: AlertSeverity) -> &'static str {
    match s {
        AlertSeverity::Critical => "critical",
        AlertSeverity::Warning => "warning",
        AlertSeverity::Info => "info",
    }
}

/// Escapes a label value for a PromQL string.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The scrape config and the rules.
pub(crate) fn export(config: &Config, options: &Options) -> Export {
    let a = &config.alerts;
    let mut rules = vec![
        rule(
            "BackstopDown",
            "up{job=\"backstop\"} == 0",
            "1m",
            "critical",
            "backstop on {{ $labels.instance }} does not answer: its services are not watched",
        ),
        rule(
            "BackstopServiceDown",
            "backstop_service_state{state=~\"crash-loop|failed|startup-timeout\"} == 1",
            "0s",
            "critical",
            "{{ $labels.service }} on {{ $labels.instance }} is {{ $labels.state }}: `backstop diagnose {{ $labels.service }}` says why",
        ),
        rule(
            "BackstopServiceUnhealthy",
            "backstop_service_health{health=\"unhealthy\"} == 1 and on(instance, job, service) backstop_service_state{state=\"running\"} == 1",
            "1m",
            "critical",
            "{{ $labels.service }} on {{ $labels.instance }} runs but is unhealthy",
        ),
        rule(
            "BackstopServiceDegraded",
            "backstop_service_health{health=\"degraded\"} == 1 and on(instance, job, service) backstop_service_state{state=\"running\"} == 1",
            "5m",
            "warning",
            "{{ $labels.service }} on {{ $labels.instance }} is degraded",
        ),
        rule(
            "BackstopRestarts",
            &format!(
                "increase(backstop_service_restarts_total[1h]) > {}",
                a.restarts_per_hour
            ),
            "0s",
            "warning",
            &format!(
                "{{{{ $labels.service }}}} on {{{{ $labels.instance }}}} restarted more than {} times in the last hour",
                a.restarts_per_hour
            ),
        ),
        rule(
            "BackstopErrorRate",
            &format!(
                "backstop_service_error_lines_last_minute > {}",
                a.error_lines_per_minute
            ),
            "0s",
            "warning",
            &format!(
                "{{{{ $labels.service }}}} on {{{{ $labels.instance }}}} wrote more than {} error lines in a minute: `backstop logs {{{{ $labels.service }}}} --grep …`",
                a.error_lines_per_minute
            ),
        ),
        rule(
            "BackstopRemediationFailed",
            "increase(backstop_remediations_total{result=\"failed\"}[15m]) > 0",
            "0s",
            "critical",
            "playbook {{ $labels.playbook }} did not fix {{ $labels.service }} on {{ $labels.instance }}: a person is needed",
        ),
        rule(
            "BackstopLogLosses",
            "increase(backstop_log_losses_total[15m]) > 0",
            "0s",
            "warning",
            "backstop on {{ $labels.instance }} lost service output (a full disk?)",
        ),
        rule(
            "BackstopDiskSpace",
            &format!(
                "(1 - node_filesystem_avail_bytes{{mountpoint={m}}} / node_filesystem_size_bytes{{mountpoint={m}}}) * 100 > {}",
                a.disk_used_percent,
                m = quoted(&options.mountpoint)
            ),
            "5m",
            "warning",
            &format!(
                "the disk holding backstop's logs and history on {{{{ $labels.instance }}}} is more than {}% full (needs node_exporter)",
                a.disk_used_percent
            ),
        ),
    ];
    for s in &config.declared {
        let service = quoted(&s.name);
        if let Some(warn) = s.limits.memory_warn {
            rules.push(rule(
                "BackstopMemoryHigh",
                &format!("backstop_service_memory_bytes{{service={service}}} > {warn}"),
                "5m",
                "warning",
                &format!("{} on {{{{ $labels.instance }}}} uses more than its memory_warn ({warn} bytes)", s.name),
            ));
        }
        if let Some(max) = s.limits.memory_max {
            let near = max / 10 * 9;
            rules.push(rule(
                "BackstopMemoryNearMax",
                &format!("backstop_service_memory_bytes{{service={service}}} > {near}"),
                "2m",
                "critical",
                &format!(
                    "{} on {{{{ $labels.instance }}}} is at 90% of its memory_max ({max} bytes): backstop restarts it there",
                    s.name
                ),
            ));
        }
    }
    for c in &config.checks {
        rules.push(rule(
            "BackstopCheckFailing",
            &format!(
                "backstop_check_passing{{check={}, service=\"\"}} == 0",
                quoted(&c.name)
            ),
            "1m",
            severity(c.severity),
            &format!(
                "check {} on {{{{ $labels.instance }}}} is failing: `backstop check {}`",
                c.name, c.name
            ),
        ));
    }
    let rules_doc = json!({"groups": [{"name": "backstop", "rules": rules}]});
    let scrape = json!({
        "global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
        "rule_files": [RULES],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [options.alertmanager]}]}]},
        "scrape_configs": [{
            "job_name": "backstop",
            "metrics_path": "/metrics",
            "static_configs": [{"targets": options.hosts}],
        }],
    });
    let mut out = Export::default();
    if config.daemon.listen.is_none() {
        out.warnings.push(format!(
            "{} has no `[daemon] listen`: Prometheus reaches backstop's /metrics only on a TCP address",
            config.path.display()
        ));
    }
    out.files.push((
        "prometheus.yml".to_string(),
        format!(
            "# Written by `backstop export prometheus` from {}: scrapes every backstop\n# (their /metrics is open over TCP) and loads {RULES}.\n{}",
            config.path.display(),
            to_yaml(&scrape)
        ),
    ));
    out.files.push((
        RULES.to_string(),
        format!(
            "# Written by `backstop export prometheus` from {}: the alerts backstop\n# itself raises, with its thresholds, for Prometheus and Alertmanager.\n{}",
            config.path.display(),
            to_yaml(&rules_doc)
        ),
    ));
    out
}

/// The mount point holding `path` (the longest prefix in /proc/mounts).
pub(crate) fn mountpoint_of(path: &std::path::Path) -> String {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|m| path.starts_with(m))
        .max_by_key(|m| m.len())
        .unwrap_or("/")
        .to_string()
}
