//! What is measured now by running things: the preflight commands
//! (`09-preflight.txt`) and every check of the config (`10-dependencies.txt`).

use std::collections::BTreeSet;

use backstop_config::{Config, ServiceConfig};

use super::bundle::{Bundle, Part};
use super::history;
use super::preflight;

/// Runs the preflight commands; true when one failed.
pub(super) async fn preflight_part(
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
            if ran.passed || out.trim().is_empty() {
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
pub(super) struct CheckFacts {
    /// The service's own checks that fail now.
    pub(super) failing: usize,
    /// Evidence lines (file and line) of its own checks.
    pub(super) own_lines: Vec<(String, Option<usize>)>,
    /// Checks of its dependencies that fail now: the dependency, the probe
    /// kind (`postgres`, `redis`, `http`) and what the check said (the
    /// database's figures: `10/10 connections in use … (most from …)`).
    pub(super) failing_dependencies: Vec<(String, String, String)>,
}

/// Runs every check of the config now: a failing check of the service
/// itself is evidence while it runs, one of a `depends_on` entry always.
pub(super) async fn dependencies(
    b: &mut Bundle,
    config: &Config,
    service: &ServiceConfig,
    view: &history::View,
) -> CheckFacts {
    let p = Part::Dependencies;
    let mut facts = CheckFacts {
        failing: 0,
        own_lines: Vec::new(),
        failing_dependencies: Vec::new(),
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
            facts.failing_dependencies.push((
                owner.to_string(),
                plan.check.probe.kind().to_string(),
                outcome.detail.clone(),
            ));
        } else {
            b.line(p, line);
        }
    }
    facts
}
