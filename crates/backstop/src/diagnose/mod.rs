//! `backstop diagnose`: collect a numbered, redacted bundle about one
//! service and name its root cause with the evidence lines.
//!
//! # Theory of operation
//! Collection reads what backstop already keeps (the daemon's status when
//! one runs, else `events.db`; the log files from their end; `state.json`
//! and /proc for the process tree) and measures a few things now (who
//! holds the port, every check, the preflight commands, disk and memory).
//! Every line goes through one [`Redactor`] on its way into the bundle, so
//! no file and no evidence line can hold a secret it knows of.
//!
//! Lines that can explain a failure are also *evidence*: each points at its
//! bundle file and line. The rules of `backstop-diagnose` rank the causes;
//! the few facts a rule cannot know (which config entry a refused address
//! is, who holds a port now) are filled in here. Nothing is changed: no
//! signal is sent, no file outside the bundle is written.

mod bundle;
mod errors;
mod history;
mod preflight;
mod render;
mod system;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use backstop_api::{Event, ServiceStatus, StatusReport};
use backstop_config::{Config, ServiceConfig, StderrFile};
use backstop_diagnose::redact::Redactor;
use backstop_diagnose::{Cause, Diagnoser, Evidence, Remedy, Report};
use backstop_logs::{Entry, ErrorPatterns, Family, Query, Source};
use backstop_supervisor::{ports, procs, spawn, state_file::StateFile};

pub(crate) use bundle::FILES;
use bundle::{Bundle, Part};
pub(crate) use history::unhealthy;

/// Log lines per stream in `05-logs.txt` (and searched for causes).
const LOG_LINES: usize = 200;
/// Log lines per stream searched for error signatures (`06-errors.txt`).
const ERROR_SCAN_LINES: usize = 2000;

/// What every diagnosis of one run shares.
pub(crate) struct Run<'a> {
    pub(crate) config: &'a Config,
    /// The daemon's status, when one runs.
    pub(crate) report: Option<StatusReport>,
    /// Where bundles go (`<state_dir>/diagnostics` unless `--out`).
    pub(crate) out_dir: PathBuf,
    /// Also write a `.tar.gz`.
    pub(crate) archive: bool,
    /// Told each step, for a progress display.
    pub(crate) progress: &'a dyn Fn(&str, &str),
}

/// Diagnoses `service`, with `live` its detailed status from the daemon.
pub(crate) async fn diagnose(
    run: &Run<'_>,
    service: &ServiceConfig,
    live: Option<ServiceStatus>,
) -> Result<Report, String> {
    let config = run.config;
    let state_dir = &config.daemon.state_dir;
    let step = |what: &str| (run.progress)(&service.name, what);
    step("history");
    let view = history::view(live, history::events(state_dir, &service.name));
    let episode = episode_start(&view.events);
    let plan = spawn::prepare(service, state_dir);
    let mut b = Bundle::new(redactor(config, service, plan.as_ref().ok()));

    status(&mut b, service, &view);
    step("processes");
    let members = processes(&mut b, config, service, &view);
    ports_part(&mut b, config, service, &view, &members);
    step("logs");
    let entries = logs(&mut b, config, service, episode);
    error_signatures(&mut b, service, &entries);
    let failing_check_events = exits(&mut b, service, &view, episode);
    environment(&mut b, config, service, plan.as_ref());
    step("preflight");
    let exec = plan.as_ref().ok().map(|p| p.probe_context(None));
    let preflight_failed = preflight_part(&mut b, service, exec.as_ref()).await;
    step("checks");
    let mut own_checks = dependencies(&mut b, config, service, &view).await;
    own_checks.own_lines.extend(failing_check_events);
    step("system");
    system_part(&mut b, config, service, &view);
    render::config(&mut b, service);

    let mut found = std::mem::take(&mut b.found);
    found.sort_by_key(|f| {
        f.at.unwrap_or(SystemTime::UNIX_EPOCH + std::time::Duration::MAX / 2)
    });
    let evidence: Vec<Evidence> = found.into_iter().map(|f| f.evidence).collect();
    let mut causes = Diagnoser::new().diagnose(&evidence);
    refine(&mut causes, config, service, &own_checks, &evidence, &view);
    // Running, its checks pass and a start would work: earlier errors in
    // its logs are history, shown in the summary but not a verdict.
    let healthy = view.is_healthy() && own_checks.failing == 0 && !preflight_failed;
    let earlier = if healthy {
        std::mem::take(&mut causes)
    } else {
        Vec::new()
    };

    let now = SystemTime::now();
    let dir = bundle::bundle_dir(&run.out_dir, &service.name, now);
    let mut report = Report {
        service: service.name.clone(),
        state: view.state.clone(),
        health: view.health.clone(),
        healthy,
        bundle: Some(dir.display().to_string()),
        archive: None,
        causes,
    };
    render::summary(&mut b, &report, &view, &earlier, now);
    step("writing");
    b.write(&dir)
        .map_err(|e| format!("cannot write the bundle {}: {e}", dir.display()))?;
    if run.archive {
        let path = bundle::archive(&dir)
            .map_err(|e| format!("cannot write the archive of {}: {e}", dir.display()))?;
        report.archive = Some(path.display().to_string());
    }
    Ok(report)
}

