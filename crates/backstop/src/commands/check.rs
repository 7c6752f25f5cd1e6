//! `backstop check`: run every health check once, now, with or without a
//! daemon; exit 0 healthy, 1 degraded, 2 unhealthy (usable from cron and CI).
//!
//! A failing check of a supervised service makes the result unhealthy; a
//! failing `[checks]` entry (something backstop does not run, such as a
//! managed database) makes it degraded, or unhealthy when its `severity`
//! is `critical` (as monitoring plugins use exit 2).

use std::path::Path;
use std::time::Duration;

use backstop_config::{Config, HealthCheck, ServiceConfig};
use backstop_probe::{ExecContext, Outcome};
use serde::Serialize;

use crate::context::{color_stdout, load_config};
use crate::exit::{CmdResult, Code, Exit};

/// One check to run, with where it runs.
pub(crate) struct Planned {
    /// `service/check` or the `[checks]` name.
    pub(crate) label: String,
    /// The service it belongs to; `None` for a `[checks]` entry.
    pub(crate) service: Option<String>,
    /// The check.
    pub(crate) check: HealthCheck,
    /// A `[checks]` entry's severity.
    severity: Option<backstop_config::AlertSeverity>,
    exec: Result<ExecContext, String>,
}

#[derive(Serialize)]
struct Row {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<String>,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<&'static str>,
    target: String,
    passed: bool,
    warning: bool,
    latency_ms: u64,
    detail: String,
}

fn inherited() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
}

fn service_exec(service: &ServiceConfig) -> Result<ExecContext, String> {
    let env =
        backstop_config::service_environment(service, inherited()).map_err(|e| e.to_string())?;
    let ids = match &service.user {
        Some(user) if nix::unistd::Uid::effective().is_root() => {
            let u = nix::unistd::User::from_name(user)
                .ok()
                .flatten()
                .ok_or_else(|| format!("unknown user `{user}`"))?;
            Some((u.uid.as_raw(), u.gid.as_raw()))
        }
        _ => None,
    };
    Ok(ExecContext {
        dir: service.dir.clone(),
        env,
        ids,
        reaper: None,
    })
}

/// The checks of `names` (services or `[checks]` entries; all when empty).
pub(crate) fn plan(config: &Config, names: &[String]) -> Result<Vec<Planned>, Exit> {
    let known: Vec<&str> = config
        .services
        .iter()
        .map(|s| s.name.as_str())
        .chain(config.checks.iter().map(|c| c.name.as_str()))
        .collect();
    if let Some(unknown) = names.iter().find(|n| !known.contains(&n.as_str())) {
        return Err(Exit::new(
            Code::Usage,
            format!(
                "no service or check named `{unknown}`; there are: {}",
                known.join(", ")
            ),
        ));
    }
    let wanted = |name: &str| names.is_empty() || names.iter().any(|n| n == name);
    let mut planned = Vec::new();
    for service in config.services.iter().filter(|s| wanted(&s.name)) {
        for check in &service.health {
            planned.push(Planned {
                label: format!("{}/{}", service.name, check.name),
                service: Some(service.name.clone()),
                check: check.clone(),
                severity: None,
                exec: service_exec(service),
            });
        }
    }
    for c in config.checks.iter().filter(|c| wanted(&c.name)) {
        let mut env: std::collections::BTreeMap<String, String> = inherited().collect();
        env.extend(c.env.0.clone());
        planned.push(Planned {
            label: c.name.clone(),
            service: None,
            check: c.check.clone(),
            severity: Some(c.severity),
            exec: Ok(ExecContext {
                dir: c.dir.clone(),
                env,
                ids: None,
                reaper: None,
            }),
        });
    }
    Ok(planned)
}

pub(crate) fn run(config_path: &Path, names: &[String], json: bool) -> CmdResult {
    let loaded = load_config(config_path)?;
    let planned = plan(&loaded.config, names)?;
    if planned.is_empty() {
        // No checks: nothing can fail (a cron job of `backstop check` must
        // not page anyone for it), but say how to add some.
        let note = "no checks configured, so nothing fails: add [[services.NAME.health]] or [checks.NAME] (docs/configuration.md#health-checks)";
        if json {
            let out = serde_json::json!({ "status": "healthy", "checks": [], "note": note });
            println!("{out:#}");
        } else {
            println!("{note}\noverall: healthy");
        }
        return Ok(());
    }
    let outcomes =
        super::runtime().block_on(run_planned(&planned, &loaded.config.daemon.state_dir));
    let rows: Vec<Row> = planned
        .iter()
        .zip(outcomes)
        .map(|(p, o)| Row {
            name: p.label.clone(),
            service: p.service.clone(),
            kind: p.check.probe.kind(),
            severity: p.severity.map(backstop_config::AlertSeverity::as_str),
            target: p.check.probe.target(),
            passed: o.passed,
            warning: o.warning,
            latency_ms: o.latency.as_millis() as u64,
            detail: o.detail,
        })
        .collect();
    let unhealthy = rows
        .iter()
        .any(|r| !r.passed && (r.service.is_some() || r.severity == Some("critical")));
    let degraded = rows.iter().any(|r| !r.passed || r.warning);
    let overall = if unhealthy {
        "unhealthy"
    } else if degraded {
        "degraded"
    } else {
        "healthy"
    };
    if json {
        let out = serde_json::json!({ "status": overall, "checks": rows });
        println!("{out:#}");
    } else {
        print!("{}", table(&rows, color_stdout()));
        println!("overall: {overall}");
    }
    match overall {
        "healthy" => Ok(()),
        "degraded" => Err(Exit::new(Code::Failed, String::new())),
        _ => Err(Exit::new(Code::Usage, String::new())),
    }
}

