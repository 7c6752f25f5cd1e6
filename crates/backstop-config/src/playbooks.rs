//! Remediation playbooks: named lists of steps `backstop fix` runs.
//!
//! A step is one action on the service being fixed, with a timeout and
//! what to do when it fails (`on_error`). Three playbooks are built in
//! ([`builtin`]); `[playbooks.NAME]` adds more, or replaces a built-in one
//! of the same name.

use std::time::Duration;

/// `[playbooks.NAME]`, or a built-in playbook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Playbook {
    /// Its name (`clean-restart`).
    pub name: String,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// One step of a playbook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// What it does.
    pub action: Action,
    /// The longest it may take.
    pub timeout: Duration,
    /// What a failure of this step does to the playbook.
    pub on_error: OnError,
}

/// What a failed step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    /// The playbook ends, failed (the default).
    Stop,
    /// The next step runs anyway.
    Continue,
}

/// What a step does to the service being fixed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Stop the service (its whole tree).
    Stop,
    /// Start it.
    Start,
    /// Stop, then start it.
    Restart,
    /// Stop processes of its earlier runs, or escaped from it: recognised
    /// by the `BACKSTOP_SERVICE`/`BACKSTOP_STATE_DIR` of their environment.
    KillLeftovers,
    /// Stop the holder of its `port` when it is a leftover of it; any other
    /// holder is named and left alone, unless `force`.
    FreePort {
        /// Stop any holder.
        force: bool,
    },
    /// Delete what matches these globs under its `dir` (never outside it,
    /// never through a symlink).
    ClearCache {
        /// Globs relative to the service's `dir`.
        paths: Vec<String>,
    },
    /// Rotate its log files now, or only those larger than `above` bytes.
    RotateLogs {
        /// Only files larger than this.
        above: Option<u64>,
    },
    /// Wait until it runs and its checks pass.
    WaitHealthy,
    /// Watch it for `window`: it must keep running, its checks passing and
    /// its restart count unchanged.
    Verify {
        /// How long.
        window: Duration,
    },
    /// Run a command through `sh -c` with the service's environment,
    /// directory and user: the only step where a shell runs.
    Exec {
        /// The command line.
        command: String,
    },
    /// Record a message (as an event) for whoever watches.
    Notify {
        /// The message.
        message: String,
    },
    /// Write a diagnostic bundle (as `backstop diagnose` does).
    Diagnose,
    /// Restart (or start) each service it depends on that is not up and
    /// healthy, and wait until they are.
    RestartDependencies,
}

impl Action {
    /// The spelling in a config file and in reports.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Start => "start",
            Self::Restart => "restart",
            Self::KillLeftovers => "kill-leftovers",
            Self::FreePort { .. } => "free-port",
            Self::ClearCache { .. } => "clear-cache",
            Self::RotateLogs { .. } => "rotate-logs",
            Self::WaitHealthy => "wait-healthy",
            Self::Verify { .. } => "verify",
            Self::Exec { .. } => "exec",
            Self::Notify { .. } => "notify",
            Self::Diagnose => "diagnose",
            Self::RestartDependencies => "restart-dependencies",
        }
    }

    /// The default timeout of a step of this action.
    pub fn default_timeout(&self) -> Duration {
        match self {
            Self::WaitHealthy | Self::RestartDependencies => Duration::from_secs(120),
            Self::Verify { window } => *window + Duration::from_secs(30),
            Self::Diagnose => Duration::from_secs(90),
            _ => Duration::from_secs(60),
        }
    }
}

/// Every action's name, for the config reader's suggestions.
pub const ACTIONS: &[&str] = &[
    "stop",
    "start",
    "restart",
    "kill-leftovers",
    "free-port",
    "clear-cache",
    "rotate-logs",
    "wait-healthy",
    "verify",
    "exec",
    "notify",
    "diagnose",
    "restart-dependencies",
];

/// The default globs of `clear-cache`: Python's bytecode caches.
pub const DEFAULT_CACHE_GLOBS: &[&str] = &["**/__pycache__"];

/// Logs above this are rotated by `clean-restart`.
pub const LARGE_LOG: u64 = 50 * 1000 * 1000;

fn step(action: Action) -> Step {
    Step {
        timeout: action.default_timeout(),
        action,
        on_error: OnError::Stop,
    }
}

/// The built-in playbooks.
pub fn builtin() -> Vec<Playbook> {
    vec![
        Playbook {
            name: "clean-restart".to_string(),
            steps: vec![
                step(Action::Stop),
                step(Action::KillLeftovers),
                step(Action::ClearCache {
                    paths: DEFAULT_CACHE_GLOBS
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                }),
                step(Action::RotateLogs {
                    above: Some(LARGE_LOG),
                }),
                step(Action::Start),
                step(Action::WaitHealthy),
                step(Action::Verify {
                    window: Duration::from_secs(30),
                }),
            ],
        },
        Playbook {
            name: "restart-dependency".to_string(),
            steps: vec![
                step(Action::RestartDependencies),
                step(Action::Restart),
                step(Action::WaitHealthy),
                step(Action::Verify {
                    window: Duration::from_secs(10),
                }),
            ],
        },
        Playbook {
            name: "free-port".to_string(),
            steps: vec![
                step(Action::FreePort { force: false }),
                step(Action::Start),
                step(Action::WaitHealthy),
                step(Action::Verify {
                    window: Duration::from_secs(10),
                }),
            ],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_of_the_builtins_is_a_known_name() {
        for playbook in builtin() {
            for step in &playbook.steps {
                assert!(
                    ACTIONS.contains(&step.action.name()),
                    "{}",
                    step.action.name()
                );
            }
        }
    }
}