/// Every value the bundle must not show: the service's secret-named and
/// env-file variables, every secret-named `env` entry of the config, the
/// API token.
fn redactor(config: &Config, service: &ServiceConfig, plan: Option<&spawn::SpawnPlan>) -> Redactor {
    let mut r = Redactor::new();
    if let Some(file) = &service.env_file
        && let Ok(pairs) = backstop_config::read_env_file(file)
    {
        for (k, v) in pairs {
            r.learn(&k, &v, true);
        }
    }
    if let Some(plan) = plan {
        for (k, v) in plan.env() {
            r.learn(k, v, false);
        }
    }
    for s in &config.services {
        for (k, v) in &s.env.0 {
            r.learn(k, v, false);
        }
    }
    for c in &config.checks {
        for (k, v) in &c.env.0 {
            r.learn(k, v, false);
        }
    }
    if let Some(backstop_config::TokenSource::File(path)) = &config.daemon.token
        && let Ok(token) = std::fs::read_to_string(path)
    {
        r.learn_value(&token);
    }
    if let Some(backstop_config::TokenSource::Env(name)) = &config.daemon.token
        && let Ok(token) = std::env::var(name)
    {
        r.learn_value(&token);
    }
    r
}

/// When the current attempt began: the last start from a resting state
/// (by hand, or by a new daemon). Evidence older than this is history.
fn episode_start(events: &[Event]) -> Option<SystemTime> {
    events
        .iter()
        .rev()
        .find(|e| {
            e.kind == "state"
                && ["stopped → ", "failed → ", "crash-loop → ", "exited → "]
                    .iter()
                    .any(|p| e.message.contains(p))
        })
        .and_then(|e| humantime::parse_rfc3339_weak(&e.at).ok())
}

fn at(event: &Event) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(&event.at).ok()
}

fn status(b: &mut Bundle, service: &ServiceConfig, view: &history::View) {
    let p = Part::Status;
    b.line(p, format!("service: {}", service.name));
    if let Some(s) = &view.live {
        b.line(p, format!("state: {} (from the running daemon)", s.state));
        b.line(p, format!("health: {}", s.health.as_str()));
        if let Some(pid) = s.pid {
            b.line(p, format!("pid: {pid}"));
        }
        if let Some(up) = s.uptime_s {
            b.line(p, format!("uptime: {}", crate::render::duration(up)));
        }
        b.line(p, format!("restarts: {}", s.restarts));
        if let Some(e) = &s.last_exit {
            b.line(
                p,
                format!(
                    "last exit: {} at {} after {:.1}s",
                    e.describe(),
                    e.at,
                    e.uptime_s
                ),
            );
        }
        if let Some(rss) = s.rss_bytes {
            b.line(p, format!("memory (tree): {}", system::bytes(rss)));
        }
        let o = &s.output;
        b.line(
            p,
            format!(
                "output: {} lines, {} errors ({} in the last minute)",
                o.lines, o.errors, o.errors_last_minute
            ),
        );
        if let Some(e) = &o.last_error {
            b.line(p, format!("last error at {}: {}", e.at, e.line));
        }
    } else {
        b.line(
            p,
            "daemon: not running (this is what events.db last recorded)",
        );
        b.line(
            p,
            format!(
                "state: {}{}",
                view.state,
                view.recorded_at
                    .as_ref()
                    .map_or(String::new(), |a| format!(" (recorded {a})"))
            ),
        );
    }
    if let Some(d) = &view.detail {
        let shown = format!("detail: {d}");
        if history::is_fault(&view.state) {
            b.evidence(p, None, &shown, d);
        } else {
            b.line(p, shown);
        }
    }
}

