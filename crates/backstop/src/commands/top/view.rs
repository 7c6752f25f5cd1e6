//! What `top` knows: the newest status and events, CPU % from the change
//! in CPU seconds between two refreshes, a few minutes of memory and CPU
//! per service for the sparklines, the filter, the open screen.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::Receiver;

use backstop_api::dashboard::LogLine;
use backstop_api::{Event, ServiceStatus, StatusReport};

/// Samples kept per service: five minutes at one refresh a second.
pub(super) const HISTORY: usize = 300;

/// Log lines asked for on the log screen.
pub(super) const LOG_LINES: usize = 200;

/// The screen shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Screen {
    /// The table, the selected service and the events.
    Table,
    /// Everything about the selected service (Enter).
    Details,
    /// The selected service's log, followed (l).
    Logs,
    /// The newest diagnosis asked for (d).
    Diagnosis,
    /// The keys (?).
    Help,
}

/// A diagnosis asked for with `d`.
pub(super) enum Diagnosis {
    /// None asked for yet.
    None,
    /// Running on its thread.
    Running {
        service: String,
        rx: Receiver<Result<serde_json::Value, String>>,
    },
    /// Its answer (the document of `diagnose --json`), or why there is none.
    Done {
        service: String,
        answer: Result<serde_json::Value, String>,
    },
}

/// One service's recent memory (kB) and CPU (tenths of a percent).
#[derive(Default)]
pub(super) struct Trend {
    pub(super) rss_kb: VecDeque<u64>,
    pub(super) cpu_permille: VecDeque<u64>,
}

/// Everything on screen.
pub(super) struct View {
    pub(super) report: Option<StatusReport>,
    pub(super) events: Vec<Event>,
    pub(super) cpu_percent: HashMap<String, f64>,
    pub(super) trends: HashMap<String, Trend>,
    /// Index into [`View::visible`].
    pub(super) selected: usize,
    /// Only services whose name contains this.
    pub(super) filter: String,
    /// The filter is being typed (after `/`).
    pub(super) typing: bool,
    pub(super) screen: Screen,
    /// The selected service with its exit history (the details screen).
    pub(super) details: Option<ServiceStatus>,
    /// The log screen's lines.
    pub(super) logs: Vec<LogLine>,
    pub(super) diagnosis: Diagnosis,
    /// The last action's outcome, or why the daemon did not answer.
    pub(super) message: String,
}

impl View {
    pub(super) fn new() -> Self {
        Self {
            report: None,
            events: Vec::new(),
            cpu_percent: HashMap::new(),
            trends: HashMap::new(),
            selected: 0,
            filter: String::new(),
            typing: false,
            screen: Screen::Table,
            details: None,
            logs: Vec::new(),
            diagnosis: Diagnosis::None,
            message: "?:help ⏎:details r:restart s:stop/start d:diagnose l:logs /:filter q:quit"
                .to_string(),
        }
    }

    /// The services shown: those whose name contains the filter.
    pub(super) fn visible(&self) -> Vec<&ServiceStatus> {
        self.report
            .as_ref()
            .map(|r| {
                r.services
                    .iter()
                    .filter(|s| s.name.contains(self.filter.as_str()))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(super) fn selected(&self) -> Option<&ServiceStatus> {
        self.visible().get(self.selected).copied()
    }

    /// Takes a new status: CPU % (the daemon's), the trends.
    pub(super) fn take_report(&mut self, report: StatusReport) {
        self.trends
            .retain(|name, _| report.services.iter().any(|s| &s.name == name));
        for s in &report.services {
            let running = s.pid.is_some();
            // The daemon's rate between its two last samples: its CPU
            // seconds move only when it samples (every 2 s while watched).
            let percent = s.cpu_percent.filter(|_| running);
            match percent {
                Some(p) => self.cpu_percent.insert(s.name.clone(), p),
                None => self.cpu_percent.remove(&s.name),
            };
            let trend = self.trends.entry(s.name.clone()).or_default();
            if trend.rss_kb.len() == HISTORY {
                trend.rss_kb.pop_front();
                trend.cpu_permille.pop_front();
            }
            trend
                .rss_kb
                .push_back(s.rss_bytes.filter(|_| running).unwrap_or(0) / 1024);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            trend
                .cpu_permille
                .push_back((percent.unwrap_or(0.0) * 10.0).round() as u64);
        }
        let count = report
            .services
            .iter()
            .filter(|s| s.name.contains(self.filter.as_str()))
            .count();
        self.selected = self.selected.min(count.saturating_sub(1));
        self.report = Some(report);
    }

    /// Takes the answer of a running diagnosis, if it came.
    pub(super) fn take_diagnosis(&mut self) {
        let Diagnosis::Running { service, rx } = &self.diagnosis else {
            return;
        };
        let answer = match rx.try_recv() {
            Ok(answer) => answer,
            Err(std::sync::mpsc::TryRecvError::Empty) => return,
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                Err("the diagnosis ended without an answer".to_string())
            }
        };
        self.diagnosis = Diagnosis::Done {
            service: service.clone(),
            answer,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(cpu_percent: Option<f64>, pid: Option<u32>) -> StatusReport {
        serde_json::from_value(serde_json::json!({
            "daemon": {"pid": 1, "config": "", "version": "", "uptime_s": 0, "tracking": ""},
            "services": [{"name": "api", "state": "running", "health": "unknown", "restarts": 0,
                          "pid": pid, "cpu_seconds": 1.0, "cpu_percent": cpu_percent,
                          "rss_bytes": 2_048_000}],
        }))
        .expect("a status report")
    }

    #[test]
    fn cpu_percent_and_trends_follow_the_refreshes() {
        let mut v = View::new();
        v.take_report(report(None, Some(7)));
        assert!(!v.cpu_percent.contains_key("api"));
        v.take_report(report(Some(50.0), Some(7)));
        assert!((v.cpu_percent["api"] - 50.0).abs() < 1e-9);
        assert_eq!(v.trends["api"].cpu_permille, [0, 500]);
        assert_eq!(v.trends["api"].rss_kb, [2000, 2000]);
        // Stopped: no CPU, no memory.
        v.take_report(report(Some(50.0), None));
        assert_eq!(v.trends["api"].rss_kb.back(), Some(&0));
        assert!(!v.cpu_percent.contains_key("api"));
    }

    #[test]
    fn the_filter_narrows_the_services_and_keeps_the_selection_in_range() {
        let mut v = View::new();
        v.take_report(report(None, Some(7)));
        v.filter = "wor".to_string();
        assert!(v.visible().is_empty());
        assert!(v.selected().is_none());
        v.filter = "ap".to_string();
        assert_eq!(v.selected().map(|s| s.name.as_str()), Some("api"));
    }
}
