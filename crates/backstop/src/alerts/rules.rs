//! The built-in alert rules, as a pure function of the status report and
//! the restarts of the last hour.

use std::collections::HashMap;

use backstop_api::{Health, ServiceState, StatusReport};
use backstop_config::{AlertSeverity, AlertsConfig};

/// One condition that holds now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Alert {
    /// Identifies the incident: `rule:subject`.
    pub(crate) key: String,
    /// The rule's stable name: `service-down`, `service-unhealthy`, …
    pub(crate) rule: &'static str,
    /// How urgent.
    pub(crate) severity: AlertSeverity,
    /// The service concerned, if any.
    pub(crate) service: Option<String>,
    /// One line for a human, with the specifics.
    pub(crate) summary: String,
}

fn alert(
    rule: &'static str,
    severity: AlertSeverity,
    subject: &str,
    service: Option<&str>,
    summary: String,
) -> Alert {
    Alert {
        key: format!("{rule}:{subject}"),
        rule,
        severity,
        service: service.map(str::to_string),
        summary,
    }
}

/// What the events of the recent past say, besides the status.
#[derive(Debug, Default)]
pub(crate) struct Recent<'a> {
    /// Restarts of each service in the last hour.
    pub(crate) restarts: HashMap<&'a str, usize>,
    /// Services restarted for going over `memory_max` in the last 10 minutes.
    pub(crate) memory_max: Vec<&'a str>,
    /// Services whose automatic remediation gave up, with what it said.
    pub(crate) escalations: HashMap<&'a str, &'a str>,
    /// The state directory's filesystem is too full: what `df` would say.
    pub(crate) disk_full: Option<String>,
}