/// The main process and its tree; returns the pids of the tree.
fn processes(
    b: &mut Bundle,
    config: &Config,
    service: &ServiceConfig,
    view: &history::View,
) -> BTreeSet<i32> {
    let p = Part::Processes;
    let recorded = StateFile::load(&config.daemon.state_dir.join("state.json"));
    let main = view
        .live
        .as_ref()
        .and_then(|s| s.pid.map(|pid| (pid as i32, pid as i32)))
        .or_else(|| {
            recorded
                .services
                .get(&service.name)
                .filter(|r| {
                    procs::lookup(r.pid).is_some_and(|i| i.start_time == r.start_time && !i.zombie)
                })
                .map(|r| (r.pid, r.pgid))
        });
    let Some((pid, pgid)) = main else {
        b.line(p, "no process of this service is running");
        return BTreeSet::new();
    };
    let table = procs::snapshot();
    let members = procs::members(&table, &[pid], Some(pgid));
    let ticks = procs::ticks_per_second().max(1) as f64;
    let page = procs::page_size();
    b.line(
        p,
        format!(
            "{:>8} {:>8} {:>10} {:>9}  COMMAND",
            "PID", "PPID", "RSS", "CPU"
        ),
    );
    for m in &members {
        b.line(
            p,
            format!(
                "{:>8} {:>8} {:>10} {:>8.1}s  {}",
                m.pid,
                m.ppid,
                system::bytes(m.rss_pages * page),
                m.cpu_ticks as f64 / ticks,
                procs::cmdline(m.pid)
            ),
        );
    }
    let total: u64 = members.iter().map(|m| m.rss_pages * page).sum();
    b.line(
        p,
        format!(
            "{} processes, {} resident in all",
            members.len(),
            system::bytes(total)
        ),
    );
    members.iter().map(|m| m.pid).collect()
}

fn ports_part(
    b: &mut Bundle,
    config: &Config,
    service: &ServiceConfig,
    view: &history::View,
    members: &BTreeSet<i32>,
) {
    let p = Part::Ports;
    let Some(port) = service.port else {
        b.line(
            p,
            "the service declares no `port`; ports named in its logs are looked up below",
        );
        return;
    };
    let holders = ports::holders(port);
    if holders.is_empty() {
        b.line(p, format!("port {port}: free (nothing listens on it)"));
        return;
    }
    let state_dir = config.daemon.state_dir.display().to_string();
    for h in holders {
        let ours = members.contains(&h.pid)
            || (procs::environ_var(h.pid, spawn::SERVICE_ENV).as_deref()
                == Some(service.name.as_str())
                && procs::environ_var(h.pid, spawn::STATE_DIR_ENV).as_deref()
                    == Some(state_dir.as_str()));
        if ours && view.live.as_ref().is_some_and(|s| s.state.is_active()) {
            b.line(p, format!("port {port}: held by the service itself, {h}"));
        } else if ours {
            let text = format!(
                "port {port} is already in use by {h}, a stale instance of service `{}`",
                service.name
            );
            b.evidence(p, None, &text, &text);
        } else {
            let text = if h.pid == 0 {
                format!(
                    "port {port} is already in use by a process backstop cannot see (another user or network namespace)"
                )
            } else {
                format!(
                    "port {port} is already in use by {h}, which is not part of service `{}`",
                    service.name
                )
            };
            b.evidence(p, None, &text, &text);
        }
    }
}

/// The service's log sources (one, or two with stderr kept apart).
fn sources(config: &Config, service: &ServiceConfig) -> Vec<Source> {
    let families: &[Family] = match service.logs.stderr {
        StderrFile::Merged => &[Family::Main],
        StderrFile::Separate => &[Family::Main, Family::Stderr],
    };
    families
        .iter()
        .map(|&family| Source {
            service: service.name.clone(),
            dir: config.daemon.state_dir.join("logs"),
            family,
            format: service.logs.format,
        })
        .collect()
}

