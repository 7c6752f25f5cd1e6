//! The requests the API hands to the daemon's supervision loop.
//!
//! The HTTP layer owns no state: each route sends a [`Control`] message over a
//! channel and awaits the reply. The supervision loop is the only owner of
//! service state, so there is no lock to get wrong.

use tokio::sync::{mpsc, oneshot};

use crate::types::{ActionOutcome, ReloadOutcome, ServiceAction, ServiceStatus, StatusReport};

/// A request to the supervision loop, with the channel for its answer.
#[derive(Debug)]
pub enum Control {
    /// Report every service.
    Status {
        /// Where the report goes.
        reply: oneshot::Sender<StatusReport>,
    },
    /// Report every service without measuring memory (no /proc scan): for
    /// the daemon's own periodic use, such as alert rules.
    Brief {
        /// Where the report goes.
        reply: oneshot::Sender<StatusReport>,
    },
    /// Report one service in detail (with its exit history).
    Service {
        /// Its name.
        name: String,
        /// `None` when no service has that name.
        reply: oneshot::Sender<Option<ServiceStatus>>,
    },
    /// Start, stop or restart a service.
    Act {
        /// Its name.
        name: String,
        /// What to do.
        action: ServiceAction,
        /// The outcome, or why it cannot be done.
        reply: oneshot::Sender<Result<ActionOutcome, ActError>>,
    },
    /// Run a service as this many copies (`backstop scale`), until the
    /// daemon restarts or the file's `instances` of it changes.
    Scale {
        /// The service as the config declares it (`api`, not `api.2`).
        name: String,
        /// How many copies.
        instances: u32,
        /// What was added and removed, or why it cannot be done.
        reply: oneshot::Sender<Result<ReloadOutcome, ScaleError>>,
    },
    /// Re-read the config file and apply what changed.
    Reload {
        /// The outcome, or the rendered config errors.
        reply: oneshot::Sender<Result<ReloadOutcome, String>>,
    },
    /// The automatic diagnosis of a service found this (shown in its
    /// status until it starts again). Answered once the status shows it, so
    /// that whoever sees the `diagnosed` event published after finds it there.
    Diagnosed {
        /// The service.
        service: String,
        /// `CAUSE-ID: summary (bundle: PATH)`.
        verdict: String,
        /// Answered when the status holds the verdict.
        reply: oneshot::Sender<()>,
    },
    /// A playbook runs on a service (`Some("clean-restart, step 4/7: start")`),
    /// or no longer does (`None`): shown in its status. No answer.
    Fixing {
        /// The service.
        service: String,
        /// What runs.
        doing: Option<String>,
    },
    /// Rotate a service's log files larger than `above` bytes now.
    RotateLogs {
        /// The service.
        service: String,
        /// Only files larger than this.
        above: u64,
        /// What they became (answered by the log writer's thread).
        reply: std::sync::mpsc::Sender<Vec<std::path::PathBuf>>,
    },
    /// Stop every service, then the daemon.
    Shutdown {
        /// Answered once the shutdown has begun.
        reply: oneshot::Sender<()>,
    },
}

/// Why a start, stop or restart cannot be done.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActError {
    /// No service has that name.
    #[error("no service named `{name}`; the services are: {}", known.join(", "))]
    NoSuchService {
        /// The name asked for.
        name: String,
        /// The services there are.
        known: Vec<String>,
    },
    /// The daemon is stopping everything.
    #[error("the daemon is shutting down")]
    ShuttingDown,
}

/// Why a service cannot be scaled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScaleError {
    /// No declared service has that name.
    #[error("no service named `{name}`; the services are: {}", known.join(", "))]
    NoSuchService {
        /// The name asked for.
        name: String,
        /// The declared services.
        known: Vec<String>,
    },
    /// A copy's name, not the service's.
    #[error("`{name}` is one copy of `{group}`: scale `{group}`")]
    Copy {
        /// The name asked for.
        name: String,
        /// The service it is a copy of.
        group: String,
    },
    /// Out of 1 …= MAX.
    #[error("{instances} instances: expected 1 to {max}")]
    OutOfRange {
        /// The count asked for.
        instances: u32,
        /// The most there may be.
        max: u32,
    },
    /// The daemon is stopping everything.
    #[error("the daemon is shutting down")]
    ShuttingDown,
}

/// The sending side, held by the HTTP routes.
pub type ControlSender = mpsc::Sender<Control>;