/// Every alert that holds for `report` and the `recent` events.
pub(crate) fn evaluate(
    config: &AlertsConfig,
    report: &StatusReport,
    recent: &Recent<'_>,
) -> Vec<Alert> {
    let restarts = &recent.restarts;
    let mut out = Vec::new();
    for s in &report.services {
        let name = s.name.as_str();
        let detail = s
            .detail
            .as_deref()
            .map_or(String::new(), |d| format!(": {d}"));
        match s.state {
            ServiceState::CrashLoop | ServiceState::Failed | ServiceState::StartupTimeout => {
                out.push(alert(
                    "service-down",
                    AlertSeverity::Critical,
                    name,
                    Some(name),
                    match &s.diagnosis {
                        Some(d) => {
                            format!("{name} is {}{detail}; diagnosis: {d}", s.state.as_str())
                        }
                        None => format!("{name} is {}{detail}", s.state.as_str()),
                    },
                ));
            }
            ServiceState::Running if s.health == Health::Unhealthy => out.push(alert(
                "service-unhealthy",
                AlertSeverity::Critical,
                name,
                Some(name),
                format!("{name} is unhealthy{detail}"),
            )),
            ServiceState::Running if s.health == Health::Degraded => out.push(alert(
                "service-degraded",
                AlertSeverity::Warning,
                name,
                Some(name),
                format!("{name} is degraded{detail}"),
            )),
            _ => {}
        }
        if recent.memory_max.contains(&name) {
            out.push(alert(
                "memory-max",
                AlertSeverity::Critical,
                name,
                Some(name),
                format!(
                    "{name} went over its memory_max and was restarted (or killed by the kernel)"
                ),
            ));
        }
        if let Some(said) = recent.escalations.get(name) {
            out.push(alert(
                "escalation",
                AlertSeverity::Critical,
                name,
                Some(name),
                (*said).to_string(),
            ));
        }
        let n = restarts.get(name).copied().unwrap_or(0);
        if n > config.restarts_per_hour as usize {
            out.push(alert(
                "restarts",
                AlertSeverity::Warning,
                name,
                Some(name),
                format!(
                    "{name} restarted {n} times in the last hour (more than {})",
                    config.restarts_per_hour
                ),
            ));
        }
        let errors = s.output.errors_last_minute;
        if errors > config.error_lines_per_minute {
            let last = s
                .output
                .last_error
                .as_ref()
                .map_or(String::new(), |e| format!("; last: {}", e.line));
            out.push(alert(
                "error-rate",
                AlertSeverity::Warning,
                name,
                Some(name),
                format!(
                    "{name} wrote {errors} error lines in the last minute (more than {}){last}",
                    config.error_lines_per_minute
                ),
            ));
        }
    }
    if let Some(detail) = &recent.disk_full {
        out.push(alert(
            "disk-space",
            AlertSeverity::Warning,
            "state-dir",
            None,
            format!("the disk holding backstop's logs and history is filling up: {detail}"),
        ));
    }
    for j in &report.jobs {
        if let Some(run) = j
            .last_run
            .as_ref()
            .filter(|r| r.result == backstop_api::JobResult::Failed)
        {
            let last = run
                .output
                .last()
                .map_or(String::new(), |l| format!("; last output: {l}"));
            out.push(alert(
                "job-failed",
                AlertSeverity::Critical,
                &j.runs_as,
                Some(&j.runs_as),
                format!(
                    "job {} failed: its run of {} ended with {}{last}",
                    j.name, run.started, run.ended
                ),
            ));
        }
        if j.missed {
            let last = j.last_success.as_deref().map_or_else(
                || "none since the daemon started".to_string(),
                str::to_string,
            );
            out.push(alert(
                "job-missed",
                AlertSeverity::Critical,
                &j.runs_as,
                Some(&j.runs_as),
                format!(
                    "job {} ({}) has not succeeded when it was due; last success: {last}",
                    j.name, j.schedule
                ),
            ));
        }
    }
    for c in report.checks.iter().filter(|c| c.state == "failing") {
        let severity = match c.severity.as_deref() {
            Some("critical") => AlertSeverity::Critical,
            Some("info") => AlertSeverity::Info,
            _ => AlertSeverity::Warning,
        };
        out.push(alert(
            "check-failing",
            severity,
            &c.name,
            None,
            format!(
                "check {} is failing: {}",
                c.name,
                c.detail.as_deref().unwrap_or("no detail")
            ),
        ));
    }
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use backstop_api::{OutputStats, ServiceStatus};

    pub(crate) fn service(
        name: &str,
        state: ServiceState,
        health: Health,
        errors: u32,
    ) -> ServiceStatus {
        ServiceStatus {
            name: name.into(),
            state,
            health,
            pid: None,
            uptime_s: None,
            restarts: 0,
            last_exit: None,
            rss_bytes: None,
            detail: None,
            restart_in_s: None,
            exits: vec![],
            checks: vec![],
            exit_counts: std::collections::BTreeMap::new(),
            cpu_seconds: None,
            cpu_percent: None,
            diagnosis: None,
            fixing: None,
            disabled: false,
            output: OutputStats {
                errors_last_minute: errors,
                ..OutputStats::default()
            },
        }
    }

    pub(crate) fn daemon() -> backstop_api::DaemonInfo {
        backstop_api::DaemonInfo {
            pid: 1,
            config: "/c".into(),
            version: "x".into(),
            uptime_s: 1,
            tracking: String::new(),
        }
    }

    #[test]
    fn each_rule_names_its_subject_and_severity() {
        let report = StatusReport {
            jobs: Vec::new(),
            daemon: daemon(),
            services: vec![
                service("api", ServiceState::CrashLoop, Health::Unhealthy, 0),
                service("web", ServiceState::Running, Health::Unhealthy, 0),
                service("worker", ServiceState::Running, Health::Degraded, 11),
                service("quiet", ServiceState::Running, Health::Healthy, 10),
            ],
            checks: vec![backstop_api::CheckResult {
                name: "freshness".into(),
                kind: "http".into(),
                state: "failing".into(),
                passed: Some(false),
                fails_in_a_row: 3,
                latency_ms: Some(3),
                detail: Some("data_freshness_minutes is 75, expected < 60".into()),
                at: None,
                severity: Some("critical".into()),
            }],
        };
        let recent = Recent {
            restarts: HashMap::from([("quiet", 6), ("worker", 5)]),
            memory_max: vec!["web"],
            escalations: HashMap::from([("api", "api: needs a person: …")]),
            disk_full: Some("/var: 95.0% of 100.0 GB used".into()),
        };
        let got: Vec<(String, AlertSeverity)> =
            evaluate(&AlertsConfig::default(), &report, &recent)
                .into_iter()
                .map(|a| (a.key, a.severity))
                .collect();
        assert_eq!(
            got,
            [
                ("service-down:api".to_string(), AlertSeverity::Critical),
                ("escalation:api".to_string(), AlertSeverity::Critical),
                ("service-unhealthy:web".to_string(), AlertSeverity::Critical),
                ("memory-max:web".to_string(), AlertSeverity::Critical),
                (
                    "service-degraded:worker".to_string(),
                    AlertSeverity::Warning
                ),
                ("error-rate:worker".to_string(), AlertSeverity::Warning),
                ("restarts:quiet".to_string(), AlertSeverity::Warning),
                ("disk-space:state-dir".to_string(), AlertSeverity::Warning),
                (
                    "check-failing:freshness".to_string(),
                    AlertSeverity::Critical
                ),
            ]
        );
    }

    /// While a dependency is down, its dependents wait in `pending`: the
    /// one alert names the dependency, never the services waiting for it.
    #[test]
    fn a_dependency_outage_alerts_on_the_dependency_not_its_dependents() {
        let mut waiting = service("api", ServiceState::Pending, Health::Unknown, 0);
        waiting.detail =
            Some("waiting for postgres to be healthy: postgres is in a crash loop".into());
        let report = StatusReport {
            jobs: Vec::new(),
            daemon: daemon(),
            services: vec![
                service("postgres", ServiceState::CrashLoop, Health::Unhealthy, 0),
                waiting,
                service("worker", ServiceState::Pending, Health::Unknown, 0),
            ],
            checks: vec![],
        };
        let keys: Vec<String> = evaluate(&AlertsConfig::default(), &report, &Recent::default())
            .into_iter()
            .map(|a| a.key)
            .collect();
        assert_eq!(keys, ["service-down:postgres"]);
    }
}