/// The last lines of each stream into `05-logs.txt`; those of the current
/// attempt are evidence. Returns the longer tail for error signatures.
fn logs(
    b: &mut Bundle,
    config: &Config,
    service: &ServiceConfig,
    episode: Option<SystemTime>,
) -> Vec<Entry> {
    let p = Part::Logs;
    let mut all = Vec::new();
    for source in sources(config, service) {
        let query = Query {
            last: Some(ERROR_SCAN_LINES),
            ..Query::default()
        };
        let entries = match backstop_logs::read::read_source(&source, &query, None) {
            Ok(e) => e,
            Err(e) => {
                b.line(
                    p,
                    format!("{}: cannot read: {e}", source.current().display()),
                );
                continue;
            }
        };
        let file = source.current().display().to_string();
        if entries.is_empty() {
            b.line(p, format!("── {file}: no lines yet"));
            continue;
        }
        let shown = entries.len().min(LOG_LINES);
        b.line(p, format!("── {file}: the last {shown} lines"));
        for e in &entries[entries.len() - shown..] {
            let text = String::from_utf8_lossy(&e.text);
            let when = e.at.map_or_else(
                || "-".to_string(),
                |t| humantime::format_rfc3339_millis(t).to_string(),
            );
            let line = format!("{when} {:<6} {text}", e.stream.as_str());
            if episode.is_none_or(|start| e.order >= start) {
                b.evidence(p, Some(e.order), &line, &text);
            } else {
                b.line(p, line);
            }
        }
        all.extend(entries);
    }
    all.sort_by_key(|e| e.order);
    all
}

fn error_signatures(b: &mut Bundle, service: &ServiceConfig, entries: &[Entry]) {
    let p = Part::Errors;
    let Ok(patterns) = ErrorPatterns::new(&service.logs) else {
        b.line(
            p,
            "the error patterns do not compile (a bug: `backstop validate` checks them)",
        );
        return;
    };
    let groups = errors::signatures(entries, &patterns);
    b.line(p, format!("error incidents in the last {} lines, grouped by shape (numbers folded), most frequent first", entries.len()));
    if groups.is_empty() {
        b.line(p, "none");
    }
    let t = |at: Option<SystemTime>| {
        at.map_or_else(
            || "-".to_string(),
            |t| humantime::format_rfc3339_seconds(t).to_string(),
        )
    };
    for g in groups {
        b.line(
            p,
            format!(
                "{:>6}×  first {}  last {}  {}",
                g.count,
                t(g.first),
                t(g.last),
                g.example
            ),
        );
    }
}

/// Event kinds that can explain a failure.
const EVIDENCE_KINDS: &[&str] = &[
    "spawn-failed",
    "startup-timeout",
    "memory-max",
    "check-failing",
];

/// The exit history and events; returns where the service's own failing
/// checks were quoted.
fn exits(
    b: &mut Bundle,
    service: &ServiceConfig,
    view: &history::View,
    episode: Option<SystemTime>,
) -> Vec<(String, Option<usize>)> {
    let mut own_checks = Vec::new();
    let p = Part::Exits;
    if let Some(s) = &view.live
        && !s.exits.is_empty()
    {
        b.line(p, "exits the daemon remembers (oldest first):");
        for e in &s.exits {
            b.line(
                p,
                format!("  {}  {:<12} after {:.1}s", e.at, e.describe(), e.uptime_s),
            );
        }
        if !s.exit_counts.is_empty() {
            let counts: Vec<String> = s
                .exit_counts
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            b.line(
                p,
                format!(
                    "exits by reason since the daemon started: {}",
                    counts.join(", ")
                ),
            );
        }
        b.line(p, "");
    }
    b.line(
        p,
        "starts, exits and failures from events.db (oldest first):",
    );
    let prefix = format!("{}: ", service.name);
    let mut any = false;
    for e in view
        .events
        .iter()
        .filter(|e| e.kind != "check-passing" && e.kind != "output")
    {
        any = true;
        let line = format!("{}  {:<17} {}", e.at, e.kind, e.message);
        let text = e.message.strip_prefix(&prefix).unwrap_or(&e.message);
        let recent = episode.is_none_or(|start| at(e).is_some_and(|t| t >= start));
        if recent && EVIDENCE_KINDS.contains(&e.kind.as_str()) {
            let quoted = b.evidence(p, at(e), &line, text);
            if e.kind == "check-failing" {
                own_checks.push((quoted.source, quoted.line));
            }
        } else {
            b.line(p, line);
        }
    }
    if !any {
        b.line(p, "none recorded");
    }
    own_checks
}

