//! Memory and CPU of every service, measured once and served to every
//! request for [`FRESH_FOR`]: measuring 1,000 services' cgroups takes some
//! 30 ms, which every `status`, `/health` and `/metrics` request used to
//! pay (and 1,000 requests a second paid a thousand times). A request
//! measures only the services without a fresh reading (a new process, or
//! none in the last [`FRESH_FOR`]); `process` checks leave theirs too, so
//! the status shows the figures the check judged.
//!
//! A daemon with a dashboard also samples every service every
//! [`backstop_api::usage::EVERY`] for the charts ([`UsageHistory`]); one
//! without takes no sample nobody asked for (an idle daemon stays idle).
//! Each reading keeps the CPU % since the previous reading of the same
//! process.

use std::collections::HashMap;
use std::time::Duration;

use backstop_api::ServiceStatus;
use backstop_api::usage::UsageHistory;
use tokio::time::Instant;

/// How long a reading is served before the service is measured again.
const FRESH_FOR: Duration = Duration::from_secs(2);

/// Which process a figure was taken of: its pid and start time (a new
/// process of the service is measured afresh, never served an old figure).
pub(super) type Process = (i32, u64);

/// One measurement of one service's process tree.
#[derive(Clone, Debug)]
pub(super) struct Reading {
    pub(super) name: String,
    pub(super) process: Process,
    /// Resident bytes of the tree (or cgroup).
    pub(super) rss: u64,
    /// CPU seconds used by the tree so far.
    pub(super) cpu_seconds: f64,
}

/// The last sample of one service.
#[derive(Clone, Copy, Debug)]
struct Figure {
    process: Process,
    rss: u64,
    cpu_seconds: f64,
    /// CPU use between the two last samples of the same process, in % of
    /// one core.
    cpu_percent: Option<f64>,
    at: Instant,
}

/// The last reading of every service, and when the next sample for the
/// dashboard's charts is due.
#[derive(Debug)]
pub(super) struct UsageSamples {
    figures: HashMap<String, Figure>,
    next: Instant,
    measuring: bool,
    /// The dashboard's charts, when there is a dashboard.
    history: Option<UsageHistory>,
}

impl UsageSamples {
    /// No readings yet; with a dashboard, the first sample is due soon
    /// after the services start.
    pub(super) fn new(now: Instant, history: Option<UsageHistory>) -> Self {
        Self {
            figures: HashMap::new(),
            next: now + FRESH_FOR,
            measuring: false,
            history,
        }
    }

    /// When the dashboard's next sample is due (never without a
    /// dashboard, and not while one is being taken).
    pub(super) fn due(&self) -> Option<Instant> {
        (self.history.is_some() && !self.measuring).then_some(self.next)
    }

    /// A sample of every service begins.
    pub(super) fn begin(&mut self) {
        self.measuring = true;
    }

    /// Takes readings made at `now`. `whole`: a sample of every service
    /// (the dashboard's), after which services without a reading are
    /// forgotten and the next sample is scheduled; otherwise readings of
    /// some services (a request's, a `process` check's).
    pub(super) fn record(&mut self, readings: Vec<Reading>, now: Instant, whole: bool) {
        if whole {
            self.figures
                .retain(|name, _| readings.iter().any(|r| &r.name == name));
        }
        for r in readings {
            let before = self.figures.get(&r.name).copied();
            if before.is_some_and(|b| b.process == r.process && b.at >= now) {
                continue; // a newer reading came in first
            }
            let cpu_percent = before
                .filter(|b| b.process == r.process && r.cpu_seconds >= b.cpu_seconds)
                .map(|b| {
                    let elapsed = now.duration_since(b.at).as_secs_f64();
                    (r.cpu_seconds - b.cpu_seconds) / elapsed * 100.0
                })
                .filter(|p| p.is_finite());
            self.figures.insert(
                r.name,
                Figure {
                    process: r.process,
                    rss: r.rss,
                    cpu_seconds: r.cpu_seconds,
                    cpu_percent,
                    at: now,
                },
            );
        }
        if whole {
            self.measuring = false;
            self.next = now + backstop_api::usage::EVERY;
        }
    }

    /// Fills `status` in from the reading of `process`, if there is a
    /// fresh one; false when it must be measured.
    pub(super) fn fill(&self, status: &mut ServiceStatus, process: Process, now: Instant) -> bool {
        let Some(f) = self.figures.get(&status.name) else {
            return false;
        };
        if f.process != process || now.duration_since(f.at) > FRESH_FOR {
            return false;
        }
        status.rss_bytes = Some(f.rss);
        status.cpu_seconds = Some(f.cpu_seconds);
        status.cpu_percent = self.cpu_percent(&status.name, process);
        true
    }

