//! Remediation: the daemon's task that runs playbooks (`backstop fix`).
//!
//! A playbook runs steps in order ([`actions`]), one playbook per service
//! at a time (a second request for the same service is refused with the
//! name of the running one). Before each step acts, an event says what it
//! is about to do, and `status` shows `fixing: PLAYBOOK, step N/M: ACTION`.
//! A step that fails ends the playbook unless it says `on_error =
//! "continue"`. The report is the answer to the request, a `fix-finished`
//! event, and a JSON file beside the diagnostic bundles.
//!
//! With `dry_run` every step says what it would do (which pids with their
//! command lines, which files with their sizes, which logs) and nothing is
//! changed.
//!
//! The task never runs in the supervision loop: it talks to it through the
//! same `Control` requests as the API, and reads /proc and files on
//! blocking threads.

mod actions;
mod budget;
pub(crate) mod remediate;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use backstop_api::{
    Control, ControlSender, Event, EventBus, EventKind, FixCommand, FixError, FixReport,
    StepOutcome, StepReport,
};
use backstop_config::{Config, OnError, Playbook, ServiceConfig};
use backstop_probe::ProbeReaper;
use tokio::sync::mpsc;

/// What every step may use.
pub(crate) struct Context {
    pub(crate) config_path: PathBuf,
    pub(crate) config: Config,
    pub(crate) service: ServiceConfig,
    pub(crate) control: ControlSender,
    pub(crate) bus: EventBus,
    pub(crate) reaper: ProbeReaper,
    pub(crate) dry_run: bool,
    /// Who asked, when it was not a person (a `[[remediate]]` rule).
    pub(crate) by: Option<String>,
}

/// What a step did, or would do, or why it failed.
pub(crate) struct Outcome {
    pub(crate) detail: String,
    pub(crate) lines: Vec<String>,
}

impl Outcome {
    pub(crate) fn said(detail: impl Into<String>) -> Self {
        Self {
            detail: detail.into(),
            lines: Vec::new(),
        }
    }

    pub(crate) fn with_lines(mut self, lines: Vec<String>) -> Self {
        self.lines = lines;
        self
    }
}

/// Runs until the daemon stops: takes each fix request, runs it as a task
/// of its own, answers with the report.
pub(crate) async fn run(
    config_path: PathBuf,
    mut commands: mpsc::Receiver<FixCommand>,
    control: ControlSender,
    bus: EventBus,
    reaper: ProbeReaper,
    counters: Arc<backstop_api::metrics::EventCounters>,
) {
    let running: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    while let Some(command) = commands.recv().await {
        let FixCommand {
            service,
            request,
            by,
            reply,
        } = command;
        let prepared = prepare(&config_path, &service, &request.playbook, &running, &bus);
        let (config, service_config, playbook) = match prepared {
            Ok(p) => p,
            Err(e) => {
                let _ = reply.send(Err(e));
                continue;
            }
        };
        let ctx = Context {
            config_path: config_path.clone(),
            config,
            service: service_config,
            control: control.clone(),
            bus: bus.clone(),
            reaper: reaper.clone(),
            dry_run: request.dry_run,
            by,
        };
        let running = running.clone();
        let counters = counters.clone();
        tokio::spawn(async move {
            let report = execute(&ctx, &playbook).await;
            if !report.dry_run {
                counters.count_remediation(&report.service, &report.playbook, report.ok);
            }
            running
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&ctx.service.name);
            let _ = reply.send(Ok(report));
        });
    }
}

/// Reads the config as it is now and claims the service for `playbook`.
fn prepare(
    config_path: &std::path::Path,
    service: &str,
    playbook: &str,
    running: &Mutex<HashMap<String, String>>,
    bus: &EventBus,
) -> Result<(Config, ServiceConfig, Playbook), FixError> {
    // The errors quote the file's lines: an outward text, redacted.
    let config = backstop_config::load(config_path)
        .map_err(|e| FixError::Config(bus.redact(&e.render(false))))?
        .config;
    let service_config = config
        .service(service)
        .cloned()
        .ok_or_else(|| FixError::NoSuchService(service.to_string()))?;
    let playbook = config
        .playbook(playbook)
        .ok_or_else(|| FixError::NoSuchPlaybook {
            name: playbook.to_string(),
            known: config.playbook_names(),
        })?;
    let mut running = running
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(other) = running.get(service) {
        return Err(FixError::Busy {
            service: service.to_string(),
            playbook: other.clone(),
        });
    }
    running.insert(service.to_string(), playbook.name.clone());
    Ok((config, service_config, playbook))
}

