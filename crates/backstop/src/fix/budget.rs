//! The budget of automatic remediation, as a pure function of the runs so
//! far and the time: a rule runs its playbook at most `max_runs` times per
//! service within `per`; the next time it is set off it escalates, once,
//! and then keeps quiet until the window has room again.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// What a rule does when it is set off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Run the playbook (the run is counted).
    Run,
    /// The budget is spent: tell a person, once.
    Escalate,
    /// The budget is spent and a person was told.
    Quiet,
}

/// Runs of one rule on one service.
#[derive(Debug, Default)]
struct Spent {
    runs: VecDeque<Instant>,
    escalated: bool,
}

/// Every rule's runs, per service. Keyed by the rule's position in the
/// file and the service's name.
#[derive(Debug, Default)]
pub(crate) struct Budgets(HashMap<(usize, String), Spent>);

impl Budgets {
    /// Rule `rule` (allowing `max_runs` per `per`) is set off for `service`
    /// at `now`.
    pub(crate) fn decide(
        &mut self,
        rule: usize,
        service: &str,
        max_runs: u32,
        per: Duration,
        now: Instant,
    ) -> Decision {
        let spent = self.0.entry((rule, service.to_string())).or_default();
        while spent
            .runs
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= per)
        {
            spent.runs.pop_front();
        }
        if spent.runs.len() < max_runs as usize {
            spent.runs.push_back(now);
            spent.escalated = false;
            Decision::Run
        } else if spent.escalated {
            Decision::Quiet
        } else {
            spent.escalated = true;
            Decision::Escalate
        }
    }

    /// A run that never happened (another playbook held the service) is
    /// given back.
    pub(crate) fn refund(&mut self, rule: usize, service: &str) {
        if let Some(spent) = self.0.get_mut(&(rule, service.to_string())) {
            spent.runs.pop_back();
        }
    }

    /// Forgets every rule's runs (the rules changed on reload).
    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::Decision::{Escalate, Quiet, Run};
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn runs_up_to_the_budget_then_escalates_once_then_keeps_quiet() {
        let mut b = Budgets::default();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let got: Vec<Decision> = (0..6).map(|n| b.decide(0, "api", 3, HOUR, at(n))).collect();
        assert_eq!(got, [Run, Run, Run, Escalate, Quiet, Quiet]);
        // Another service, another rule: budgets of their own.
        assert_eq!(b.decide(0, "web", 3, HOUR, at(6)), Run);
        assert_eq!(b.decide(1, "api", 3, HOUR, at(6)), Run);
    }

    #[test]
    fn the_window_refills_and_a_later_spend_escalates_again() {
        let mut b = Budgets::default();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(b.decide(0, "api", 1, HOUR, at(0)), Run);
        assert_eq!(b.decide(0, "api", 1, HOUR, at(10)), Escalate);
        assert_eq!(b.decide(0, "api", 1, HOUR, at(20)), Quiet);
        // An hour after the first run, there is room again.
        assert_eq!(b.decide(0, "api", 1, HOUR, at(3600)), Run);
        assert_eq!(b.decide(0, "api", 1, HOUR, at(3610)), Escalate);
    }

    #[test]
    fn a_refunded_run_does_not_count() {
        let mut b = Budgets::default();
        let now = Instant::now();
        assert_eq!(b.decide(0, "api", 1, HOUR, now), Decision::Run);
        b.refund(0, "api");
        assert_eq!(b.decide(0, "api", 1, HOUR, now), Decision::Run);
        assert_eq!(b.decide(0, "api", 1, HOUR, now), Decision::Escalate);
    }
}
