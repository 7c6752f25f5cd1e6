//! Memory and CPU of each service over the last hour, for the dashboard's
//! charts: one sample every [`EVERY`], the newest [`KEPT`] kept in memory
//! (about 20 bytes a sample, so an hour of 100 services is some 700 KB).
//!
//! The supervisor's usage sampler records into it, and only in a daemon
//! that serves the dashboard (a TCP `listen` address); the CLI's `top`
//! keeps its own minutes of history.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;

use crate::StatusReport;

/// How often the sampler reads the services.
pub const EVERY: Duration = Duration::from_secs(10);

/// How many samples are kept per service: an hour at [`EVERY`].
pub const KEPT: usize = 360;

/// One reading of one service: `[unix seconds, resident bytes, CPU %]`
/// (the last two `null` while it does not run).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Sample(pub u64, pub Option<u64>, pub Option<f64>);

#[derive(Default)]
struct Series {
    samples: VecDeque<Sample>,
    /// The CPU seconds and time of the previous reading, for the rate.
    last_cpu: Option<(f64, f64)>,
}

/// The samples of every service; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct UsageHistory {
    series: Arc<Mutex<HashMap<String, Series>>>,
}

impl std::fmt::Debug for UsageHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageHistory").finish_non_exhaustive()
    }
}

impl UsageHistory {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one reading of every service in `report`, taken at `now`
    /// (unix seconds); services no longer in the report are forgotten.
    /// Returns the new sample of each service.
    pub fn record(&self, report: &StatusReport, now: f64) -> BTreeMap<String, Sample> {
        let mut all = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        all.retain(|name, _| report.services.iter().any(|s| &s.name == name));
        let mut added = BTreeMap::new();
        for s in &report.services {
            let series = all.entry(s.name.clone()).or_default();
            let running = s.pid.is_some();
            let cpu = match (s.cpu_seconds.filter(|_| running), series.last_cpu) {
                (Some(cpu), Some((before, at))) if now > at && cpu >= before => {
                    Some(((cpu - before) / (now - at) * 100.0 * 10.0).round() / 10.0)
                }
                _ => None,
            };
            series.last_cpu = s.cpu_seconds.filter(|_| running).map(|c| (c, now));
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let sample = Sample(now as u64, s.rss_bytes.filter(|_| running), cpu);
            if series.samples.len() == KEPT {
                series.samples.pop_front();
            }
            series.samples.push_back(sample);
            added.insert(s.name.clone(), sample);
        }
        added
    }

    /// Every service's samples, oldest first.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<Sample>> {
        self.series
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(name, s)| (name.clone(), s.samples.iter().copied().collect()))
            .collect()
    }

    /// The newest sample of every service taken after `after` (unix seconds).
    pub fn newer_than(&self, after: u64) -> BTreeMap<String, Sample> {
        self.series
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter_map(|(name, s)| {
                s.samples
                    .back()
                    .filter(|x| x.0 > after)
                    .map(|x| (name.clone(), *x))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DaemonInfo, ServiceStatus};

    fn report(services: &[(&str, Option<u32>, Option<f64>)]) -> StatusReport {
        StatusReport {
            jobs: Vec::new(),
            daemon: DaemonInfo {
                pid: 1,
                config: String::new(),
                version: String::new(),
                uptime_s: 0,
                tracking: String::new(),
            },
            services: services
                .iter()
                .map(|&(name, pid, cpu)| {
                    let mut s: ServiceStatus = serde_json::from_value(serde_json::json!({
                        "name": name, "state": "running", "health": "unknown", "restarts": 0
                    }))
                    .expect("a minimal service status");
                    s.pid = pid;
                    s.cpu_seconds = cpu;
                    s.rss_bytes = pid.map(|_| 1000);
                    s
                })
                .collect(),
            checks: Vec::new(),
        }
    }

    #[test]
    fn cpu_percent_is_the_rate_between_two_readings() {
        let h = UsageHistory::new();
        let first = h.record(&report(&[("api", Some(7), Some(1.0))]), 100.0);
        assert_eq!(first["api"], Sample(100, Some(1000), None));
        let second = h.record(&report(&[("api", Some(7), Some(3.5))]), 110.0);
        assert_eq!(second["api"], Sample(110, Some(1000), Some(25.0)));
    }

    #[test]
    fn a_stopped_service_has_gaps_and_no_rate_across_them() {
        let h = UsageHistory::new();
        h.record(&report(&[("api", Some(7), Some(5.0))]), 100.0);
        let gap = h.record(&report(&[("api", None, Some(5.0))]), 110.0);
        assert_eq!(gap["api"], Sample(110, None, None));
        // A new process starts its CPU seconds from zero: no negative rate.
        let back = h.record(&report(&[("api", Some(8), Some(0.5))]), 120.0);
        assert_eq!(back["api"].2, None);
    }

    #[test]
    fn an_hour_is_kept_and_removed_services_are_forgotten() {
        let h = UsageHistory::new();
        for i in 0..(KEPT as u32 + 5) {
            h.record(
                &report(&[("api", Some(7), Some(1.0)), ("old", Some(8), None)]),
                f64::from(i * 10),
            );
        }
        assert_eq!(h.snapshot()["api"].len(), KEPT);
        assert_eq!(h.snapshot()["api"][0].0, 50);
        h.record(&report(&[("api", Some(7), Some(1.0))]), 99_999.0);
        assert!(!h.snapshot().contains_key("old"));
        assert_eq!(h.newer_than(99_999).len(), 0);
        assert_eq!(h.newer_than(99_998).len(), 1);
    }
}