/// Runs (or plans) every step; the report.
async fn execute(ctx: &Context, playbook: &Playbook) -> FixReport {
    let name = &ctx.service.name;
    let total = playbook.steps.len();
    let started = Instant::now();
    let verb = if ctx.dry_run { "planning" } else { "running" };
    let by = ctx
        .by
        .as_deref()
        .map_or_else(String::new, |by| format!(" ({by})"));
    announce(
        ctx,
        format!("{name}: {verb} playbook {}{by}", playbook.name),
    );
    let mut steps = Vec::new();
    let mut failed = false;
    for (n, step) in playbook.steps.iter().enumerate() {
        let number = n + 1;
        let action = step.action.name();
        if failed {
            steps.push(StepReport {
                number,
                action: action.to_string(),
                outcome: StepOutcome::Skipped,
                detail: "an earlier step failed".to_string(),
                lines: Vec::new(),
                duration_ms: 0,
            });
            continue;
        }
        if !ctx.dry_run {
            let doing = format!("{}, step {number}/{total}: {action}", playbook.name);
            let _ = ctx
                .control
                .send(Control::Fixing {
                    service: name.clone(),
                    doing: Some(doing),
                })
                .await;
            // Said before it acts: the history shows what was attempted
            // even if backstop dies in the middle of it.
            announce(
                ctx,
                format!(
                    "{name}: {} step {number}/{total}: {}",
                    playbook.name,
                    actions::describe(&step.action)
                ),
            );
        }
        let step_started = Instant::now();
        let result =
            tokio::time::timeout(step.timeout, actions::run(ctx, &step.action, step.timeout)).await;
        let (outcome, said) = match result {
            Ok(Ok(said)) if ctx.dry_run => (StepOutcome::Planned, said),
            Ok(Ok(said)) => (StepOutcome::Done, said),
            Ok(Err(said)) => (StepOutcome::Failed, said),
            Err(_) => (
                StepOutcome::Failed,
                Outcome::said(format!(
                    "timed out after {}",
                    humantime::format_duration(step.timeout)
                )),
            ),
        };
        if outcome == StepOutcome::Failed && step.on_error == OnError::Stop {
            failed = true;
        }
        steps.push(StepReport {
            number,
            action: action.to_string(),
            outcome,
            detail: ctx.bus.redact(&said.detail),
            lines: said.lines.iter().map(|l| ctx.bus.redact(l)).collect(),
            duration_ms: step_started.elapsed().as_millis() as u64,
        });
    }
    if !ctx.dry_run {
        let _ = ctx
            .control
            .send(Control::Fixing {
                service: name.clone(),
                doing: None,
            })
            .await;
    }
    let ok = steps
        .iter()
        .all(|s| matches!(s.outcome, StepOutcome::Done | StepOutcome::Planned));
    let mut report = FixReport {
        service: name.clone(),
        playbook: playbook.name.clone(),
        dry_run: ctx.dry_run,
        steps,
        ok,
        report_file: None,
    };
    if !ctx.dry_run {
        report.report_file = write_report(&ctx.config, &report)
            .map(|p| p.display().to_string())
            .ok();
        let took =
            humantime::format_duration(Duration::from_millis(started.elapsed().as_millis() as u64));
        let verdict = match report
            .steps
            .iter()
            .find(|s| s.outcome == StepOutcome::Failed)
        {
            None => format!("done in {took}, every step passed"),
            Some(s) => format!("failed at step {} ({}): {}", s.number, s.action, s.detail),
        };
        let file = report
            .report_file
            .as_deref()
            .map_or_else(String::new, |f| format!(" (report: {f})"));
        ctx.bus.publish(Event::now(
            Some(name),
            EventKind::FixFinished,
            format!("{name}: {} {verdict}{file}{by}", playbook.name),
        ));
    }
    report
}

fn announce(ctx: &Context, message: String) {
    if !ctx.dry_run {
        ctx.bus
            .publish(Event::now(Some(&ctx.service.name), EventKind::Fix, message));
    }
}

/// `diagnostics/<service>-<UTC>-fix-<playbook>.json`, mode 0600.
fn write_report(config: &Config, report: &FixReport) -> std::io::Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = config.daemon.state_dir.join("diagnostics");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    let stamp = backstop_logs::files::stamp(SystemTime::now());
    let path = dir.join(format!(
        "{}-{stamp}-fix-{}.json",
        report.service, report.playbook
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    let text = serde_json::to_string_pretty(report).expect("UNWRAP: plain data serialises");
    file.write_all(text.as_bytes())?;
    Ok(path)
}
