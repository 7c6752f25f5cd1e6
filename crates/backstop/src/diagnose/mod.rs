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
mod environment;
mod errors;
mod history;
mod preflight;
mod probes;
mod records;
mod refine;
mod render;
mod runtime;
mod system;

use std::path::PathBuf;
use std::time::SystemTime;

use backstop_api::{Event, ServiceStatus};
use backstop_config::{Config, ServiceConfig};
use backstop_diagnose::redact::Redactor;
use backstop_diagnose::{Diagnoser, Evidence, Report};
use backstop_supervisor::spawn;

use bundle::{Bundle, Part};
pub(crate) use history::unhealthy;

/// What every diagnosis of one run shares.
pub(crate) struct Run<'a> {
    pub(crate) config: &'a Config,
    /// Where bundles go (`<state_dir>/diagnostics` unless `--out`).
    pub(crate) out_dir: PathBuf,
    /// Also write a `.tar.gz`.
    pub(crate) archive: bool,
    /// Told each step, for a progress display.
    pub(crate) progress: &'a dyn Fn(&str, &str),
}

/// Diagnoses `service`, with `live` its detailed status from the daemon.
/// A bundle that cannot be written is a warning in the report, not an error.
pub(crate) async fn diagnose(
    run: &Run<'_>,
    service: &ServiceConfig,
    live: Option<ServiceStatus>,
) -> Report {
    let config = run.config;
    let state_dir = &config.daemon.state_dir;
    let step = |what: &str| (run.progress)(&service.name, what);
    step("history");
    let (events, history_error) = match history::events(state_dir, &service.name) {
        Ok(events) => (events, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let view = history::view(live, events);
    let episode = episode_start(&view.events);
    let plan = spawn::prepare(service, state_dir);
    let mut b = Bundle::new(redactor(config, plan.as_ref().ok()));
    if let Some(e) = history_error {
        b.warn(
            Part::Exits,
            format!(
                "the event history cannot be read, so exits and state changes are missing here: {e}"
            ),
        );
    }

    runtime::status(&mut b, service, &view);
    step("processes");
    let (main_pid, members) = runtime::processes(&mut b, config, service, &view);
    runtime::ports_part(&mut b, config, service, &view, &members);
    step("logs");
    let entries = records::logs(&mut b, config, service, episode);
    records::error_signatures(&mut b, service, &entries);
    let failing_check_events = records::exits(&mut b, service, &view, episode);
    environment::environment(&mut b, config, service, plan.as_ref(), main_pid);
    step("preflight");
    let exec = plan.as_ref().ok().map(|p| p.probe_context(None));
    let preflight_failed = probes::preflight_part(&mut b, service, exec.as_ref()).await;
    step("checks");
    let mut own_checks = probes::dependencies(&mut b, config, service, &view).await;
    own_checks.own_lines.extend(failing_check_events);
    step("system");
    system::system_part(&mut b, config, service, &view);
    render::config(&mut b, service);

    let mut found = std::mem::take(&mut b.found);
    found.sort_by_key(|f| {
        f.at.unwrap_or(SystemTime::UNIX_EPOCH + std::time::Duration::MAX / 2)
    });
    let evidence: Vec<Evidence> = found.into_iter().map(|f| f.evidence).collect();
    let mut context = context(service, plan.as_ref().ok(), &view);
    context.full = system::full_paths(&context.env).await;
    let mut causes = Diagnoser::new().diagnose_in(&evidence, &context);
    refine::refine(
        &mut causes,
        config,
        service,
        &own_checks,
        &evidence,
        &view,
        preflight_failed,
    );
    b.redact_causes(&mut causes);
    // Running, its checks pass and a start would work: earlier errors in
    // its logs are history, shown in the summary but not a verdict.
    let healthy = view.is_healthy() && own_checks.failing == 0 && !preflight_failed;
    let earlier = if healthy {
        std::mem::take(&mut causes)
    } else {
        Vec::new()
    };

    let now = SystemTime::now();
    let mut report = Report {
        service: service.name.clone(),
        state: view.state.clone(),
        health: view.health.clone(),
        healthy,
        bundle: None,
        archive: None,
        causes,
        warnings: b
            .warnings
            .iter()
            .map(|w| b.redactor.redact(w).into_owned())
            .collect(),
    };
    // A full disk must not cost the operator the verdict: without a
    // bundle, the report still names the cause (and says why no bundle).
    step("writing");
    match bundle::create_dir(&run.out_dir, &service.name, now) {
        Ok(dir) => {
            report.bundle = Some(dir.display().to_string());
            render::summary(&mut b, &report, &view, &earlier, now);
            if let Err(e) = b.write(&dir) {
                report
                    .warnings
                    .push(format!("the bundle {} is incomplete: {e}", dir.display()));
            } else if run.archive {
                match bundle::archive(&dir) {
                    Ok(path) => report.archive = Some(path.display().to_string()),
                    Err(e) => report.warnings.push(format!(
                        "cannot write the archive of {}: {e}",
                        dir.display()
                    )),
                }
            }
        }
        Err(e) => report.warnings.push(format!(
            "no bundle written: cannot create a directory under {}: {e}",
            run.out_dir.display()
        )),
    }
    report
}

/// What backstop knows of the service beside its output: the addresses
/// its environment declares (to name a dependency by them), its own ports
/// (a refusal there is not a dependency's), its last exit.
fn context(
    service: &ServiceConfig,
    plan: Option<&spawn::SpawnPlan>,
    view: &history::View,
) -> backstop_diagnose::Context {
    let env: Vec<(String, String)> = plan
        .map(|p| {
            p.env()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    // As the corpus measures it: lists of nodes, `X_HOST` with `X_PORT`.
    let mut known = backstop_diagnose::address::Known::from_env(
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    // And what its command line passes (`--broker=redis://cache:6379/0`).
    known.extend(backstop_diagnose::address::Known::from_command(
        &service.command,
    ));
    let own_ports = service
        .port
        .into_iter()
        .chain(service.health.iter().filter_map(|h| {
            backstop_diagnose::address::find(&h.probe.target()).and_then(|a| a.port)
        }))
        // `gunicorn -b 127.0.0.1:8000`: the port it was told to listen on.
        .chain(backstop_diagnose::address::own_ports_from_command(
            &service.command,
        ))
        .collect();
    backstop_diagnose::Context {
        known,
        env,
        own_ports,
        exit: refine::last_exit(view),
        // The limit its processes inherit from backstop (until `limits`
        // sets one of its own).
        open_files_limit: nix::sys::resource::getrlimit(
            nix::sys::resource::Resource::RLIMIT_NOFILE,
        )
        .ok()
        .map(|(soft, _)| soft),
        output_sources: [Part::Logs, Part::Preflight]
            .iter()
            .map(|p| bundle::FILES[*p as usize].to_string())
            .collect(),
        dir: Some(service.dir.display().to_string()),
        command: service.command.clone(),
        // Its `user =`, else the user backstop runs as (whom it inherits).
        user: service.user.clone().or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::geteuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        }),
        // Measured by the caller, off the daemon's thread.
        full: Vec::new(),
    }
}

/// Every value the bundle must not show: what the config carries
/// ([`Redactor::for_config`]) and the environment the service runs with.
fn redactor(config: &Config, plan: Option<&spawn::SpawnPlan>) -> Redactor {
    let mut r = Redactor::for_config(config);
    if let Some(plan) = plan {
        for (k, v) in plan.env() {
            r.learn(k, v, false);
            r.learn_url(v);
        }
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
            e.kind == backstop_api::EventKind::State
                && ["stopped → ", "failed → ", "crash-loop → ", "exited → "]
                    .iter()
                    .any(|p| e.message.contains(p))
        })
        .map(|e| e.at)
}