    /// The CPU % of `process` between its last two samples (one decimal).
    pub(super) fn cpu_percent(&self, name: &str, process: Process) -> Option<f64> {
        self.figures
            .get(name)
            .filter(|f| f.process == process)
            .and_then(|f| f.cpu_percent)
            .map(|p| (p * 10.0).round() / 10.0)
    }

    /// The dashboard's history.
    pub(super) fn history(&self) -> Option<&UsageHistory> {
        self.history.as_ref()
    }
}

impl super::Supervisor {
    /// Starts the dashboard's sample of every service when one is due.
    pub(super) fn sample_usage(&mut self, now: Instant) {
        if self.usage.due().is_none_or(|d| d > now) {
            return;
        }
        let trees = self.trees();
        if trees.is_empty() {
            return;
        }
        self.usage.begin();
        let internal = self.internal_tx.clone();
        super::reporting::measured(trees, move |readings| {
            let _ = internal.send(super::Internal::Usage {
                readings,
                whole: true,
            });
        });
    }

    /// Takes readings; a whole sample goes to the dashboard's charts too.
    pub(super) fn usage_read(&mut self, readings: Vec<Reading>, whole: bool) {
        let now = Instant::now();
        self.usage.record(readings, now, whole);
        if let Some(history) = self.usage.history().filter(|_| whole) {
            let mut report = self.report();
            self.fill_usage(&mut report.services, now);
            let unix = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64();
            history.record(&report, unix);
        }
    }
}

/// Fills in figures measured for a request.
pub(super) fn add_readings(services: &mut [ServiceStatus], readings: &[Reading]) {
    for service in services {
        if let Some(r) = readings.iter().find(|r| r.name == service.name) {
            service.rss_bytes = Some(r.rss);
            service.cpu_seconds = Some(r.cpu_seconds);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(name: &str, pid: i32, cpu: f64) -> Reading {
        Reading {
            name: name.to_string(),
            process: (pid, 1),
            rss: 4096,
            cpu_seconds: cpu,
        }
    }

    fn status(name: &str) -> ServiceStatus {
        serde_json::from_value(serde_json::json!({
            "name": name, "state": "running", "health": "unknown", "restarts": 0
        }))
        .expect("a minimal service status")
    }

    #[test]
    fn a_recent_sample_of_the_same_process_is_served_with_its_cpu_rate() {
        let t = Instant::now();
        let mut u = UsageSamples::new(t, None);
        u.begin();
        u.record(vec![reading("api", 7, 1.0)], t, true);
        u.begin();
        u.record(
            vec![reading("api", 7, 1.5)],
            t + Duration::from_secs(2),
            true,
        );
        let mut s = status("api");
        assert!(u.fill(&mut s, (7, 1), t + Duration::from_secs(3)));
        assert_eq!((s.rss_bytes, s.cpu_seconds), (Some(4096), Some(1.5)));
        assert_eq!(s.cpu_percent, Some(25.0));
    }

    #[test]
    fn a_new_process_or_a_late_sample_is_measured_again() {
        let t = Instant::now();
        let mut u = UsageSamples::new(t, None);
        u.record(vec![reading("api", 7, 1.0)], t, true);
        let mut s = status("api");
        assert!(!u.fill(&mut s, (8, 1), t), "another process");
        assert!(!u.fill(&mut s, (7, 1), t + FRESH_FOR + Duration::from_secs(1)));
        assert!(!u.fill(&mut status("db"), (9, 1), t), "never sampled");
    }

    #[test]
    fn only_a_dashboard_is_sampled_unasked_and_removed_services_are_forgotten() {
        let t = Instant::now();
        assert_eq!(
            UsageSamples::new(t, None).due(),
            None,
            "an idle daemon stays idle"
        );
        let mut u = UsageSamples::new(t, Some(UsageHistory::new()));
        assert_eq!(u.due(), Some(t + FRESH_FOR));
        u.begin();
        assert_eq!(u.due(), None, "one sample at a time");
        u.record(
            vec![reading("api", 7, 1.0), reading("old", 8, 0.0)],
            t,
            true,
        );
        assert_eq!(u.due(), Some(t + backstop_api::usage::EVERY));
        u.record(
            vec![reading("api", 7, 2.0)],
            t + Duration::from_secs(1),
            true,
        );
        assert!(!u.fill(&mut status("old"), (8, 1), t + Duration::from_secs(1)));
        assert!(u.fill(&mut status("api"), (7, 1), t + Duration::from_secs(1)));
    }

    #[test]
    fn a_cpu_counter_that_went_back_has_no_rate() {
        let t = Instant::now();
        let mut u = UsageSamples::new(t, None);
        u.record(vec![reading("api", 7, 5.0)], t, true);
        u.record(
            vec![reading("api", 7, 1.0)],
            t + Duration::from_secs(2),
            true,
        );
        let mut s = status("api");
        assert!(u.fill(&mut s, (7, 1), t + Duration::from_secs(2)));
        assert_eq!(s.cpu_percent, None);
    }
}
