//! Status reports: each service's state, health, checks and output
//! figures (redacted), and the memory and CPU of its process tree, measured
//! off the runtime.

use std::time::SystemTime;

use tokio::time::Instant;

use backstop_api::{DaemonInfo, Health, ServiceState, ServiceStatus, StatusReport};
use backstop_probe::CheckState;

use crate::checks::own_health;
use crate::procs;
use crate::rules::{dependencies, health};

use super::Supervisor;
use super::usage::{Process, Reading};

impl Supervisor {
    /// The report, without the memory and CPU figures of the process trees
    /// (read off the runtime: see [`measured`]).
    pub(super) fn report(&self) -> StatusReport {
        StatusReport {
            daemon: DaemonInfo {
                pid: std::process::id(),
                config: self.config.path.display().to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                uptime_s: self.started.elapsed().as_secs(),
                tracking: self.cgroups.mode(),
            },
            checks: self
                .checks
                .iter()
                .map(|(c, _)| self.redacted_check(c.result()))
                .collect(),
            services: (0..self.services.len())
                .filter(|&i| !self.services[i].removed && self.services[i].job.is_none())
                .map(|i| self.status_of(i, false))
                .collect(),
            jobs: (0..self.services.len())
                .filter(|&i| !self.services[i].removed)
                .filter_map(|i| self.job_status(i))
                .collect(),
        }
    }

    /// Each service with processes, and how to measure its tree.
    pub(super) fn trees(&self) -> Vec<Tree> {
        self.services
            .iter()
            .filter(|s| !s.removed)
            .filter_map(super::Service::tree)
            .collect()
    }

    /// Fills in each service's memory and CPU from the samples
    /// ([`super::usage`]); returns the trees that must be measured now (a
    /// new process, or a late sample).
    pub(super) fn fill_usage(&self, services: &mut [ServiceStatus], now: Instant) -> Vec<Tree> {
        let by_name: std::collections::HashMap<&str, &super::Service> = self
            .services
            .iter()
            .filter(|s| !s.removed)
            .map(|s| (s.config.name.as_str(), s))
            .collect();
        let mut missing = Vec::new();
        for status in services {
            let Some(service) = by_name.get(status.name.as_str()) else {
                continue;
            };
            let Some(process) = service.main.as_ref().map(|m| (m.pid, m.start_time)) else {
                continue;
            };
            if !self.usage.fill(status, process, now) {
                status.cpu_percent = self.usage.cpu_percent(&status.name, process);
                missing.extend(service.tree());
            }
        }
        missing
    }

    pub(super) fn status_of(&self, i: usize, with_exits: bool) -> ServiceStatus {
        let s = &self.services[i];
        let live = s.main.as_ref().filter(|m| m.alive);
        let (rss_bytes, cpu_seconds, cpu_percent) = (None, None, None);
        let now = std::time::Instant::now();
        ServiceStatus {
            name: s.config.name.clone(),
            state: s.state(),
            health: self.health_of(i),
            pid: live.map(|m| m.pid as u32),
            uptime_s: live.map(|m| {
                SystemTime::now()
                    .duration_since(m.started_wall)
                    .unwrap_or_default()
                    .as_secs()
            }),
            restarts: s.machine.restarts(),
            last_exit: s.exits.back().cloned(),
            rss_bytes,
            detail: s
                .detail
                .clone()
                .or_else(|| self.health_note(i))
                .map(|d| self.events.redact(&d)),
            restart_in_s: (s.state() == ServiceState::Backoff)
                .then(|| s.machine.deadline())
                .flatten()
                .map(|d| d.saturating_duration_since(now).as_secs_f64()),
            exits: if with_exits {
                s.exits.iter().cloned().collect()
            } else {
                Vec::new()
            },
            checks: s
                .checks
                .iter()
                .map(|c| self.redacted_check(c.result()))
                .collect(),
            exit_counts: s.exit_counts.clone(),
            cpu_seconds,
            cpu_percent,
            diagnosis: s.diagnosis.as_deref().map(|d| self.events.redact(d)),
            disabled: s.config.disabled,
            fixing: s.fixing.clone(),
            output: {
                let o = s.log_stats.snapshot(SystemTime::now());
                backstop_api::OutputStats {
                    lines: o.lines,
                    errors: o.errors,
                    errors_last_minute: o.errors_last_minute,
                    last_error: o.last_error.map(|(at, line)| backstop_api::ErrorLine {
                        at: humantime::format_rfc3339_millis(at).to_string(),
                        line: self.events.redact(&line),
                    }),
                }
            },
        }
    }

