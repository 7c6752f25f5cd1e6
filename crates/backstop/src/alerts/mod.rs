//! Alerts: built-in rules over the daemon's status and events, each
//! incident fired once, repeated after `repeat`, resolved when it ends,
//! and delivered to webhooks and Alertmanager without ever blocking the
//! daemon.
//!
//! The engine is a task of its own. It evaluates the rules ([`rules`]) a
//! moment after any event, and every 15 s while there is anything that can
//! change with time alone (an incident to resolve, a restart or error
//! count to age, sinks that must hear of a rising error rate): an idle
//! daemon without alerts configured does no periodic work, compares the firing set with the previous one, and hands
//! notifications to delivery tasks ([`sinks`]) that retry with backoff and
//! report `alert-sent` / `alert-failed` on the event bus.

mod rules;
mod sinks;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use backstop_api::{Control, ControlSender, Event};
use backstop_api::{EventBus, EventKind, Subscription};
use backstop_config::AlertsConfig;
use tokio::sync::oneshot;

pub(crate) use rules::Alert;

/// How often rules are evaluated when nothing happens.
const EVALUATE_EVERY: Duration = Duration::from_secs(15);
/// A `memory_max` restart is an incident for this long after the last one.
const MEMORY_MAX_LASTS: Duration = Duration::from_secs(600);
/// Events come in bursts (a restart is several); wait for the burst to end.
const SETTLE: Duration = Duration::from_millis(200);
/// A service-down alert waits this long at most for the automatic
/// diagnosis, so that the first notification carries the verdict.
const DIAGNOSIS_WAIT: Duration = Duration::from_secs(30);
/// An escalation lasts until its service has had this long without
/// trouble (no restart, crash loop, memory_max, failed playbook).
const ESCALATION_LASTS: Duration = Duration::from_secs(600);

/// What the events said, kept between evaluations.
#[derive(Default)]
struct Seen {
    /// Restarts per service (the last hour's).
    restarts: HashMap<String, VecDeque<Instant>>,
    /// `memory_max` restarts per service, the last one.
    memory_max: HashMap<String, Instant>,
    /// Escalations per service: what they said.
    escalations: HashMap<String, String>,
    /// The last trouble of each service (for escalations to end).
    trouble: HashMap<String, Instant>,
    /// `notify` messages to deliver now.
    notices: Vec<Alert>,
}

impl Seen {
    fn note(&mut self, e: &Event) {
        let Some(s) = &e.service else { return };
        let now = Instant::now();
        match e.kind {
            EventKind::RestartScheduled => {
                self.restarts.entry(s.clone()).or_default().push_back(now);
            }
            EventKind::MemoryMax | EventKind::OomKilled => {
                self.memory_max.insert(s.clone(), now);
            }
            EventKind::Escalation => {
                self.escalations.insert(s.clone(), e.message.clone());
            }
            EventKind::Notify => self.notices.push(Alert {
                key: format!("notify:{s}"),
                rule: "notify",
                severity: backstop_config::AlertSeverity::Info,
                service: Some(s.clone()),
                summary: e.message.clone(),
            }),
            _ => {}
        }
        let troubled = matches!(
            e.kind,
            EventKind::RestartScheduled
                | EventKind::MemoryMax
                | EventKind::OomKilled
                | EventKind::CrashLoop
                | EventKind::StartupTimeout
                | EventKind::LivenessRestart
                | EventKind::Escalation
        ) || (e.kind == EventKind::FixFinished
            && !e.message.contains("every step passed"));
        if troubled {
            self.trouble.insert(s.clone(), now);
        }
    }

    /// Forgets what is too old to matter.
    fn age(&mut self, now: Instant) {
        for times in self.restarts.values_mut() {
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(3600))
            {
                times.pop_front();
            }
        }
        self.memory_max
            .retain(|_, at| now.duration_since(*at) < MEMORY_MAX_LASTS);
        let trouble = &self.trouble;
        self.escalations.retain(|s, _| {
            trouble
                .get(s)
                .is_some_and(|at| now.duration_since(*at) < ESCALATION_LASTS)
        });
        let escalations = &self.escalations;
        self.trouble.retain(|s, at| {
            escalations.contains_key(s) || now.duration_since(*at) < ESCALATION_LASTS
        });
    }

    /// Anything that changes with time alone.
    fn ages(&self) -> bool {
        !self.memory_max.is_empty()
            || !self.escalations.is_empty()
            || self.restarts.values().any(|v| !v.is_empty())
    }
}

