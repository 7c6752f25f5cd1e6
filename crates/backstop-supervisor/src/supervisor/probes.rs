//! Health checks at run time: starting due probes, sampling `process`
//! checks, and feeding results to the services' machines.

use std::time::Duration;

use backstop_api::{EventKind, ServiceState};
use backstop_config::OnFailure;
use backstop_probe::{CheckState, ExecContext, Outcome};
use tokio::time::Instant;

use crate::checks::CheckRun;
use crate::machine::{Input, Why};
use crate::rules::health;
use crate::{procs, spawn};

use super::{Internal, Supervisor};

impl Supervisor {
    /// (Re)starts the `[checks]` entries of the current config.
    pub(super) fn arm_checks(&mut self, now: Instant) {
        let reaper = self.probe_reaper.clone();
        self.checks = self
            .config
            .checks
            .iter()
            .map(|c| {
                let mut run = CheckRun::new(c.check.clone());
                run.severity = Some(c.severity);
                run.arm(now);
                let mut env = spawn::inherited_environment();
                env.extend(c.env.0.clone());
                let context = ExecContext {
                    dir: c.dir.clone(),
                    env,
                    ids: None,
                    reaper: Some(reaper.clone()),
                };
                (run, context)
            })
            .collect();
    }

    pub(super) fn check_named(&self, name: &str) -> Option<&CheckRun> {
        self.config
            .checks
            .iter()
            .position(|c| c.name == name)
            .and_then(|i| self.checks.get(i))
            .map(|(run, _)| run)
    }

    pub(super) fn on_check_done(&mut self, index: usize, generation: u64, outcome: Outcome) {
        // The generation of [checks] is the number of reloads.
        if generation != self.checks_generation() {
            return;
        }
        let now = Instant::now();
        let detail = outcome.detail.clone();
        if let Some(c) = self.config.checks.get(index) {
            self.probe_latency
                .observe(None, &c.name, outcome.latency.as_secs_f64());
        }
        let Some((run, _)) = self.checks.get_mut(index) else {
            return;
        };
        if let Some(new) = run.record(outcome, now, false) {
            let name = self.config.checks[index].name.clone();
            let verb = match new {
                CheckState::Passing => "passes",
                CheckState::Failing => "fails",
                CheckState::Unknown => "is unknown",
            };
            self.event(
                None,
                EventKind::Check,
                format!("check {name} {verb}: {detail}"),
            );
        }
    }

    pub(super) fn checks_generation(&self) -> u64 {
        self.reloads
    }

    pub(super) fn start_due_probes(&mut self, now: Instant) {
        let generation = self.checks_generation();
        if !self.shutting_down {
            for (index, (run, context)) in self.checks.iter_mut().enumerate() {
                if run.next_at().is_none_or(|at| at > now) {
                    continue;
                }
                run.start();
                let config = run.config.clone();
                let context = context.clone();
                let tx = self.internal_tx.clone();
                tokio::spawn(async move {
                    let outcome = backstop_probe::run(&config, &context).await;
                    let _ = tx.send(Internal::ProbeDone {
                        service: None,
                        check: index,
                        generation,
                        outcome,
                    });
                });
            }
        }
        for s in &mut self.services {
            if !s.state().is_active() || s.state() == ServiceState::Stopping {
                continue;
            }
            let Some(context) = s.probe_context.clone() else {
                continue;
            };
            for (index, check) in s.checks.iter_mut().enumerate() {
                if check.is_process() || check.next_at().is_none_or(|at| at > now) {
                    continue;
                }
                check.start();
                let config = check.config.clone();
                let context = context.clone();
                let tx = self.internal_tx.clone();
                let service = Some(s.config.name.clone());
                let generation = s.generation;
                tokio::spawn(async move {
                    let outcome = backstop_probe::run(&config, &context).await;
                    let _ = tx.send(Internal::ProbeDone {
                        service,
                        check: index,
                        generation,
                        outcome,
                    });
                });
            }
        }
    }