/// True when a path's mode lets more than owner read/write and group read.
fn wider_than_640(mode: u32) -> bool {
    mode & 0o777 & !0o640 != 0
}

fn environment(
    b: &mut Bundle,
    config: &Config,
    service: &ServiceConfig,
    plan: Result<&spawn::SpawnPlan, &String>,
) {
    use std::os::unix::fs::MetadataExt;
    let p = Part::Environment;
    let mut from_file = BTreeSet::new();
    match &service.env_file {
        None => b.line(p, "env_file: none configured"),
        Some(file) => match std::fs::metadata(file) {
            Ok(meta) => {
                let mode = meta.mode() & 0o7777;
                b.line(
                    p,
                    format!(
                        "env_file: {} (present, mode {mode:04o}, owner uid {})",
                        file.display(),
                        meta.uid()
                    ),
                );
                if wider_than_640(mode) {
                    b.line(p, format!("WARNING: {} is readable or writable by others (mode {mode:04o}, wider than 0640): `chmod 600 {}`", file.display(), file.display()));
                }
                if let Ok(pairs) = backstop_config::read_env_file(file) {
                    from_file.extend(pairs.into_iter().map(|(k, _)| k));
                }
            }
            Err(e) => {
                let text = format!(
                    "cannot read env file {}: {}",
                    file.display(),
                    if e.kind() == std::io::ErrorKind::NotFound {
                        "no such file".to_string()
                    } else {
                        e.to_string()
                    }
                );
                b.evidence(p, None, &format!("env_file: {text}"), &text);
            }
        },
    }
    if let Some(backstop_config::TokenSource::File(path)) = &config.daemon.token {
        flag_key_file(b, path);
    }
    match plan {
        Ok(plan) => {
            b.line(p, "");
            b.line(p, "the environment the service starts with (values from the env file and secret-named values are masked):");
            for (k, v) in plan.env() {
                let origin = if service.env.0.contains_key(k) {
                    "env"
                } else if from_file.contains(k) {
                    "env_file"
                } else {
                    "inherited"
                };
                let shown = b.redactor.show_value(k, v, from_file.contains(k));
                b.line(p, format!("{k}={shown}    # {origin}"));
                let path = Path::new(v);
                if path.is_absolute()
                    && path.is_file()
                    && (backstop_diagnose::redact::is_secret_name(k)
                        || path.extension().is_some_and(|x| {
                            x.eq_ignore_ascii_case("key") || x.eq_ignore_ascii_case("pem")
                        }))
                {
                    flag_key_file(b, path);
                }
            }
        }
        Err(reason) => {
            // The env file error has been shown above.
            if !reason.starts_with("cannot read env file") {
                b.evidence(
                    p,
                    None,
                    &format!("the service cannot be prepared for a start: {reason}"),
                    reason,
                );
            }
        }
    }
}

fn flag_key_file(b: &mut Bundle, path: &Path) {
    use std::os::unix::fs::MetadataExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.mode() & 0o7777;
        if wider_than_640(mode) {
            b.line(Part::Environment, format!("WARNING: key file {} is readable or writable by others (mode {mode:04o}, wider than 0640)", path.display()));
        }
    }
}

/// Runs the preflight commands; true when one failed.
async fn preflight_part(
    b: &mut Bundle,
    service: &ServiceConfig,
    exec: Option<&backstop_probe::ExecContext>,
) -> bool {
    let p = Part::Preflight;
    if service.preflight.is_empty() {
        b.line(p, "no preflight commands configured: add `preflight = [\"python -c 'import main'\"]` to the service to test imports and settings here");
        return false;
    }
    let Some(exec) = exec else {
        b.line(
            p,
            "not run: the service cannot be prepared for a start (see 08-environment.txt)",
        );
        return true;
    };
    let mut failed = false;
    for line in &service.preflight {
        let ran = preflight::run(line, exec).await;
        failed |= !ran.passed;
        b.line(p, format!("$ {}", ran.command));
        b.line(
            p,
            format!("  → {} in {:.2}s", ran.outcome, ran.took.as_secs_f64()),
        );
        for out in &ran.output {
            if ran.passed {
                b.line(p, format!("  {out}"));
            } else {
                b.evidence(p, None, &format!("  {out}"), out);
            }
        }
        if !ran.passed && ran.output.is_empty() {
            let text = format!("preflight `{}` failed: {}", ran.command, ran.outcome);
            b.evidence(p, None, &text, &text);
        }
        b.line(p, "");
    }
    failed
}