    /// A check result as the API shows it: its detail redacted.
    pub(super) fn redacted_check(
        &self,
        mut result: backstop_api::CheckResult,
    ) -> backstop_api::CheckResult {
        result.detail = result.detail.map(|d| self.events.redact(&d));
        result
    }

    /// Own checks first, then lost dependencies ([`crate::rules::health`]).
    /// A service that is down after a fault (failed, crash loop, backoff)
    /// is unhealthy; one at rest otherwise (stopped, pending, exited) has
    /// no health to speak of: unknown, never healthy.
    pub(super) fn health_of(&self, i: usize) -> Health {
        let s = &self.services[i];
        if matches!(
            s.state(),
            ServiceState::Failed | ServiceState::CrashLoop | ServiceState::Backoff
        ) {
            return Health::Unhealthy;
        }
        if !s.state().is_active() {
            return Health::Unknown;
        }
        let own = own_health(&s.checks);
        let lost = own != Health::Unhealthy && self.lost_dependency(i).is_some();
        health::of_service(s.state(), own, lost)
    }

    /// Why a running service is not healthy: its failing check, or a lost dependency.
    pub(super) fn health_note(&self, i: usize) -> Option<String> {
        let s = &self.services[i];
        if !s.state().is_active() {
            return None;
        }
        s.checks
            .iter()
            .find(|c| c.state() == CheckState::Failing)
            .map(|c| {
                format!(
                    "check {} fails: {}",
                    c.config.name,
                    c.last_detail().unwrap_or("")
                )
            })
            .or_else(|| self.lost_dependency(i))
    }

    /// A dependency that is not up (or fails its checks), with why.
    pub(super) fn lost_dependency(&self, i: usize) -> Option<String> {
        dependencies::lost(&self.services[i].config.depends_on, |n| self.target(n))
    }
}

/// From this many services on, usage is read by several threads.
const PARALLEL_FROM: usize = 64;

impl super::Service {
    /// How to measure a service's tree, if it has processes.
    pub(super) fn tree(&self) -> Option<Tree> {
        let main = self.main.as_ref()?;
        let how = match &self.cgroup {
            Some(cg) => Measure::Cgroup(cg.clone()),
            None => Measure::Tree(self.roots()),
        };
        Some(Tree {
            name: self.config.name.clone(),
            process: (main.pid, main.start_time),
            how,
        })
    }
}

/// A service's process tree, to be measured.
pub(super) struct Tree {
    name: String,
    pub(super) process: Process,
    how: Measure,
}

/// How a service's usage is read.
pub(super) enum Measure {
    /// Its cgroup's own accounting: one or two file reads.
    Cgroup(crate::cgroup::ServiceCgroup),
    /// Walking its process tree in /proc.
    Tree(Vec<i32>),
}

/// Measures `trees` on a blocking thread, never on the runtime (reading
/// /proc can be slow on a loaded host): from each service's cgroup when it
/// has one, else by walking its tree only; then hands the figures to `done`.
pub(super) fn measured(trees: Vec<Tree>, done: impl FnOnce(Vec<Reading>) + Send + 'static) {
    tokio::task::spawn_blocking(move || {
        let (page, ticks) = (procs::page_size(), procs::ticks_per_second() as f64);
        let tree = |roots: &[i32]| {
            let members = procs::tree(roots);
            let rss = members.iter().map(|p| p.rss_pages).sum::<u64>() * page;
            let cpu = members.iter().map(|p| p.cpu_ticks).sum::<u64>() as f64 / ticks;
            (rss, cpu)
        };
        let measure = |part: &[Tree]| -> Vec<Reading> {
            part.iter()
                .map(|t| {
                    let (rss, cpu_seconds) = match &t.how {
                        Measure::Cgroup(cg) => cg.usage().unwrap_or_else(|| tree(&cg.members())),
                        Measure::Tree(roots) => tree(roots),
                    };
                    Reading {
                        name: t.name.clone(),
                        process: t.process,
                        rss,
                        cpu_seconds,
                    }
                })
                .collect()
        };
        // A file read or two per service, about 20 µs each: with hundreds
        // of services the reads are shared among the cores.
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(4);
        let readings = if trees.len() < PARALLEL_FROM || threads < 2 {
            measure(&trees)
        } else {
            let chunk = trees.len().div_ceil(threads);
            std::thread::scope(|scope| {
                let parts: Vec<_> = trees
                    .chunks(chunk)
                    .skip(1)
                    .map(|part| scope.spawn(|| measure(part)))
                    .collect();
                let mut all = measure(&trees[..chunk.min(trees.len())]);
                for part in parts {
                    all.extend(part.join().unwrap_or_default());
                }
                all
            })
        };
        done(readings);
    });
}
