//! Health: what a service's checks add up to, and what one check result
//! does to its service.
//!
//! Health is separate from state. A service's own checks decide first: one
//! failing makes it `unhealthy`, one passing with a warning `degraded`,
//! all passing `healthy`, no result yet `unknown`. Then its dependencies:
//! a service whose dependency is lost is at best `degraded`. A service
//! that does not run has no health (`unknown`).
//!
//! A check result moves the service: the first pass of a readiness check
//! makes a `starting` service `running`; a liveness check that counts as
//! failing outside the startup grace replaces the process.

use backstop_api::{Health, ServiceState};
use backstop_probe::CheckState;

use crate::machine::{Input, Why};

/// One check as health sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckHealth {
    /// Its state.
    pub state: CheckState,
    /// Its last run passed, but near a threshold.
    pub warning: bool,
}

/// The health a service's own checks give it.
pub fn own(checks: &[CheckHealth]) -> Health {
    if checks.is_empty() {
        Health::Unknown
    } else if checks.iter().any(|c| c.state == CheckState::Failing) {
        Health::Unhealthy
    } else if checks.iter().all(|c| c.state == CheckState::Passing) {
        if checks.iter().any(|c| c.warning) {
            Health::Degraded
        } else {
            Health::Healthy
        }
    } else {
        Health::Unknown
    }
}

/// A service's health: its own checks first, then whether it lost a
/// dependency. Only an active service has one.
pub fn of_service(state: ServiceState, own: Health, lost_dependency: bool) -> Health {
    if !state.is_active() {
        Health::Unknown
    } else if own == Health::Unhealthy {
        own
    } else if lost_dependency {
        Health::Degraded
    } else {
        own
    }
}

/// One check result, as far as the decision needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Result {
    /// The run passed.
    pub passed: bool,
    /// The check now counts as failing (after `failures` in a row).
    pub failing: bool,
    /// It can say the service is ready (not a `process` check).
    pub readiness: bool,
    /// `on_failure = "restart"`.
    pub liveness: bool,
}

/// What a check result does to its service: the input to feed its machine.
///
/// `starting`: the service is `starting` or in `startup-timeout`; `grace`:
/// it is within its startup grace period, when liveness failures do not count.
pub fn after_result(result: Result, starting: bool, grace: bool) -> Option<Input> {
    if result.passed && starting && result.readiness {
        Some(Input::ProbePassed)
    } else if result.failing && result.liveness && !grace {
        Some(Input::Replace(Why::Liveness))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(state: CheckState, warning: bool) -> CheckHealth {
        CheckHealth { state, warning }
    }

    #[test]
    fn own_health_is_the_worst_check() {
        use CheckState::{Failing, Passing, Unknown};
        assert_eq!(own(&[]), Health::Unknown);
        assert_eq!(own(&[check(Passing, false)]), Health::Healthy);
        assert_eq!(
            own(&[check(Passing, false), check(Passing, true)]),
            Health::Degraded
        );
        assert_eq!(
            own(&[check(Passing, true), check(Failing, false)]),
            Health::Unhealthy
        );
        assert_eq!(
            own(&[check(Passing, false), check(Unknown, false)]),
            Health::Unknown
        );
    }

    #[test]
    fn a_lost_dependency_degrades_only_what_is_not_worse() {
        use ServiceState::{Running, Stopped};
        assert_eq!(of_service(Running, Health::Healthy, true), Health::Degraded);
        assert_eq!(of_service(Running, Health::Unknown, true), Health::Degraded);
        assert_eq!(
            of_service(Running, Health::Unhealthy, true),
            Health::Unhealthy
        );
        assert_eq!(of_service(Running, Health::Healthy, false), Health::Healthy);
        assert_eq!(of_service(Stopped, Health::Healthy, true), Health::Unknown);
    }

    #[test]
    fn readiness_passes_and_liveness_fails_outside_grace() {
        let pass = Result {
            passed: true,
            failing: false,
            readiness: true,
            liveness: true,
        };
        assert_eq!(after_result(pass, true, true), Some(Input::ProbePassed));
        assert_eq!(after_result(pass, false, false), None);
        let process = Result {
            readiness: false,
            ..pass
        };
        assert_eq!(
            after_result(process, true, false),
            None,
            "a process check says nothing of readiness"
        );
        let fail = Result {
            passed: false,
            failing: true,
            readiness: true,
            liveness: true,
        };
        assert_eq!(after_result(fail, true, true), None, "within the grace");
        assert_eq!(
            after_result(fail, false, false),
            Some(Input::Replace(Why::Liveness))
        );
        let report_only = Result {
            liveness: false,
            ..fail
        };
        assert_eq!(after_result(report_only, false, false), None);
    }
}
