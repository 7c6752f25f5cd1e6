//! The control API between the backstop daemon and its clients.
//!
//! The process boundary is the crate boundary: the CLI and the daemon share
//! only what is here, the wire types, the [`Control`] requests the HTTP
//! routes hand to the supervision loop, the axum [`router`], and the
//! [`Client`] the CLI uses over the unix socket.

mod bus;
mod client;
mod control;
pub mod dashboard;
mod event;
mod fix;
mod pipe_signal;
mod server;
pub mod socket_path;
mod types;

pub use bus::{EventBus, Redact, SUBSCRIBER_LIMIT, Subscription};
pub use client::{Client, ClientError};
pub use control::{ActError, Control, ControlSender, ScaleError};
pub use event::{Event, EventKind, rfc3339};
pub use fix::{
    DiagnoseCommand, DiagnoseSender, FixCommand, FixError, FixReport, FixRequest, FixSender,
    StepOutcome, StepReport,
};
pub mod metrics;
pub mod openapi;
pub mod usage;
pub use server::{AppState, EventQueryError, EventSource, router, serve_tcp, serve_unix};
pub use types::*;
