//! Dependency scheduling: when a pending service may start, and when a
//! running one has lost what it depends on.
//!
//! A dependency names another service, or a `[checks]` entry (something
//! backstop does not run, such as a managed database). Conditions:
//! `started` (its process was spawned), `healthy` (it runs and no check of
//! its own fails) and `completed` (a one-shot job exited 0). A running
//! service whose dependency stopped or fails its checks is not stopped, it
//! is `degraded`, with the reason.

use backstop_api::{Health, ServiceState};
use backstop_config::{Dependency, DependencyCondition};
use backstop_probe::CheckState;

/// What the rules need to know of a service depended on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    /// Its state.
    pub state: ServiceState,
    /// Its main process exists (spawned, not yet forgotten).
    pub spawned: bool,
    /// The health its own checks give it.
    pub own_health: Health,
}

/// What the rules need to know of a `[checks]` entry depended on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Check<'a> {
    /// Its state.
    pub state: CheckState,
    /// Its last result's detail.
    pub detail: Option<&'a str>,
}

/// What a dependency's name refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    /// A service of the config.
    Service(Peer),
    /// A `[checks]` entry.
    Check(Check<'a>),
    /// Nothing (the config loader refuses this; a reload may race it).
    Unknown,
}

/// Whether `peer` has reached `condition`.
pub fn satisfied(condition: DependencyCondition, peer: &Peer) -> bool {
    match condition {
        DependencyCondition::Started => {
            matches!(
                peer.state,
                ServiceState::Running | ServiceState::StartupTimeout
            ) || (peer.state == ServiceState::Starting && peer.spawned)
        }
        DependencyCondition::Healthy => {
            peer.state == ServiceState::Running && peer.own_health != Health::Unhealthy
        }
        DependencyCondition::Completed => peer.state == ServiceState::Exited,
    }
}

/// How a dependency's state reads in a sentence: `db is in a crash loop`.
pub fn state_phrase(peer: &Peer) -> &'static str {
    match peer.state {
        ServiceState::Stopped => AT_REST[0],
        ServiceState::Failed => AT_REST[1],
        ServiceState::CrashLoop => AT_REST[2],
        ServiceState::StartupTimeout => AT_REST[3],
        ServiceState::Pending => "is waiting for its own dependencies",
        ServiceState::Starting => "is starting",
        ServiceState::Running if peer.own_health == Health::Unhealthy => {
            "runs, but its checks fail"
        }
        ServiceState::Running => "is running",
        ServiceState::Backoff => "is in backoff, about to restart",
        ServiceState::Stopping => "is stopping",
        ServiceState::Exited => "has exited",
    }
}

/// The phrases of [`state_phrase`] for a dependency at rest, which will
/// not come up by itself: a start that waits for it waits in vain.
pub const AT_REST: [&str; 4] = [
    "is stopped",
    "has failed",
    "is in a crash loop",
    "never became healthy",
];

/// What a pending service with `deps` waits for, or `None` when it may start.
pub fn waiting_for<'a>(deps: &[Dependency], target: impl Fn(&str) -> Target<'a>) -> Option<String> {
    let waits: Vec<String> = deps
        .iter()
        .filter_map(|dep| match target(&dep.service) {
            Target::Service(peer) if !satisfied(dep.condition, &peer) => Some(format!(
                "{name} to be {}: {name} {}",
                dep.condition.as_str(),
                state_phrase(&peer),
                name = dep.service,
            )),
            Target::Check(check) if check.state != CheckState::Passing => Some(format!(
                "check {} to pass ({})",
                dep.service,
                check.detail.unwrap_or("no result yet")
            )),
            _ => None,
        })
        .collect();
    (!waits.is_empty()).then(|| format!("waiting for {}", waits.join(", ")))
}