/// What running the checks found.
pub(crate) struct CheckFacts {
    /// The service's own checks that fail now.
    failing: usize,
    /// Evidence lines (file and line) of its own checks.
    own_lines: Vec<(String, Option<usize>)>,
}

async fn dependencies(
    b: &mut Bundle,
    config: &Config,
    service: &ServiceConfig,
    view: &history::View,
) -> CheckFacts {
    let p = Part::Dependencies;
    let mut facts = CheckFacts {
        failing: 0,
        own_lines: Vec::new(),
    };
    let deps: BTreeSet<&str> = service
        .depends_on
        .iter()
        .map(|d| d.service.as_str())
        .collect();
    let active = view.live.as_ref().is_some_and(|s| s.state.is_active());
    for d in &service.depends_on {
        b.line(
            p,
            format!("depends on {} ({})", d.service, d.condition.as_str()),
        );
    }
    let planned = match crate::commands::check::plan(config, &[]) {
        Ok(p) => p,
        Err(e) => {
            b.line(p, format!("cannot plan the checks: {}", e.message));
            return facts;
        }
    };
    if planned.is_empty() {
        b.line(p, "no checks configured");
        return facts;
    }
    let outcomes = crate::commands::check::run_planned(&planned, &config.daemon.state_dir).await;
    b.line(p, "every check, run now:");
    for (plan, outcome) in planned.iter().zip(outcomes) {
        let verdict = match (outcome.passed, outcome.warning) {
            (true, false) => "pass",
            (true, true) => "warn",
            (false, _) => "FAIL",
        };
        let line = format!(
            "{verdict:<4}  {:<24} {:<8} {:>5} ms  {}",
            plan.label,
            plan.check.probe.kind(),
            outcome.latency.as_millis(),
            outcome.detail
        );
        let owner = plan.service.as_deref().unwrap_or(&plan.label);
        if outcome.passed {
            b.line(p, line);
        } else if plan.service.as_deref() == Some(service.name.as_str()) {
            facts.failing += 1;
            if active {
                let text = format!("check {} fails now: {}", plan.check.name, outcome.detail);
                let e = b.evidence(p, None, &line, &text);
                facts.own_lines.push((e.source, e.line));
            } else {
                b.line(p, line);
            }
        } else if deps.contains(owner) {
            let text = format!(
                "dependency `{owner}` is unavailable: check {} fails now: {}",
                plan.label, outcome.detail
            );
            b.evidence(p, None, &line, &text);
        } else {
            b.line(p, line);
        }
    }
    facts
}

fn system_part(b: &mut Bundle, config: &Config, service: &ServiceConfig, view: &history::View) {
    let p = Part::System;
    b.line(p, system::load());
    for l in system::memory() {
        b.line(p, l);
    }
    b.line(p, "");
    let mut seen = BTreeSet::new();
    for (what, path) in [
        ("working directory", &service.dir),
        ("state directory", &config.daemon.state_dir),
    ] {
        let Some(space) = system::space(path) else {
            b.line(p, format!("{what} {}: cannot stat", path.display()));
            continue;
        };
        if !seen.insert(path.clone()) {
            continue;
        }
        let line = format!(
            "{what} {}: {:.1}% of {} used, {} free, {:.1}% of inodes used",
            path.display(),
            space.used_pct,
            system::bytes(space.total_bytes),
            system::bytes(space.free_bytes),
            space.inodes_used_pct
        );
        if space.is_full() {
            let text = format!(
                "filesystem of {} is full: {:.1}% used, {} free",
                path.display(),
                space.used_pct,
                system::bytes(space.free_bytes)
            );
            b.evidence(p, None, &line, &text);
        } else {
            b.line(p, line);
        }
    }
    b.line(p, "");
    // The pids this service had: an OOM kill of one of them is evidence.
    let pids: BTreeSet<String> = view
        .events
        .iter()
        .filter(|e| e.kind == "exited")
        .filter_map(|e| {
            e.message
                .split("pid ")
                .nth(1)?
                .split(' ')
                .next()
                .map(str::to_string)
        })
        .collect();
    match system::oom_lines() {
        Ok(lines) if lines.is_empty() => b.line(p, "kernel log: no OOM-killer lines"),
        Ok(lines) => {
            b.line(p, "kernel OOM-killer lines:");
            for l in lines {
                let ours = pids.iter().any(|pid| {
                    l.contains(&format!("process {pid} "))
                        || l.contains(&format!("pid={pid},"))
                        || l.contains(&format!("pid={pid} "))
                });
                if ours {
                    b.evidence(p, None, &format!("  {l}"), &l);
                } else {
                    b.line(p, format!("  {l}"));
                }
            }
        }
        Err(why) => b.line(p, format!("kernel log: {why}")),
    }
}