/// Runs every planned check once, all at once: the slowest check bounds
/// the run, not their sum. Outcomes are in the order of `planned`.
pub(crate) async fn run_planned(planned: &[Planned], state_dir: &Path) -> Vec<Outcome> {
    let mut tasks = Vec::new();
    for p in planned {
        let check = p.check.clone();
        let exec = p.exec.clone();
        let state_dir = state_dir.to_path_buf();
        let service = p.service.clone();
        tasks.push(tokio::spawn(async move {
            if let backstop_config::Probe::Process(limits) = &check.probe {
                return measure_process(&state_dir, service.as_deref().unwrap_or(""), limits).await;
            }
            match exec {
                Ok(exec) => backstop_probe::run(&check, &exec).await,
                Err(reason) => Outcome {
                    passed: false,
                    warning: false,
                    latency: Duration::ZERO,
                    detail: reason,
                },
            }
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap_or_else(|e| Outcome {
            passed: false,
            warning: false,
            latency: Duration::ZERO,
            detail: format!("the probe crashed (a bug in backstop, please report it): {e}"),
        }));
    }
    outcomes
}

/// A `process` check without the daemon: the recorded main process of the
/// service and its tree, sampled twice so that CPU has a value.
async fn measure_process(
    state_dir: &Path,
    service: &str,
    limits: &backstop_config::ProcessLimits,
) -> Outcome {
    use backstop_supervisor::{process_check::ProcessSampler, procs, state_file::StateFile};
    let started = tokio::time::Instant::now();
    let state = StateFile::load(&state_dir.join("state.json"));
    let alive = state.services.get(service).filter(|r| {
        procs::lookup(r.pid).is_some_and(|p| p.start_time == r.start_time && !p.zombie)
    });
    let Some(record) = alive else {
        return Outcome {
            passed: false,
            warning: false,
            latency: Duration::ZERO,
            detail: format!(
                "service {service} is not running (no live process recorded by backstop)"
            ),
        };
    };
    let mut limits = limits.clone();
    limits.leak_window = Duration::ZERO; // one-shot: no history to judge a leak by
    let mut sampler = ProcessSampler::new(limits, procs::ticks_per_second());
    // Without the daemon, its orphans are unknown: the process group finds
    // those that stayed in it (a one-off scan; this is not the daemon).
    let sample = |sampler: &mut ProcessSampler| {
        let members = procs::members(&procs::snapshot(), &[record.pid], Some(record.pgid));
        sampler.sample(&members, procs::page_size(), tokio::time::Instant::now())
    };
    sample(&mut sampler);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let verdict = sample(&mut sampler);
    Outcome {
        passed: verdict.passed,
        warning: verdict.warning,
        latency: started.elapsed(),
        detail: verdict.detail,
    }
}

fn table(rows: &[Row], color: bool) -> String {
    use std::fmt::Write;
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.kind.to_string(),
                match (r.passed, r.warning) {
                    (true, false) => "pass",
                    (true, true) => "warn",
                    (false, _) => "FAIL",
                }
                .to_string(),
                format!("{} ms", r.latency_ms),
            ]
        })
        .collect();
    let headers = ["CHECK", "KIND", "STATUS", "LATENCY"];
    let mut widths = headers.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let mut out = String::new();
    let line = |cols: [&str; 4], detail: &str| {
        let mut s = String::new();
        for (c, w) in cols.iter().zip(widths) {
            let _ = write!(s, "{c:<w$}  ");
        }
        s.push_str(detail);
        s.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(headers, "DETAIL"));
    for (row, r) in cells.iter().zip(rows) {
        let mut text = line([&row[0], &row[1], &row[2], &row[3]], &r.detail);
        if color && !r.passed {
            text = text.replacen("FAIL", "\x1b[31mFAIL\x1b[0m", 1);
        }
        let _ = writeln!(out, "{text}");
    }
    out
}