/// A dependency of a running service that is not up (or fails its
/// checks), with why; `None` when all hold.
pub fn lost<'a>(deps: &[Dependency], target: impl Fn(&str) -> Target<'a>) -> Option<String> {
    deps.iter().find_map(|dep| match target(&dep.service) {
        Target::Check(check) => (check.state == CheckState::Failing).then(|| {
            format!(
                "check {} fails: {}",
                dep.service,
                check.detail.unwrap_or("")
            )
        }),
        Target::Service(_) if dep.condition == DependencyCondition::Completed => None,
        Target::Service(peer)
            if !matches!(
                peer.state,
                ServiceState::Running | ServiceState::Starting | ServiceState::StartupTimeout
            ) =>
        {
            Some(format!("dependency {} is {}", dep.service, peer.state))
        }
        Target::Service(peer) if peer.own_health == Health::Unhealthy => {
            Some(format!("dependency {} is unhealthy", dep.service))
        }
        Target::Service(_) | Target::Unknown => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(service: &str, condition: DependencyCondition) -> Dependency {
        Dependency {
            service: service.into(),
            condition,
        }
    }

    fn peer(state: ServiceState, own_health: Health) -> Target<'static> {
        Target::Service(Peer {
            state,
            spawned: matches!(
                state,
                ServiceState::Running | ServiceState::StartupTimeout | ServiceState::Starting
            ),
            own_health,
        })
    }

    #[test]
    fn conditions() {
        use DependencyCondition::{Completed, Healthy, Started};
        use ServiceState::{Exited, Pending, Running, Starting, StartupTimeout};
        let cases = [
            (Started, Starting, Health::Unknown, true),
            (Started, StartupTimeout, Health::Unhealthy, true),
            (Started, Pending, Health::Unknown, false),
            (Healthy, Starting, Health::Unknown, false),
            (Healthy, Running, Health::Unknown, true),
            (Healthy, Running, Health::Degraded, true),
            (Healthy, Running, Health::Unhealthy, false),
            (Completed, Running, Health::Healthy, false),
            (Completed, Exited, Health::Unknown, true),
        ];
        for (condition, state, health, want) in cases {
            let Target::Service(p) = peer(state, health) else {
                unreachable!()
            };
            assert_eq!(
                satisfied(condition, &p),
                want,
                "{condition:?} {state} {health:?}"
            );
        }
        // Spawning is what `started` waits for, not the state name.
        let unspawned = Peer {
            state: Starting,
            spawned: false,
            own_health: Health::Unknown,
        };
        assert!(!satisfied(Started, &unspawned));
    }

    #[test]
    fn a_pending_service_says_everything_it_waits_for() {
        let deps = [
            dep("db", DependencyCondition::Healthy),
            dep("migrate", DependencyCondition::Completed),
            dep("upstream", DependencyCondition::Started),
        ];
        let target = |name: &str| match name {
            "db" => peer(ServiceState::Failed, Health::Unknown),
            "migrate" => peer(ServiceState::Exited, Health::Unknown),
            _ => Target::Check(Check {
                state: CheckState::Unknown,
                detail: None,
            }),
        };
        assert_eq!(
            waiting_for(&deps, target).as_deref(),
            Some(
                "waiting for db to be healthy: db has failed, check upstream to pass (no result yet)"
            )
        );
        let ready = |_: &str| peer(ServiceState::Running, Health::Healthy);
        assert_eq!(waiting_for(&deps[..1], ready), None);
    }

    #[test]
    fn a_running_service_loses_a_stopped_or_unhealthy_dependency_not_a_completed_one() {
        let deps = [
            dep("migrate", DependencyCondition::Completed),
            dep("db", DependencyCondition::Healthy),
        ];
        let with = |db: Target<'static>| {
            move |name: &str| {
                if name == "db" {
                    db
                } else {
                    peer(ServiceState::Exited, Health::Unknown)
                }
            }
        };
        assert_eq!(
            lost(&deps, with(peer(ServiceState::Stopped, Health::Unknown))).as_deref(),
            Some("dependency db is stopped")
        );
        assert_eq!(
            lost(&deps, with(peer(ServiceState::Running, Health::Unhealthy))).as_deref(),
            Some("dependency db is unhealthy")
        );
        assert_eq!(
            lost(&deps, with(peer(ServiceState::Starting, Health::Unknown))),
            None
        );
        let failing = Target::Check(Check {
            state: CheckState::Failing,
            detail: Some("connection refused"),
        });
        assert_eq!(
            lost(&deps, with(failing)).as_deref(),
            Some("check db fails: connection refused")
        );
    }
}