/// Fills in what the rules cannot know, and drops what does not apply.
fn refine(
    causes: &mut Vec<Cause>,
    config: &Config,
    service: &ServiceConfig,
    checks: &CheckFacts,
    evidence: &[Evidence],
    view: &history::View,
) {
    // A failing check of the service itself only shows that it is unhealthy.
    for c in causes.iter_mut() {
        if c.id != "unhealthy" && c.id != "startup-timeout" {
            c.evidence
                .retain(|e| !checks.own_lines.contains(&(e.source.clone(), e.line)));
        }
    }
    causes.retain(|c| !c.evidence.is_empty());
    for c in causes.iter_mut() {
        match c.id.as_str() {
            "dependency-unavailable" | "dependency-auth-failed" => name_dependency(c, config),
            "port-in-use" => name_port_holder(c, service),
            _ => {}
        }
    }
    if causes.is_empty() && history::is_fault(&view.state) {
        causes.push(crashed(evidence, view));
    } else if causes.len() == 1 && causes[0].id == "crashed" {
        causes[0] = crashed(evidence, view);
    }
}

/// `crashed`: it exits and nothing matched; quote the last error lines.
fn crashed(evidence: &[Evidence], view: &history::View) -> Cause {
    let logs: Vec<&Evidence> = evidence
        .iter()
        .filter(|e| e.source == FILES[Part::Logs as usize])
        .collect();
    let errorish = regex::Regex::new(r"(?i)error|exception|fatal|panic|traceback|failed|critical")
        .expect("UNWRAP: a constant pattern");
    // The last three different lines (a crash loop repeats itself).
    let last3 = |list: Vec<Evidence>| -> Vec<Evidence> {
        let mut seen = BTreeSet::new();
        let mut out: Vec<Evidence> = list
            .into_iter()
            .rev()
            .filter(|e| seen.insert(e.text.clone()))
            .take(3)
            .collect();
        out.reverse();
        out
    };
    let mut quoted = last3(
        logs.iter()
            .filter(|e| errorish.is_match(&e.text))
            .map(|e| (*e).clone())
            .collect(),
    );
    if quoted.is_empty() {
        quoted = last3(logs.iter().map(|e| (*e).clone()).collect());
    }
    if quoted.is_empty() {
        quoted = last3(evidence.to_vec());
    }
    let exit = view
        .live
        .as_ref()
        .and_then(|s| s.last_exit.as_ref())
        .map(backstop_api::ExitInfo::describe)
        .or_else(|| {
            view.events
                .iter()
                .rev()
                .find(|e| e.kind == "exited")
                .and_then(|e| {
                    e.message
                        .split(" exited with ")
                        .nth(1)
                        .map(|s| s.split(" after").next().unwrap_or(s).to_string())
                })
        });
    let last = quoted.last().map_or("(no output)", |e| e.text.as_str());
    Cause {
        id: "crashed".to_string(),
        confidence: 0.3,
        summary: match exit {
            Some(exit) => {
                format!("it exits ({exit}) and no known cause matched; the last error: {last}")
            }
            None => format!("it fails and no known cause matched; the last line: {last}"),
        },
        evidence: quoted,
        remedy: Remedy {
            playbook: None,
            manual: Some(
                "read the quoted lines and 05-logs.txt; `backstop logs SERVICE -n 200` shows more"
                    .to_string(),
            ),
        },
    }
}

/// Ports a text names: `:5432`, `port 5432`.
fn ports_in(text: &str) -> Vec<u16> {
    let re =
        regex::Regex::new(r"(?:[\w\]\x22]:|port )(\d{2,5})\b").expect("UNWRAP: a constant pattern");
    re.captures_iter(text)
        .filter_map(|c| c[1].parse().ok())
        .collect()
}