    /// Measures the due `process` checks: one /proc scan for all of them.
    pub(super) fn sample_process_checks(&mut self, now: Instant) {
        let due: Vec<(usize, usize)> = self
            .services
            .iter()
            .enumerate()
            .filter(|(_, s)| s.state().is_active() && s.state() != ServiceState::Stopping)
            .flat_map(|(i, s)| {
                s.checks
                    .iter()
                    .enumerate()
                    .filter(move |(_, c)| c.is_process() && c.next_at().is_some_and(|at| at <= now))
                    .map(move |(c, _)| (i, c))
            })
            .collect();
        if due.is_empty() {
            return;
        }
        self.attribute_orphans();
        let page_size = procs::page_size();
        for (i, c) in due {
            let s = &mut self.services[i];
            // In cgroup mode, what the kernel charges the service (and
            // holds memory_max against); else its process tree.
            let totals = s
                .cgroup
                .as_ref()
                .and_then(|cg| cg.usage().map(|(rss, cpu)| (rss, cpu, cg.members().len())));
            let members = if totals.is_none() {
                procs::tree(&s.roots())
            } else {
                Vec::new()
            };
            // The status shows the same figures the check judged.
            if let Some(m) = s.main.as_ref() {
                let (rss, cpu_seconds) = totals.map_or_else(
                    || {
                        let pages: u64 = members.iter().map(|p| p.rss_pages).sum();
                        let ticks: u64 = members.iter().map(|p| p.cpu_ticks).sum();
                        (
                            pages * page_size,
                            ticks as f64 / procs::ticks_per_second() as f64,
                        )
                    },
                    |(rss, cpu, _)| (rss, cpu),
                );
                let reading = super::usage::Reading {
                    name: s.config.name.clone(),
                    process: (m.pid, m.start_time),
                    rss,
                    cpu_seconds,
                };
                self.usage.record(vec![reading], now, false);
            }
            let s = &mut self.services[i];
            let Some(sampler) = s.checks[c].sampler.as_mut() else {
                continue;
            };
            let verdict = match totals {
                Some((rss, cpu, processes)) => sampler.sample_totals(rss, cpu, processes, now),
                None => sampler.sample(&members, page_size, now),
            };
            let (name, generation) = (s.config.name.clone(), s.generation);
            let outcome = Outcome {
                passed: verdict.passed,
                warning: verdict.warning,
                latency: Duration::ZERO,
                detail: verdict.detail.clone(),
            };
            // Like PM2's max_memory_restart: at once, whatever `failures`
            // says; first, so that the check's own failure (recorded next)
            // finds the service already being replaced, for this reason.
            if verdict.over_max.is_some()
                && self.services[i].state().is_active()
                && self.services[i].state() != ServiceState::Stopping
            {
                self.event(
                    Some(&name),
                    EventKind::MemoryMax,
                    format!("{name}: {}; restarting", verdict.detail),
                );
                self.services[i].checks[c].reset_tracker();
                self.feed(i, Input::Replace(Why::MemoryMax), now);
            }
            self.on_probe_done(&name, c, generation, outcome);
        }
    }

    pub(super) fn on_probe_done(
        &mut self,
        service: &str,
        check: usize,
        generation: u64,
        outcome: Outcome,
    ) {
        let Some(i) = self.index(service) else { return };
        let now = Instant::now();
        let s = &mut self.services[i];
        if s.generation != generation || check >= s.checks.len() {
            return; // about an earlier process
        }
        let starting = matches!(
            s.state(),
            ServiceState::Starting | ServiceState::StartupTimeout
        );
        let passed = outcome.passed;
        let detail = outcome.detail.clone();
        let latency = outcome.latency.as_secs_f64();
        let changed = s.checks[check].record(outcome, now, starting);
        let check_name = s.checks[check].config.name.clone();
        self.probe_latency
            .observe(Some(service), &check_name, latency);
        let s = &mut self.services[i];
        let liveness = s.checks[check].config.on_failure == OnFailure::Restart;
        let failing = s.checks[check].state() == CheckState::Failing;
        let grace = s.machine.in_startup_grace(now.into_std());
        if let Some(new) = changed {
            let (kind, verb) = match new {
                CheckState::Passing => (EventKind::CheckPassing, "passes"),
                CheckState::Failing => (EventKind::CheckFailing, "fails"),
                CheckState::Unknown => (EventKind::CheckUnknown, "is unknown"),
            };
            self.event(
                Some(service),
                kind,
                format!("{service}: check {check_name} {verb}: {detail}"),
            );
        }
        let result = health::Result {
            passed,
            failing,
            readiness: !self.services[i].checks[check].is_process(),
            liveness,
        };
        if let Some(input) = health::after_result(result, starting, grace) {
            if matches!(input, Input::Replace(_)) {
                // The next process starts with a clean streak.
                self.services[i].checks[check].reset_tracker();
            }
            self.feed(i, input, now);
        }
    }
}
