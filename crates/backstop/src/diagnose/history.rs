//! What is known about a service before anything is run: its state from a
//! running daemon, or else as the event history last recorded it.

use std::path::Path;

use backstop_api::{Event, EventKind, Health, ServiceState, ServiceStatus, StatusReport, rfc3339};
use backstop_store::{EventQuery, Store};

/// Events read per service: enough for a crash loop's story.
const EVENTS_PER_SERVICE: usize = 300;

/// A service's state, live or recorded.
#[derive(Clone, Debug)]
pub(crate) struct View {
    /// The lifecycle state's stable name.
    pub(crate) state: String,
    /// The health's stable name.
    pub(crate) health: String,
    /// The daemon's detailed status, when one runs.
    pub(crate) live: Option<ServiceStatus>,
    /// Offline: when the state was recorded.
    pub(crate) recorded_at: Option<String>,
    /// Why it is in its state.
    pub(crate) detail: Option<String>,
    /// Its events, oldest first.
    pub(crate) events: Vec<Event>,
}

impl View {
    /// True when nothing is wrong right now.
    pub(crate) fn is_healthy(&self) -> bool {
        self.live.as_ref().is_some_and(|s| {
            matches!(s.state, ServiceState::Running | ServiceState::Exited)
                && matches!(s.health, Health::Healthy | Health::Unknown)
        })
    }
}

/// The events of `service`, oldest first; empty when there is no history
/// yet, `Err` (for the operator) when `events.db` cannot be read.
pub(crate) fn events(state_dir: &Path, service: &str) -> Result<Vec<Event>, String> {
    let path = state_dir.join("events.db");
    if !path.exists() {
        return Ok(Vec::new());
    }
    let query = EventQuery {
        service: Some(service.to_string()),
        limit: Some(EVENTS_PER_SERVICE),
        ..EventQuery::default()
    };
    let mut events = Store::open_read_only(&path)
        .and_then(|store| store.query(&query))
        .map_err(|e| e.to_string())?;
    events.sort_by_key(|e| e.at);
    Ok(events)
}

/// `api: running → backoff (restarting in 1.0s)` → (`backoff`, detail).
fn parse_state(message: &str) -> Option<(String, Option<String>)> {
    let (_, after) = message.split_once(" → ")?;
    match after.split_once(" (") {
        Some((state, detail)) => Some((
            state.to_string(),
            Some(detail.trim_end_matches(')').to_string()),
        )),
        None => Some((after.to_string(), None)),
    }
}

/// The state last recorded before the service was stopped, if any.
pub(crate) fn last_fault_state(events: &[Event]) -> Option<(String, Option<String>, String)> {
    events
        .iter()
        .rev()
        .filter(|e| e.kind == EventKind::State)
        .filter_map(|e| parse_state(&e.message).map(|(s, d)| (s, d, rfc3339::format(e.at))))
        .find(|(s, _, _)| s != "stopping" && s != "stopped")
}

/// The view of `service`: from the daemon's `live` status when it runs,
/// else from its recorded events.
pub(crate) fn view(live: Option<ServiceStatus>, events: Vec<Event>) -> View {
    if let Some(s) = live {
        return View {
            state: s.state.as_str().to_string(),
            health: s.health.as_str().to_string(),
            detail: s.detail.clone(),
            live: Some(s),
            recorded_at: None,
            events,
        };
    }
    let (state, detail, at) = match last_fault_state(&events) {
        Some((state, detail, at)) if is_fault(&state) => (state, detail, Some(at)),
        _ => (
            "stopped".to_string(),
            None,
            events.last().map(|e| rfc3339::format(e.at)),
        ),
    };
    View {
        health: if is_fault(&state) {
            "unhealthy"
        } else {
            "unknown"
        }
        .to_string(),
        state,
        detail,
        live: None,
        recorded_at: at,
        events,
    }
}

/// States that mean something went wrong.
pub(crate) fn is_fault(state: &str) -> bool {
    matches!(
        state,
        "failed" | "crash-loop" | "startup-timeout" | "backoff"
    )
}

/// The services worth diagnosing when none is named: the unhealthy ones.
pub(crate) fn unhealthy(
    report: Option<&StatusReport>,
    state_dir: &Path,
    all: &[String],
) -> Vec<String> {
    match report {
        Some(report) => backstop_api::HealthReport::from_status(report)
            .services
            .into_iter()
            .filter(|s| s.health != Health::Healthy)
            .map(|s| s.name)
            .collect(),
        None => all
            .iter()
            .filter(|name| {
                let events = events(state_dir, name).unwrap_or_default();
                last_fault_state(&events).is_some_and(|(s, _, _)| is_fault(&s))
            })
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_messages() {
        assert_eq!(
            parse_state("api: running → backoff (restarting in 1.0s)"),
            Some(("backoff".into(), Some("restarting in 1.0s".into())))
        );
        assert_eq!(
            parse_state("api: starting → running"),
            Some(("running".into(), None))
        );
        assert_eq!(parse_state("api: started, pid 4"), None);
    }
}