/// `127.0.0.1:5432` → "`postgres` in the config", by the ports of
/// services and the targets of checks.
fn name_dependency(c: &mut Cause, config: &Config) {
    if c.summary.contains('`') {
        return; // already named by its config name
    }
    let mut texts = vec![c.summary.clone()];
    texts.extend(c.evidence.iter().map(|e| e.text.clone()));
    let by_port = texts.iter().flat_map(|t| ports_in(t)).find_map(|port| {
        config
            .services
            .iter()
            .find(|s| {
                s.port == Some(port)
                    || s.health
                        .iter()
                        .any(|h| ports_in(&h.probe.target()).contains(&port))
            })
            .map(|s| format!("service `{}`", s.name))
            .or_else(|| {
                config
                    .checks
                    .iter()
                    .find(|k| ports_in(&k.check.probe.target()).contains(&port))
                    .map(|k| format!("check `{}`", k.name))
            })
    });
    let named = by_port.or_else(|| by_kind(&texts.join("\n"), config));
    let unnamed = c.summary.ends_with(": ?");
    match (unnamed, named) {
        (true, Some(who)) => c.summary = format!("{}{who}", c.summary.trim_end_matches('?')),
        (true, None) => {
            c.summary = format!(
                "{}the message names no address",
                c.summary.trim_end_matches('?')
            );
        }
        (false, Some(who)) => c.summary = format!("{}, which is {who} in the config", c.summary),
        (false, None) => {}
    }
}

/// A Redis or PostgreSQL client's message without an address: the one
/// entry of the config that probes that kind of server.
fn by_kind(text: &str, config: &Config) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let kind = if ["wrongpass", "noauth", "redis"]
        .iter()
        .any(|w| lower.contains(w))
    {
        "redis"
    } else if ["postgres", "psql", "password authentication failed"]
        .iter()
        .any(|w| lower.contains(w))
    {
        "postgres"
    } else {
        return None;
    };
    let mut found: Vec<String> = config
        .services
        .iter()
        .filter(|s| s.health.iter().any(|h| h.probe.kind() == kind))
        .map(|s| format!("service `{}`", s.name))
        .chain(
            config
                .checks
                .iter()
                .filter(|c| c.check.probe.kind() == kind)
                .map(|c| format!("check `{}`", c.name)),
        )
        .collect();
    (found.len() == 1).then(|| found.remove(0))
}

/// `the port 8000 is already in use` → `… by pid 42 (python3 -m http.server)`.
fn name_port_holder(c: &mut Cause, service: &ServiceConfig) {
    // The port the message names, the declared one, or a port on the
    // command line that something holds now (`http.server 8000`, `--port 8000`).
    let port = ports_in(&c.summary)
        .into_iter()
        .next()
        .or_else(|| c.evidence.iter().flat_map(|e| ports_in(&e.text)).next())
        .or(service.port)
        .or_else(|| {
            service
                .command
                .iter()
                .filter_map(|w| w.rsplit([':', '=']).next()?.parse::<u16>().ok())
                .find(|p| *p > 0 && ports::is_listening(*p))
        });
    let Some(port) = port else {
        c.summary = "an address it binds is already in use (the message names no port; declare `port` so that backstop names the holder)".to_string();
        return;
    };
    if c.summary.contains('?') {
        c.summary = format!("the port {port} is already in use");
    }
    if !c.summary.contains(" by ") {
        match ports::holders(port).first() {
            Some(h) if h.pid > 0 => c.summary = format!("{} by {h}", c.summary),
            Some(_) => c.summary = format!("{} by a process backstop cannot see", c.summary),
            None => c.summary = format!("{} (it is free now: the holder has gone)", c.summary),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ports_named_in_text() {
        assert_eq!(
            super::ports_in("connect ECONNREFUSED 127.0.0.1:5432"),
            vec![5432]
        );
        assert_eq!(
            super::ports_in("connection to server at \"127.0.0.1\", port 6390 failed"),
            vec![6390]
        );
        assert_eq!(
            super::ports_in("[::1]:8000 and localhost:80"),
            vec![8000, 80]
        );
        assert!(super::wider_than_640(0o644));
        assert!(!super::wider_than_640(0o640));
        assert!(!super::wider_than_640(0o600));
    }
}