/// Automatic diagnoses under way, per service, since when: a new
/// `service-down` incident waits for the verdict (which the status then
/// carries, see `rules::evaluate`). Known from the events, and from the
/// state too: a service in `crash-loop` or `startup-timeout` without a
/// verdict waits as well, so that a trigger event lost in a burst (a slow
/// subscriber drops the oldest) cannot send the alert without it.
#[derive(Default)]
struct PendingDiagnoses {
    /// Per service, since when its verdict is awaited.
    awaited: HashMap<String, Instant>,
    /// Services whose diagnosis ended without a verdict in the status
    /// (`diagnose-failed`, or the wait ran out): not awaited again until
    /// they leave that state.
    given_up: std::collections::HashSet<String>,
}

impl PendingDiagnoses {
    fn note(&mut self, e: &Event) {
        let Some(s) = &e.service else { return };
        match e.kind {
            EventKind::CrashLoop | EventKind::StartupTimeout => {
                self.given_up.remove(s);
                self.awaited.insert(s.clone(), Instant::now());
            }
            EventKind::Diagnosed => {
                self.awaited.remove(s);
            }
            EventKind::DiagnoseFailed => {
                self.awaited.remove(s);
                self.given_up.insert(s.clone());
            }
            _ => {}
        }
    }

    /// Whether anything is awaited (the rules must be evaluated again).
    fn waiting(&self) -> bool {
        !self.awaited.is_empty()
    }

    /// `active` without the new service-down alerts still waiting.
    fn hold(
        &mut self,
        active: Vec<Alert>,
        firing: &BTreeMap<String, Incident>,
        report: &backstop_api::StatusReport,
        now: Instant,
    ) -> Vec<Alert> {
        for s in &report.services {
            let diagnosable = matches!(
                s.state,
                backstop_api::ServiceState::CrashLoop | backstop_api::ServiceState::StartupTimeout
            );
            if !diagnosable || s.diagnosis.is_some() {
                self.given_up.remove(&s.name);
                if s.diagnosis.is_some() {
                    self.awaited.remove(&s.name);
                }
                continue;
            }
            if !self.given_up.contains(&s.name) {
                self.awaited.entry(s.name.clone()).or_insert(now);
            }
        }
        // Waited long enough: sent without a verdict, and not held again
        // while the service stays as it is.
        let expired: Vec<String> = self
            .awaited
            .iter()
            .filter(|(_, since)| now.duration_since(**since) >= DIAGNOSIS_WAIT)
            .map(|(s, _)| s.clone())
            .collect();
        for s in expired {
            self.awaited.remove(&s);
            self.given_up.insert(s);
        }
        active
            .into_iter()
            .filter(|a| {
                a.rule != "service-down"
                    || firing.contains_key(&a.key)
                    || a.service
                        .as_ref()
                        .is_none_or(|s| !self.awaited.contains_key(s))
            })
            .collect()
    }
}

/// One incident as the engine tracks it.
struct Incident {
    alert: Alert,
    started: SystemTime,
    last_sent: Instant,
}

/// Runs until the event bus closes.
pub(crate) async fn run(
    config: AlertsConfig,
    state_dir: std::path::PathBuf,
    control: ControlSender,
    mut events: Subscription,
    bus: EventBus,
    reaper: backstop_probe::ProbeReaper,
) {
    let mut firing: BTreeMap<String, Incident> = BTreeMap::new();
    let mut seen = Seen::default();
    let mut pending = PendingDiagnoses::default();
    let mut tick = tokio::time::interval(EVALUATE_EVERY);
    let mut watching = true;
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            received = events.recv() => match received {
                Some(e) => {
                    if e.kind.is_alert() {
                        continue; // our own reports
                    }
                    seen.note(&e);
                    pending.note(&e);
                    // Let the rest of the burst arrive, then look once.
                    tokio::time::sleep(SETTLE).await;
                    while let Some(e) = events.try_recv() {
                        seen.note(&e);
                        pending.note(&e);
                    }
                }
                None => return,
            },
            _ = tick.tick(), if watching => {}
        }
        // A playbook's message is news, not an incident: delivered once.
        for notice in std::mem::take(&mut seen.notices) {
            sinks::notify(&config, &notice, SystemTime::now(), None, &bus, &reaper);
        }
        let (reply, rx) = oneshot::channel();
        // The rules need no memory figures: skip the /proc scan.
        if control.send(Control::Brief { reply }).await.is_err() {
            return;
        }
        let Ok(report) = rx.await else { return };
        let now = Instant::now();
        seen.age(now);
        let recent = rules::Recent {
            restarts: seen
                .restarts
                .iter()
                .map(|(k, v)| (k.as_str(), v.len()))
                .collect(),
            memory_max: seen.memory_max.keys().map(String::as_str).collect(),
            escalations: seen
                .escalations
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            disk_full: tokio::time::timeout(
                Duration::from_secs(2),
                backstop_probe::check_disk(&state_dir, f64::from(config.disk_used_percent), 95.0),
            )
            .await
            .ok()
            .and_then(Result::err),
        };
        let active = rules::evaluate(&config, &report, &recent);
        let active = pending.hold(active, &firing, &report, now);
        update(&config, &mut firing, active, now, &bus, &reaper);
        watching =
            !config.sinks.is_empty() || !firing.is_empty() || pending.waiting() || seen.ages();
    }
}

