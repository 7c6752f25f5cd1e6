//! Events: what happened, when, to which service, of which kind.
//!
//! The kind is an enum in the code and a stable string on the wire, in the
//! event store and in `backstop events --kind`: the strings below are a
//! public contract (docs/architecture.md lists them). A kind this build
//! does not know (written by a newer backstop) reads back as
//! [`EventKind::Other`] and is kept as it was.

use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Something that happened, as the supervisor reports it on its event bus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    /// When (RFC 3339, UTC, milliseconds).
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, example = "2026-12-02T10:15:30.123Z")]
    pub at: SystemTime,
    /// The service concerned, if any.
    pub service: Option<String>,
    /// A stable kind: `spawned`, `exited`, `state`, `crash-loop`, `spawn-failed`, …
    #[schema(value_type = String, example = "crash-loop")]
    pub kind: EventKind,
    /// One line for a human.
    pub message: String,
}

impl Event {
    /// An event that happens now.
    pub fn now(service: Option<&str>, kind: EventKind, message: impl Into<String>) -> Self {
        Self {
            at: SystemTime::now(),
            service: service.map(str::to_string),
            kind,
            message: message.into(),
        }
    }
}

macro_rules! kinds {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        /// The kind of an [`Event`].
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventKind {
            $($(#[$doc])* $variant,)*
            /// A kind this build does not know, kept as written.
            Other(String),
        }

        impl EventKind {
            /// Every kind this build knows.
            pub const ALL: &[EventKind] = &[$(EventKind::$variant,)*];

            /// The stable string.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Other(text) => text,
                }
            }

            /// The kind a string names (unknown strings are [`EventKind::Other`]).
            pub fn parse(text: &str) -> Self {
                match text {
                    $($text => Self::$variant,)*
                    other => Self::Other(other.to_string()),
                }
            }
        }
    };
}

kinds! {
    /// A lifecycle transition (`api: running → backoff (restarting in 1.0s)`).
    State = "state",
    /// A main process started.
    Spawned = "spawned",
    /// A main process ended (code or signal, uptime).
    Exited = "exited",
    /// A main process could not be started.
    SpawnFailed = "spawn-failed",
    /// A scheduled job's run begins (by its schedule, by hand, queued).
    JobStarted = "job-started",
    /// A job's run exited with code 0: its duration.
    JobSucceeded = "job-succeeded",
    /// A job's run failed (exit, timeout, could not start): how, and its last output.
    JobFailed = "job-failed",
    /// A job's run was due while the previous one went on: skipped or queued.
    JobSkipped = "job-skipped",
    /// A job has not succeeded within `missed_after` of being due.
    JobMissed = "job-missed",
    /// A `pre_start`, `post_stop` or `stop.command` ran: how it ended,
    /// and its last output line when it failed.
    Hook = "hook",
    /// Files a service watches changed: it is restarted (`watch`).
    Watch = "watch",
    /// A restart will happen after a backoff.
    RestartScheduled = "restart-scheduled",
    /// The restart budget is spent.
    CrashLoop = "crash-loop",
    /// No check passed within the startup period.
    StartupTimeout = "startup-timeout",
    /// A liveness check failed: the service is restarted.
    LivenessRestart = "liveness-restart",
    /// It exited while a dependency was down: it waits for it, no restart counted.
    DependencyWait = "dependency-wait",
    /// The kernel's OOM killer killed a process of the service (cgroup
    /// mode): the limit and the peak.
    OomKilled = "oom-killed",
    /// Memory passed `memory_max`: the service is restarted.
    MemoryMax = "memory-max",
    /// The stop timeout passed: SIGKILL was sent.
    KillEscalated = "kill-escalated",
    /// Processes survived SIGKILL.
    SurvivedKill = "survived-kill",
    /// Leftovers of a killed daemon, or on the service's port, are stopped.
    Leftover = "leftover",
    /// Processes left behind by services are stopped at exit.
    Orphans = "orphans",
    /// A start, stop or restart asked for.
    Request = "request",
    /// A service's check passes.
    CheckPassing = "check-passing",
    /// A service's check fails.
    CheckFailing = "check-failing",
    /// A service's check has no verdict.
    CheckUnknown = "check-unknown",
    /// A `[checks]` entry changed state.
    Check = "check",
    /// A remediation playbook starts, or one of its steps is about to act.
    Fix = "fix",
    /// A remediation playbook ended: its outcome and report file.
    FixFinished = "fix-finished",
    /// Automatic remediation spent its budget: a person is needed (a
    /// critical alert, with the last diagnosis).
    Escalation = "escalation",
    /// A playbook's `notify` step: a message for people, delivered through
    /// the alert sinks.
    Notify = "notify",
    /// The automatic diagnosis's verdict and bundle.
    Diagnosed = "diagnosed",
    /// The automatic diagnosis could not run.
    DiagnoseFailed = "diagnose-failed",
    /// An alert incident began.
    AlertFired = "alert-fired",
    /// An alert incident ended.
    AlertResolved = "alert-resolved",
    /// An alert was delivered.
    AlertSent = "alert-sent",
    /// An alert could not be delivered.
    AlertFailed = "alert-failed",
    /// Output is being dropped.
    LogDropping = "log-dropping",
    /// Dropped output was accounted for.
    LogDropped = "log-dropped",
    /// Rotation, compression or retention failed.
    LogMaintenance = "log-maintenance",
    /// The config was reloaded.
    Reload = "reload",
    /// A reload failed; the old config stays.
    ReloadFailed = "reload-failed",
    /// The daemon stops every service.
    Shutdown = "shutdown",
    /// A second stop request: everything is killed.
    ShutdownForced = "shutdown-forced",
    /// `state.json` cannot be written.
    StateWriteFailed = "state-write-failed",
    /// A subscriber of the event bus fell too far behind.
    EventsLost = "events-lost",
    /// `events.db` was deleted, replaced or damaged while the daemon ran:
    /// a new history starts (a damaged file is kept aside).
    HistoryReset = "history-reset",
}

impl EventKind {
    /// An alert incident or delivery (the alert engine's own reports).
    pub fn is_alert(&self) -> bool {
        matches!(
            self,
            Self::AlertFired | Self::AlertResolved | Self::AlertSent | Self::AlertFailed
        )
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(Self::parse(&text))
    }
}

/// `SystemTime` as RFC 3339 text, UTC, milliseconds.
pub mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    /// `2026-12-02T10:15:30.123Z`.
    pub fn format(at: SystemTime) -> String {
        humantime::format_rfc3339_millis(at).to_string()
    }

    /// Serialises `at` as [`format`] does.
    pub fn serialize<S: Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*at))
    }

    /// Reads an RFC 3339 time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_rfc3339_weak(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_as_their_strings() {
        for kind in EventKind::ALL {
            assert_eq!(&EventKind::parse(kind.as_str()), kind);
            let json = serde_json::to_string(kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
        }
        let future = EventKind::parse("quantum-flux");
        assert_eq!(future, EventKind::Other("quantum-flux".into()));
        assert_eq!(future.as_str(), "quantum-flux");
    }

    #[test]
    fn an_event_keeps_its_wire_shape() {
        let event = Event {
            at: humantime::parse_rfc3339("2026-12-02T10:15:30.123Z").unwrap(),
            service: Some("api".into()),
            kind: EventKind::CrashLoop,
            message: "api: crash loop".into(),
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"at": "2026-12-02T10:15:30.123Z", "service": "api", "kind": "crash-loop", "message": "api: crash loop"})
        );
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }
}
