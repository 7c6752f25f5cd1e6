//! Remediation over the API: `POST /api/v1/services/{name}/fix`.
//!
//! The daemon runs playbooks in a task of its own (never in the supervision
//! loop: a playbook waits minutes for a service to be healthy). The route
//! hands it a [`FixCommand`] and answers with the [`FixReport`] once the
//! playbook is done; while it runs, `status` shows `fixing` and every step
//! is an event.

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

/// `POST /api/v1/services/{name}/fix` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FixRequest {
    /// The playbook (`clean-restart`, `free-port`, or one of `[playbooks]`).
    pub playbook: String,
    /// Say what would happen, change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// How a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StepOutcome {
    /// It did what it should.
    Done,
    /// It failed; the playbook went on (`on_error = "continue"`) or ended.
    Failed,
    /// An earlier step failed and ended the playbook.
    Skipped,
    /// A dry run: what it would do.
    Planned,
}

/// One step of a [`FixReport`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepReport {
    /// 1, 2, …
    pub number: usize,
    /// The action (`kill-leftovers`).
    pub action: String,
    /// How it ended.
    pub outcome: StepOutcome,
    /// What it did, or would do, or why it failed.
    pub detail: String,
    /// What it printed or found, a line each (pids with command lines,
    /// files with sizes, a command's output).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub lines: Vec<String>,
    /// How long it took.
    pub duration_ms: u64,
}

/// What a playbook did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FixReport {
    /// The service fixed.
    pub service: String,
    /// The playbook run.
    pub playbook: String,
    /// Nothing was changed.
    pub dry_run: bool,
    /// Every step, in order.
    pub steps: Vec<StepReport>,
    /// Every step succeeded (for a run with a `verify` or `wait-healthy`
    /// step: the service was seen healthy).
    pub ok: bool,
    /// The report as a file (JSON), beside the diagnostic bundles.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub report_file: Option<String>,
}

/// Why a fix cannot run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FixError {
    /// No service has that name.
    #[error("no service named `{0}`")]
    NoSuchService(String),
    /// No playbook has that name.
    #[error("no playbook named `{name}`; the playbooks are: {}", known.join(", "))]
    NoSuchPlaybook {
        /// The name asked for.
        name: String,
        /// The playbooks there are.
        known: Vec<String>,
    },
    /// A playbook already runs on that service.
    #[error(
        "`{playbook}` is already running on `{service}`; wait for it (`backstop events --kind fix`)"
    )]
    Busy {
        /// The service.
        service: String,
        /// The playbook running.
        playbook: String,
    },
    /// The config file cannot be read now.
    #[error("the config does not load, so no playbook can be read: {0}")]
    Config(String),
    /// The daemon is stopping.
    #[error("the daemon is shutting down")]
    ShuttingDown,
    /// The diagnosis could not be made (it timed out, or failed).
    #[error("the diagnosis failed: {0}")]
    DiagnoseFailed(String),
}

/// A fix asked for, with where its report goes.
#[derive(Debug)]
pub struct FixCommand {
    /// The service.
    pub service: String,
    /// What to run.
    pub request: FixRequest,
    /// Who asked, when it was not a person: `rule when memory-max → clean-restart`.
    pub by: Option<String>,
    /// The report, once done.
    pub reply: oneshot::Sender<Result<FixReport, FixError>>,
}

/// The sending side, held by the routes.
pub type FixSender = mpsc::Sender<FixCommand>;

/// A diagnosis asked for over the API: the answer is the document
/// `backstop diagnose SERVICE --json` prints (verdict, causes with their
/// evidence, bundle path).
#[derive(Debug)]
pub struct DiagnoseCommand {
    /// The service.
    pub service: String,
    /// The document, once done.
    pub reply: oneshot::Sender<Result<serde_json::Value, FixError>>,
}

/// The sending side of diagnoses, held by the routes.
pub type DiagnoseSender = mpsc::Sender<DiagnoseCommand>;
