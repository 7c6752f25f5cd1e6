//! Health checks at run time: when each runs next, its pass/fail tracker,
//! its last result, and what they add up to.
//!
//! One run per check at a time: a check is not started again while a run
//! is in flight, so a slow probe never piles up.

use std::time::{Duration, SystemTime};

use backstop_api::{CheckResult, Health};
use backstop_config::HealthCheck;
use backstop_probe::{CheckState, Outcome, Tracker};
use tokio::time::Instant;

/// While a service is `starting`, checks run at least this often, so that
/// readiness is noticed soon after it happens.
const STARTING_INTERVAL: Duration = Duration::from_millis(500);

#[derive(Debug)]
pub(crate) struct CheckRun {
    pub(crate) config: HealthCheck,
    tracker: Tracker,
    last: Option<(Outcome, SystemTime)>,
    next_at: Option<Instant>,
    in_flight: bool,
    /// For a `process` check: the state kept between samples.
    pub(crate) sampler: Option<crate::process_check::ProcessSampler>,
    /// For a `[checks]` entry: how urgent its failure is.
    pub(crate) severity: Option<backstop_config::AlertSeverity>,
}

impl CheckRun {
    pub(crate) fn new(config: HealthCheck) -> Self {
        Self {
            tracker: Tracker::new(config.failures, config.successes),
            config,
            last: None,
            next_at: None,
            in_flight: false,
            sampler: None,
            severity: None,
        }
    }

    /// A `process` check, measured by the supervisor itself.
    pub(crate) fn is_process(&self) -> bool {
        matches!(self.config.probe, backstop_config::Probe::Process(_))
    }

    /// A new process: forget the old results, run now.
    pub(crate) fn arm(&mut self, now: Instant) {
        self.tracker = Tracker::new(self.config.failures, self.config.successes);
        self.last = None;
        self.next_at = Some(now);
        self.in_flight = false;
        self.sampler = match &self.config.probe {
            backstop_config::Probe::Process(limits) => {
                Some(crate::process_check::ProcessSampler::new(
                    limits.clone(),
                    crate::procs::ticks_per_second(),
                ))
            }
            _ => None,
        };
    }

    /// The service is not running: no more runs, no stale verdict.
    pub(crate) fn disarm(&mut self) {
        self.next_at = None;
    }

    /// When the next run is due, unless one is in flight.
    pub(crate) fn next_at(&self) -> Option<Instant> {
        self.next_at.filter(|_| !self.in_flight)
    }

    pub(crate) fn start(&mut self) {
        self.in_flight = true;
    }

    /// Records a result; returns the new state when it changed.
    pub(crate) fn record(
        &mut self,
        outcome: Outcome,
        now: Instant,
        starting: bool,
    ) -> Option<CheckState> {
        self.in_flight = false;
        let passed = outcome.passed;
        self.last = Some((outcome, SystemTime::now()));
        if self.next_at.is_some() {
            let interval = if starting && !self.is_process() {
                self.config.interval.min(STARTING_INTERVAL)
            } else {
                self.config.interval
            };
            self.next_at = Some(now + interval);
        }
        self.tracker.record(passed)
    }

    pub(crate) fn state(&self) -> CheckState {
        self.tracker.state()
    }

    /// The last run passed with a warning (a threshold near).
    pub(crate) fn warning(&self) -> bool {
        self.last
            .as_ref()
            .is_some_and(|(o, _)| o.passed && o.warning)
    }

    pub(crate) fn last_detail(&self) -> Option<&str> {
        self.last.as_ref().map(|(o, _)| o.detail.as_str())
    }

    /// Forgets the failure streak (after a liveness restart was asked for).
    pub(crate) fn reset_tracker(&mut self) {
        self.tracker = Tracker::new(self.config.failures, self.config.successes);
    }

    pub(crate) fn result(&self) -> CheckResult {
        let (passed, latency_ms, detail, at) = match &self.last {
            Some((o, at)) => (
                Some(o.passed),
                Some(o.latency.as_millis() as u64),
                Some(o.detail.clone()),
                Some(humantime::format_rfc3339_millis(*at).to_string()),
            ),
            None => (None, None, None, None),
        };
        CheckResult {
            name: self.config.name.clone(),
            kind: self.config.probe.kind().to_string(),
            state: match self.state() {
                CheckState::Unknown => "unknown",
                CheckState::Passing if self.warning() => "warning",
                CheckState::Passing => "passing",
                CheckState::Failing => "failing",
            }
            .to_string(),
            passed,
            fails_in_a_row: self.tracker.fails_in_a_row(),
            latency_ms,
            detail,
            at,
            severity: self.severity.map(|s| s.as_str().to_string()),
        }
    }
}

/// The health of a service from its own checks ([`crate::rules::health::own`]).
pub(crate) fn own_health(checks: &[CheckRun]) -> Health {
    let views: Vec<crate::rules::health::CheckHealth> = checks
        .iter()
        .map(|c| crate::rules::health::CheckHealth {
            state: c.state(),
            warning: c.warning(),
        })
        .collect();
    crate::rules::health::own(&views)
}
