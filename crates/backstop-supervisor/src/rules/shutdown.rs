//! Shutdown order: dependents stop before what they depend on.
//!
//! During a shutdown, a service is told to stop once no service that
//! depends on it is still active. Services that do not run (pending,
//! waiting in backoff) are stopped at once: there is nothing to wait for.

use backstop_api::ServiceState;

/// One service, as the shutdown order sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stopping<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its state.
    pub state: ServiceState,
    /// The services it depends on.
    pub depends_on: Vec<&'a str>,
}

impl<'a> Stopping<'a> {
    /// The view of a service defined by `config`, now in `state`.
    pub fn of(config: &'a backstop_config::ServiceConfig, state: ServiceState) -> Self {
        Self {
            name: &config.name,
            state,
            depends_on: config
                .depends_on
                .iter()
                .map(|d| d.service.as_str())
                .collect(),
        }
    }
}

/// The services (by index) to tell to stop now. Linear in the services
/// and their dependencies: it runs after every exit of a shutdown.
pub fn to_stop(services: &[Stopping<'_>]) -> Vec<usize> {
    // What an active service still depends on must wait for it.
    let held: std::collections::HashSet<&str> = services
        .iter()
        .filter(|d| d.state.is_active())
        .flat_map(|d| d.depends_on.iter().copied())
        .collect();
    services
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            matches!(
                s.state,
                ServiceState::Pending
                    | ServiceState::Backoff
                    | ServiceState::Starting
                    | ServiceState::Running
                    | ServiceState::StartupTimeout
            )
        })
        .filter(|(_, s)| !held.contains(s.name) || !s.state.is_active())
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service<'a>(name: &'a str, state: ServiceState, deps: &[&'a str]) -> Stopping<'a> {
        Stopping {
            name,
            state,
            depends_on: deps.to_vec(),
        }
    }

    #[test]
    fn dependents_first_then_what_they_depend_on() {
        use ServiceState::{Running, Stopped, Stopping as Going};
        let mut all = vec![
            service("db", Running, &[]),
            service("api", Running, &["db"]),
            service("worker", Running, &["api", "db"]),
        ];
        assert_eq!(to_stop(&all), [2]);
        all[2].state = Going;
        assert_eq!(
            to_stop(&all),
            Vec::<usize>::new(),
            "worker is still stopping"
        );
        all[2].state = Stopped;
        assert_eq!(to_stop(&all), [1]);
        all[1].state = Stopped;
        assert_eq!(to_stop(&all), [0]);
    }

    #[test]
    fn what_does_not_run_stops_at_once() {
        use ServiceState::{Backoff, Pending, Running};
        let all = [
            service("db", Backoff, &[]),
            service("api", Pending, &["db"]),
            service("worker", Running, &["api"]),
        ];
        assert_eq!(to_stop(&all), [0, 1, 2]);
    }
}
