//! From outcomes to a check state, with consecutive thresholds.

/// The state of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckState {
    /// No result yet.
    Unknown,
    /// Passing.
    Passing,
    /// Failed `failures` times in a row (and not yet recovered).
    Failing,
}

/// Counts consecutive passes and failures of one check.
#[derive(Clone, Debug)]
pub struct Tracker {
    failures: u32,
    successes: u32,
    fails_in_a_row: u32,
    passes_in_a_row: u32,
    state: CheckState,
}

impl Tracker {
    /// A tracker that fails after `failures` and recovers after `successes`.
    pub fn new(failures: u32, successes: u32) -> Self {
        Self {
            failures: failures.max(1),
            successes: successes.max(1),
            fails_in_a_row: 0,
            passes_in_a_row: 0,
            state: CheckState::Unknown,
        }
    }

    /// The current state.
    pub fn state(&self) -> CheckState {
        self.state
    }

    /// Failures in a row so far.
    pub fn fails_in_a_row(&self) -> u32 {
        self.fails_in_a_row
    }

    /// Records one outcome; returns the new state when it changed.
    pub fn record(&mut self, passed: bool) -> Option<CheckState> {
        if passed {
            self.passes_in_a_row += 1;
            self.fails_in_a_row = 0;
        } else {
            self.fails_in_a_row += 1;
            self.passes_in_a_row = 0;
        }
        let next = match self.state {
            // The first success proves the thing works; a new check does not
            // have to earn `successes` passes before being believed.
            CheckState::Unknown if passed => CheckState::Passing,
            CheckState::Failing if self.passes_in_a_row >= self.successes => CheckState::Passing,
            CheckState::Unknown | CheckState::Passing if self.fails_in_a_row >= self.failures => {
                CheckState::Failing
            }
            other => other,
        };
        (next != self.state).then(|| {
            self.state = next;
            next
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fails_after_n_in_a_row_and_recovers_after_m() {
        let mut t = Tracker::new(3, 2);
        assert_eq!(t.record(true), Some(CheckState::Passing));
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(true), None, "a pass resets the failure count");
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), Some(CheckState::Failing));
        assert_eq!(t.record(true), None, "one pass is not enough to recover");
        assert_eq!(t.record(true), Some(CheckState::Passing));
    }

    #[test]
    fn unknown_until_first_result() {
        let mut t = Tracker::new(2, 1);
        assert_eq!(t.state(), CheckState::Unknown);
        assert_eq!(t.record(false), None);
        assert_eq!(t.state(), CheckState::Unknown);
        assert_eq!(t.record(false), Some(CheckState::Failing));
        assert_eq!(t.fails_in_a_row(), 2);
    }
}
