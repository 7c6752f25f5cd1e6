//! Automatic remediation rules: `[[remediate]]`.
//!
//! A rule names a condition (`when`), optionally a service, the playbook
//! that fixes it (`run`) and a budget (`max_runs` per `per`). When the
//! budget is spent the rule stops acting and escalates to a human.

use std::time::Duration;

/// The cause ids `backstop diagnose` names (docs/diagnose.md): a rule may
/// act on any of them.
pub const CAUSE_IDS: &[&str] = &[
    "command-not-found",
    "missing-module",
    "import-cycle",
    "syntax-error",
    "env-file-missing",
    "missing-config",
    "port-in-use",
    "dependency-unavailable",
    "dependency-auth-failed",
    "out-of-memory",
    "permission-denied",
    "disk-full",
    "resource-limit",
    "workdir-missing",
    "crashed",
];

/// One `[[remediate]]` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemediateRule {
    /// What sets it off.
    pub when: Trigger,
    /// Only this service (default: any).
    pub service: Option<String>,
    /// A state must have lasted this long (`for`; zero: at once).
    pub hold: Duration,
    /// The playbook to run.
    pub run: String,
    /// At most this many runs per service …
    pub max_runs: u32,
    /// … within this window; then one escalation instead.
    pub per: Duration,
}

/// What sets a rule off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The service entered `crash-loop` (a state).
    CrashLoop,
    /// The service went over its `memory_max` and was restarted (an event).
    MemoryMax,
    /// The service runs but its checks fail (a state).
    Unhealthy,
    /// The service never became healthy within `startup` (a state).
    StartupTimeout,
    /// The automatic diagnosis named this cause id (an event).
    Cause(String),
}

impl Trigger {
    /// The spelling in a config file, in events and in reports.
    pub fn name(&self) -> &str {
        match self {
            Self::CrashLoop => "crash-loop",
            Self::MemoryMax => "memory-max",
            Self::Unhealthy => "unhealthy",
            Self::StartupTimeout => "startup-timeout",
            Self::Cause(id) => id,
        }
    }

    /// A condition that lasts (so `for` applies), not a moment.
    pub fn is_state(&self) -> bool {
        matches!(
            self,
            Self::CrashLoop | Self::Unhealthy | Self::StartupTimeout
        )
    }

    /// The trigger a `when` names, if any.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "crash-loop" => Self::CrashLoop,
            "memory-max" => Self::MemoryMax,
            "unhealthy" => Self::Unhealthy,
            "startup-timeout" => Self::StartupTimeout,
            id if CAUSE_IDS.contains(&id) => Self::Cause(id.to_string()),
            _ => return None,
        })
    }
}

/// Every `when` a rule may name.
pub fn trigger_names() -> Vec<&'static str> {
    let mut names = vec!["crash-loop", "memory-max", "unhealthy", "startup-timeout"];
    names.extend(CAUSE_IDS.iter().copied());
    names
}

impl RemediateRule {
    /// Whether the rule is about `service` (or, for a service with
    /// `instances`, about the service `service` is a copy of: `api.2`).
    pub fn covers(&self, service: &str) -> bool {
        self.service
            .as_deref()
            .is_none_or(|s| crate::instances::is_copy_of(service, s))
    }

    /// `when = "memory-max" → clean-restart` (with its service, if any).
    pub fn describe(&self) -> String {
        let on = self
            .service
            .as_deref()
            .map_or_else(String::new, |s| format!(" on {s}"));
        format!("when {}{on} → {}", self.when.name(), self.run)
    }
}
