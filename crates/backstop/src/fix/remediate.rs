//! Automatic remediation: `[[remediate]]` rules, watched over the event
//! bus, run their playbook through the fix engine (so never two playbooks
//! on one service) under a budget ([`super::budget`]); a spent budget
//! becomes one `escalation` event, which the alert engine delivers as a
//! critical alert with a fresh diagnosis verdict and its bundle.
//!
//! Events (`memory-max`, a diagnosis naming a cause) set a rule off at
//! once. States (`crash-loop`, `unhealthy`, `startup-timeout`) set it off
//! once they have lasted the rule's `for`; they are looked at when an
//! event concerns the service, and at the moment a `for` runs out: an
//! idle daemon does no periodic work here.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use backstop_api::{
    Control, ControlSender, Event, EventBus, EventKind, FixCommand, FixError, FixRequest,
    FixSender, Health, ServiceState, ServiceStatus, Subscription,
};
use backstop_config::{RemediateRule, Trigger};
use backstop_probe::ProbeReaper;
use tokio::sync::{mpsc, oneshot};

use super::budget::{Budgets, Decision};

/// A state trigger holds for this service now.
fn holds(when: &Trigger, s: &ServiceStatus) -> bool {
    match when {
        Trigger::CrashLoop => s.state == ServiceState::CrashLoop,
        Trigger::StartupTimeout => s.state == ServiceState::StartupTimeout,
        Trigger::Unhealthy => s.state == ServiceState::Running && s.health == Health::Unhealthy,
        Trigger::MemoryMax | Trigger::Cause(_) => false,
    }
}

