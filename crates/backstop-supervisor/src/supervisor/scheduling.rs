//! Timers and scheduling: the next deadline, launching pending services
//! whose dependencies hold, and stopping in reverse dependency order.

use backstop_api::{EventKind, ServiceState};
use tokio::time::Instant;

use crate::checks::{CheckRun, own_health};
use crate::machine::{Action, Input};
use crate::rules::dependencies::{Check, Peer, Target};
use crate::rules::{dependencies, shutdown};

use super::Supervisor;

impl Supervisor {
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let machines = self
            .services
            .iter()
            .filter_map(|s| s.machine.deadline())
            .map(Instant::from_std);
        let checks = self
            .services
            .iter()
            .flat_map(|s| s.checks.iter().filter_map(CheckRun::next_at));
        let own = self.checks.iter().filter_map(|(c, _)| c.next_at());
        let now = Instant::now();
        let jobs = self
            .services
            .iter()
            .filter_map(|s| s.job.as_ref())
            .flat_map(|j| j.deadlines(now));
        let sample = self
            .usage
            .due()
            .filter(|_| self.services.iter().any(|s| s.main.is_some()));
        machines
            .chain(checks)
            .chain(own)
            .chain(jobs)
            .chain(sample)
            .min()
    }

    pub(super) fn on_deadlines(&mut self, now: Instant) {
        self.start_due_probes(now);
        if !self.shutting_down {
            self.on_job_deadlines(now);
        }
        self.sample_process_checks(now);
        self.sample_usage(now);
        for i in 0..self.services.len() {
            if self.services[i]
                .machine
                .deadline()
                .is_some_and(|d| d <= now.into_std())
            {
                self.feed(i, Input::Deadline, now);
            }
        }
        self.check_trees(now);
    }

    pub(super) fn schedule(&mut self, now: Instant) {
        if self.shutting_down {
            return self.schedule_shutdown(now);
        }
        // A launch can satisfy another service's dependency at once.
        let mut progress = true;
        while progress {
            progress = false;
            for i in 0..self.services.len() {
                if self.services[i].state() != ServiceState::Pending {
                    continue;
                }
                match self.waiting_for(i) {
                    None => {
                        self.feed(i, Input::Launch, now);
                        progress = true;
                    }
                    Some(reason) => self.services[i].detail = Some(reason),
                }
            }
        }
        self.services
            .retain(|s| !s.removed || s.state().is_active());
    }

    /// What a dependency's name refers to, for the rules.
    pub(super) fn target(&self, name: &str) -> Target<'_> {
        if let Some(d) = self.index(name) {
            let s = &self.services[d];
            return Target::Service(Peer {
                state: s.state(),
                spawned: s.main.is_some(),
                own_health: own_health(&s.checks),
            });
        }
        match self.check_named(name) {
            Some(check) => Target::Check(Check {
                state: check.state(),
                detail: check.last_detail(),
            }),
            None => Target::Unknown,
        }
    }

    /// What a pending service waits for, or `None` when it may start.
    pub(super) fn waiting_for(&self, i: usize) -> Option<String> {
        dependencies::waiting_for(&self.services[i].config.depends_on, |n| self.target(n))
    }

    pub(super) fn schedule_shutdown(&mut self, now: Instant) {
        let services: Vec<shutdown::Stopping<'_>> = self
            .services
            .iter()
            .map(|s| shutdown::Stopping::of(&s.config, s.state()))
            .collect();
        for i in shutdown::to_stop(&services) {
            self.feed(i, Input::Stop, now);
        }
    }

    pub(super) fn all_quiet(&self) -> bool {
        self.services.iter().all(|s| {
            !s.state().is_active()
                && !matches!(s.state(), ServiceState::Pending | ServiceState::Backoff)
        })
    }

    pub(super) fn begin_shutdown(&mut self, why: &str) {
        if self.shutting_down {
            self.event(
                None,
                EventKind::ShutdownForced,
                format!("{why} again: killing every service now"),
            );
            let now = Instant::now();
            for i in 0..self.services.len() {
                if self.services[i].state().is_active() {
                    self.apply(i, Action::KillAll, now);
                }
            }
            return;
        }
        self.shutting_down = true;
        self.event(
            None,
            EventKind::Shutdown,
            format!("{why}: stopping every service"),
        );
    }
}