/// Fires what is new, repeats what is due, resolves what ended.
fn update(
    config: &AlertsConfig,
    firing: &mut BTreeMap<String, Incident>,
    active: Vec<Alert>,
    now: Instant,
    bus: &EventBus,
    reaper: &backstop_probe::ProbeReaper,
) {
    let mut still = std::collections::BTreeSet::new();
    for alert in active {
        still.insert(alert.key.clone());
        match firing.get_mut(&alert.key) {
            None => {
                let incident = Incident {
                    alert,
                    started: SystemTime::now(),
                    last_sent: now,
                };
                sinks::notify(config, &incident.alert, incident.started, None, bus, reaper);
                firing.insert(incident.alert.key.clone(), incident);
            }
            Some(incident) => {
                incident.alert = alert; // the summary may have new figures
                if now.duration_since(incident.last_sent) >= config.repeat {
                    incident.last_sent = now;
                    sinks::notify(config, &incident.alert, incident.started, None, bus, reaper);
                }
            }
        }
    }
    let ended: Vec<String> = firing
        .keys()
        .filter(|k| !still.contains(*k))
        .cloned()
        .collect();
    for key in ended {
        if let Some(incident) = firing.remove(&key) {
            sinks::notify(
                config,
                &incident.alert,
                incident.started,
                Some(SystemTime::now()),
                bus,
                reaper,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rules::tests::{daemon, service};
    use super::{Alert, BTreeMap, DIAGNOSIS_WAIT, Event, EventKind, Instant, PendingDiagnoses};
    use backstop_api::{Health, ServiceState, StatusReport};
    use backstop_config::AlertSeverity;

    fn report(diagnosis: Option<&str>) -> StatusReport {
        let mut api = service("api", ServiceState::CrashLoop, Health::Unhealthy, 0);
        api.diagnosis = diagnosis.map(str::to_string);
        StatusReport {
            daemon: daemon(),
            services: vec![api],
            checks: Vec::new(),
            jobs: Vec::new(),
        }
    }

    fn down() -> Vec<Alert> {
        vec![Alert {
            key: "service-down:api".into(),
            rule: "service-down",
            severity: AlertSeverity::Critical,
            service: Some("api".into()),
            summary: "api is crash-loop".into(),
        }]
    }

    #[test]
    fn a_crash_loop_waits_for_its_verdict_even_when_its_event_was_lost() {
        let mut pending = PendingDiagnoses::default();
        let firing = BTreeMap::new();
        let now = Instant::now();
        // No `crash-loop` event seen: the state alone holds the alert back.
        assert!(pending.hold(down(), &firing, &report(None), now).is_empty());
        // Until the verdict is in the status…
        let released = pending.hold(down(), &firing, &report(Some("missing-module: x")), now);
        assert_eq!(released.len(), 1);
        // …or the wait is over.
        let mut pending = PendingDiagnoses::default();
        assert!(pending.hold(down(), &firing, &report(None), now).is_empty());
        let later = now + DIAGNOSIS_WAIT;
        assert_eq!(pending.hold(down(), &firing, &report(None), later).len(), 1);
        // …and is not started again while the service stays so.
        let after = later + DIAGNOSIS_WAIT / 2;
        assert_eq!(pending.hold(down(), &firing, &report(None), after).len(), 1);
        // A diagnosis that failed is not waited for again.
        let mut pending = PendingDiagnoses::default();
        pending.note(&Event::now(
            Some("api"),
            EventKind::DiagnoseFailed,
            "failed",
        ));
        assert_eq!(pending.hold(down(), &firing, &report(None), now).len(), 1);
    }
}