/// The trigger an event is, with its service.
fn event_trigger(e: &Event) -> Option<(&str, Trigger)> {
    let service = e.service.as_deref()?;
    match e.kind {
        // Over memory_max: restarted by the sampler, or killed by the
        // kernel in cgroup mode.
        EventKind::MemoryMax | EventKind::OomKilled => Some((service, Trigger::MemoryMax)),
        // `api: port-in-use: … (bundle: …)`
        EventKind::Diagnosed => {
            let rest = e.message.strip_prefix(service)?.strip_prefix(": ")?;
            let (id, _) = rest.split_once(": ")?;
            match Trigger::parse(id)? {
                Trigger::Cause(id) => Some((service, Trigger::Cause(id))),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A rule's run that ended.
struct Ran {
    rule: usize,
    service: String,
    /// `None`: it never ran (another playbook held the service).
    ok: Option<bool>,
}

/// What the task needs besides its rules.
pub(crate) struct Wiring {
    pub(crate) config_path: PathBuf,
    pub(crate) events: Subscription,
    pub(crate) fix: FixSender,
    pub(crate) control: ControlSender,
    pub(crate) bus: EventBus,
    pub(crate) reaper: ProbeReaper,
}

/// Runs until the event bus closes.
pub(crate) async fn run(mut rules: Vec<RemediateRule>, mut w: Wiring) {
    let mut budgets = Budgets::default();
    // (rule, service) → since when its state holds.
    let mut since: HashMap<(usize, String), Instant> = HashMap::new();
    let mut in_flight: HashSet<String> = HashSet::new();
    let (ran_tx, mut ran_rx) = mpsc::unbounded_channel::<Ran>();
    loop {
        let wake = next_wake(&rules, &since);
        let look = tokio::select! {
            received = w.events.recv() => match received {
                None => return,
                Some(e) if e.kind == EventKind::Reload => {
                    if let Ok(loaded) = backstop_config::load(&w.config_path) {
                        rules = loaded.config.remediate;
                        budgets.clear();
                        since.clear();
                    }
                    true
                }
                Some(e) => {
                    if let Some((service, trigger)) = event_trigger(&e) {
                        let service = service.to_string();
                        for (i, rule) in rules.iter().enumerate() {
                            if rule.when == trigger && rule.covers(&service) {
                                act(i, rule, &service, &mut budgets, &mut in_flight, &w, &ran_tx);
                            }
                        }
                    }
                    e.service.is_some() || e.kind == EventKind::EventsLost
                }
            },
            Some(ran) = ran_rx.recv() => {
                in_flight.remove(&ran.service);
                if ran.ok.is_none() {
                    budgets.refund(ran.rule, &ran.service);
                }
                // The state must last its `for` again, counted from now.
                since.retain(|(_, s), _| *s != ran.service);
                true
            }
            () = sleep_until(wake) => true,
        };
        if look && rules.iter().any(|r| r.when.is_state()) {
            let Some(services) = brief(&w.control).await else {
                return;
            };
            let now = Instant::now();
            let mut due = Vec::new();
            for (i, rule) in rules.iter().enumerate() {
                if !rule.when.is_state() {
                    continue;
                }
                for s in services.iter().filter(|s| rule.covers(&s.name)) {
                    let key = (i, s.name.clone());
                    if !holds(&rule.when, s) || in_flight.contains(&s.name) {
                        since.remove(&key);
                        continue;
                    }
                    let from = *since.entry(key).or_insert(now);
                    if now.saturating_duration_since(from) >= rule.hold {
                        due.push((i, s.name.clone()));
                    }
                }
            }
            for (i, service) in due {
                act(
                    i,
                    &rules[i],
                    &service,
                    &mut budgets,
                    &mut in_flight,
                    &w,
                    &ran_tx,
                );
            }
        }
    }
}

/// When the earliest `for` that is counting runs out.
fn next_wake(
    rules: &[RemediateRule],
    since: &HashMap<(usize, String), Instant>,
) -> Option<Instant> {
    since
        .iter()
        .filter_map(|((i, _), from)| rules.get(*i).map(|r| *from + r.hold))
        .min()
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

async fn brief(control: &ControlSender) -> Option<Vec<ServiceStatus>> {
    let (reply, rx) = oneshot::channel();
    control.send(Control::Brief { reply }).await.ok()?;
    rx.await.ok().map(|r| r.services)
}

/// Rule `i` is set off for `service`: run, escalate or keep quiet.
fn act(
    i: usize,
    rule: &RemediateRule,
    service: &str,
    budgets: &mut Budgets,
    in_flight: &mut HashSet<String>,
    w: &Wiring,
    ran: &mpsc::UnboundedSender<Ran>,
) {
    if in_flight.contains(service) {
        return; // its playbook is what we see
    }
    match budgets.decide(i, service, rule.max_runs, rule.per, Instant::now()) {
        Decision::Run => {
            in_flight.insert(service.to_string());
            let (reply, rx) = oneshot::channel();
            let command = FixCommand {
                service: service.to_string(),
                request: FixRequest {
                    playbook: rule.run.clone(),
                    dry_run: false,
                },
                by: Some(format!("rule {}", rule.describe())),
                reply,
            };
            let (fix, bus, ran) = (w.fix.clone(), w.bus.clone(), ran.clone());
            let service = service.to_string();
            let about = rule.describe();
            tokio::spawn(async move {
                let ok = if fix.send(command).await.is_ok() {
                    match rx.await {
                        Ok(Ok(report)) => Some(report.ok),
                        Ok(Err(FixError::Busy { playbook, .. })) => {
                            bus.publish(Event::now(
                                Some(&service),
                                EventKind::Fix,
                                format!(
                                    "{service}: rule {about} waits: {playbook} is running on it"
                                ),
                            ));
                            None
                        }
                        Ok(Err(e)) => {
                            bus.publish(Event::now(
                                Some(&service),
                                EventKind::FixFinished,
                                format!("{service}: rule {about} could not run: {e}"),
                            ));
                            Some(false)
                        }
                        Err(_) => None,
                    }
                } else {
                    None
                };
                let _ = ran.send(Ran {
                    rule: i,
                    service,
                    ok,
                });
            });
        }
        Decision::Escalate => {
            let (config, bus, reaper) = (w.config_path.clone(), w.bus.clone(), w.reaper.clone());
            let control = w.control.clone();
            let (service, rule) = (service.to_string(), rule.clone());
            tokio::spawn(escalate(config, service, rule, bus, reaper, control));
        }
        Decision::Quiet => {}
    }
}

/// Diagnoses the service afresh (bundle included) and raises the
/// `escalation` event that carries the verdict.
async fn escalate(
    config: PathBuf,
    service: String,
    rule: RemediateRule,
    bus: EventBus,
    reaper: ProbeReaper,
    control: ControlSender,
) {
    let diagnosis = crate::auto_diagnose::diagnose(&config, &service, reaper).await;
    let verdict = diagnosis
        .message
        .strip_prefix(&format!("{service}: "))
        .unwrap_or(&diagnosis.message)
        .to_string();
    if diagnosis.kind == EventKind::Diagnosed {
        // The status holds the verdict before anyone sees the event.
        let (reply, shown) = tokio::sync::oneshot::channel();
        if control
            .send(Control::Diagnosed {
                service: service.clone(),
                verdict: verdict.clone(),
                reply,
            })
            .await
            .is_ok()
        {
            let _ = shown.await;
        }
    }
    bus.publish(diagnosis);
    let runs = if rule.max_runs == 1 {
        "once".to_string()
    } else {
        format!("{} times", rule.max_runs)
    };
    bus.publish(Event::now(
        Some(&service),
        EventKind::Escalation,
        format!(
            "{service}: needs a person: {} ran {runs} in {} and {} again; backstop stops remediating it (rule {}). Last diagnosis: {verdict}",
            rule.run,
            humantime::format_duration(rule.per),
            happened(&rule.when),
            rule.describe(),
        ),
    ));
}

fn happened(when: &Trigger) -> String {
    match when {
        Trigger::CrashLoop => "it is in a crash loop".to_string(),
        Trigger::MemoryMax => "it went over memory_max".to_string(),
        Trigger::Unhealthy => "it is unhealthy".to_string(),
        Trigger::StartupTimeout => "it did not become healthy in time".to_string(),
        Trigger::Cause(id) => format!("the diagnosis says {id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diagnosis_sets_off_the_rules_of_its_cause() {
        let e = Event::now(
            Some("web"),
            EventKind::Diagnosed,
            "web: port-in-use: port 8000 is held by pid 12 (bundle: /x)".to_string(),
        );
        assert_eq!(
            event_trigger(&e),
            Some(("web", Trigger::Cause("port-in-use".into())))
        );
        let e = Event::now(Some("web"), EventKind::MemoryMax, "web: over".to_string());
        assert_eq!(event_trigger(&e), Some(("web", Trigger::MemoryMax)));
        let e = Event::now(Some("web"), EventKind::OomKilled, "web: killed".to_string());
        assert_eq!(event_trigger(&e), Some(("web", Trigger::MemoryMax)));
        let healthy = Event::now(
            Some("web"),
            EventKind::Diagnosed,
            "web: healthy, nothing to diagnose (bundle: /x)".to_string(),
        );
        assert_eq!(event_trigger(&healthy), None);
    }
}
