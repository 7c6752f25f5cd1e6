//! Reads `[jobs.NAME]` tables into services marked as jobs ([`JobSpec`]).
//!
//! The keys a job shares with a service (`command`, `dir`, `env`,
//! `env_file`, `user`, `group`, `depends_on`, `logs`, `stop`) are read by
//! the service reader; the schedule and the run's bounds here.

use std::collections::BTreeMap;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::Diagnostic;
use crate::jobs::{Concurrency, JobSpec, Schedule, default_missed_after, job_service_name};
use crate::load::DependencySpans;
use crate::model::{RestartConfig, RestartPolicy, ServiceConfig};
use crate::reader::{Reader, Value};

/// The keys of a job read like a service's.
const SHARED_KEYS: &[&str] = &[
    "command",
    "dir",
    "env",
    "env_file",
    "user",
    "group",
    "depends_on",
    "logs",
    "stop",
];
/// The keys only a job has.
const JOB_ONLY_KEYS: &[&str] = &[
    "schedule",
    "every",
    "timezone",
    "timeout",
    "concurrency",
    "missed_after",
];
const CONCURRENCY: &[(&str, Concurrency)] =
    &[("skip", Concurrency::Skip), ("queue", Concurrency::Queue)];

/// Every job of the `[jobs]` table, with where each dependency is written.
pub(crate) fn read_jobs(
    r: &mut Reader,
    value: &Value<'_>,
    base: &Path,
    log_defaults: &crate::logs::LogSettings,
) -> (Vec<ServiceConfig>, BTreeMap<String, DependencySpans>) {
    let mut jobs = Vec::new();
    let mut spans = BTreeMap::new();
    let Some(table) = r.table(value, "`[jobs]`") else {
        return (jobs, spans);
    };
    for (key, value) in table {
        let name: &str = key.get_ref();
        if !crate::load::valid_name(name) {
            r.error(Diagnostic::error(
                format!("invalid job name `{name}`"),
                key.span(),
                "use letters, digits, `-`, `_` and `.` only",
            ));
            continue;
        }
        if let Some((job, deps)) = read_job(r, name, key.span(), value, base, log_defaults) {
            spans.insert(job.name.clone(), deps);
            jobs.push(job);
        }
    }
    (jobs, spans)
}

fn read_job(
    r: &mut Reader,
    name: &str,
    name_span: std::ops::Range<usize>,
    value: &Value<'_>,
    base: &Path,
    log_defaults: &crate::logs::LogSettings,
) -> Option<(ServiceConfig, DependencySpans)> {
    let table = r.table(value, &format!("`[jobs.{name}]`"))?;
    let known: Vec<&str> = SHARED_KEYS.iter().chain(JOB_ONLY_KEYS).copied().collect();
    r.unknown_keys(table, &known, &format!("job `{name}`"));
    let field = |key: &str| table.get_key_value(key).map(|(_, v)| v);
    let what = |key: &str| format!("`{key}` in job `{name}`");

    let timezone = field("timezone").and_then(|v| r.non_empty_string(v, &what("timezone")));
    let schedule = match (field("schedule"), field("every")) {
        (Some(_), Some(every)) => {
            r.error(Diagnostic::error(
                format!("job `{name}` has both `schedule` and `every`"),
                every.span(),
                "keep one of the two",
            ));
            None
        }
        (None, None) => {
            r.error(
                Diagnostic::error(
                    format!("job `{name}` has no `schedule`"),
                    name_span.clone(),
                    "a job needs `schedule = \"0 2 * * *\"` (cron) or `every = \"6h\"`",
                )
                .with_help("cron fields: [second] minute hour day-of-month month day-of-week"),
            );
            None
        }
        (Some(v), None) => {
            let expression = r.non_empty_string(v, &what("schedule"))?;
            // `CRON_TZ=Europe/Berlin 0 2 * * *`, as cronie writes it.
            let (zone, expression) = match expression
                .strip_prefix("CRON_TZ=")
                .or_else(|| expression.strip_prefix("TZ="))
                .and_then(|rest| rest.split_once(char::is_whitespace))
            {
                Some((zone, rest)) => (Some(zone.to_string()), rest.trim().to_string()),
                None => (timezone.clone(), expression.clone()),
            };
            match Schedule::cron(&expression, zone.as_deref()) {
                Ok(s) => Some(s),
                Err(e) => {
                    let span = field("timezone")
                        .filter(|_| e.contains("time zone") && timezone.is_some())
                        .map_or_else(|| v.span(), Spanned::span);
                    let help = if e.contains("time zone") {
                        "time zones are read from the system's database (/usr/share/zoneinfo)"
                    } else {
                        "for example \"0 2 * * *\" is 02:00 daily, \"*/15 * * * *\" every 15 minutes, \"0 3 * * SUN\" Sundays at 03:00"
                    };
                    r.error(
                        Diagnostic::error(format!("invalid {}", what("schedule")), span, e)
                            .with_help(help),
                    );
                    None
                }
            }
        }
        (None, Some(v)) => {
            if let Some(t) = field("timezone") {
                r.error(Diagnostic::error(
                    format!("`timezone` in job `{name}` applies to `schedule` only"),
                    t.span(),
                    "`every` counts from the daemon's start, in no time zone",
                ));
            }
            r.duration(v, &what("every")).and_then(|d| {
                // A job is a process per run: more often than each second
                // is a service's work, not a schedule's.
                if d < std::time::Duration::from_secs(1) {
                    r.error(Diagnostic::error(
                        format!("invalid {}", what("every")),
                        v.span(),
                        "expected an interval of at least 1s",
                    ));
                    None
                } else {
                    Some(Schedule::Every(d))
                }
            })
        }
    };
    let timeout = field("timeout").and_then(|v| r.duration(v, &what("timeout")));
    let concurrency = field("concurrency")
        .and_then(|v| r.choice(v, &what("concurrency"), CONCURRENCY))
        .unwrap_or(Concurrency::Skip);
    let missed_after = field("missed_after").and_then(|v| {
        let d = r.duration(v, &what("missed_after"))?;
        // Zero would call every job missed the moment it is due.
        if d.is_zero() {
            r.error(Diagnostic::error(
                format!("invalid {}", what("missed_after")),
                v.span(),
                "expected a duration of at least 1s (how long the job may stay silent before an alert)",
            ));
            return None;
        }
        Some(d)
    });

    // The shared keys, read by the service reader under the job's name.
    let mut shared = DeTable::default();
    for (k, v) in table {
        if SHARED_KEYS.contains(&k.get_ref().as_ref()) {
            shared.insert(k.clone(), v.clone());
        }
    }
    let shared = Spanned::new(value.span(), DeValue::Table(shared));
    let full_name = job_service_name(name);
    let (mut service, deps) =
        crate::load::read_service(r, &full_name, name_span, &shared, base, log_defaults)?;
    let schedule = schedule?;
    service.restart = RestartConfig {
        policy: RestartPolicy::Never,
        ..RestartConfig::default()
    };
    // Started by its schedule or `backstop run-job`, never by `up`.
    service.disabled = true;
    service.job = Some(JobSpec {
        missed_after: missed_after.unwrap_or_else(|| default_missed_after(&schedule, timeout)),
        schedule,
        timeout,
        concurrency,
    });
    Some((service, deps))
}
