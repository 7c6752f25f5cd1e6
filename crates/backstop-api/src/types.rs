//! The wire types: what the daemon says about its services and itself.
//!
//! Field names here are a public contract (`status --json`, the HTTP API):
//! add fields freely, never rename or remove one.

use serde::{Deserialize, Serialize};

/// The lifecycle state of a service. Names are stable (see docs/architecture.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceState {
    /// Waiting for its dependencies.
    Pending,
    /// Spawned; not yet known to be ready.
    Starting,
    /// Up.
    Running,
    /// Waiting to be restarted.
    Backoff,
    /// Restart budget spent: no more restarts until started by hand.
    CrashLoop,
    /// Alive, but never became healthy within its `startup` period.
    StartupTimeout,
    /// Being stopped.
    Stopping,
    /// Stopped (or never started).
    Stopped,
    /// Finished on its own with success.
    Exited,
    /// Could not be started, or finished with a failure and will not be restarted.
    Failed,
}

impl ServiceState {
    /// The stable name, e.g. `crash-loop`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Backoff => "backoff",
            Self::CrashLoop => "crash-loop",
            Self::StartupTimeout => "startup-timeout",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
            Self::Exited => "exited",
            Self::Failed => "failed",
        }
    }

    /// True while a process of the service may be alive.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Self::Starting | Self::Running | Self::StartupTimeout | Self::Stopping
        )
    }
}

impl std::fmt::Display for ServiceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The health of a service, separate from its state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    /// Every probe passes.
    Healthy,
    /// It works, with a problem (e.g. a dependency is down).
    Degraded,
    /// A probe fails.
    Unhealthy,
    /// No probe result yet, or no probe.
    Unknown,
}

impl Health {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Unhealthy => "unhealthy",
            Self::Unknown => "unknown",
        }
    }
}

/// How a process ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExitInfo {
    /// Exit code, when it exited.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub code: Option<i32>,
    /// Signal name (e.g. `SIGKILL`), when a signal killed it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub signal: Option<String>,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// How long the process had run, in seconds.
    pub uptime_s: f64,
    /// The kernel's OOM killer did it (cgroup mode): `oom-kill at 64.0 MB, peak 64.0 MB`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub oom_kill: Option<String>,
}

impl ExitInfo {
    /// `code 1`, `SIGKILL`, `SIGKILL (oom-kill at 64.0 MB, peak 64.0 MB)`.
    pub fn describe(&self) -> String {
        match (&self.code, &self.signal) {
            (_, Some(sig)) if self.oom_kill.is_some() => {
                format!("{sig} ({})", self.oom_kill.as_deref().unwrap_or_default())
            }
            (_, Some(sig)) => sig.clone(),
            (Some(code), None) => format!("code {code}"),
            (None, None) => "unknown".to_string(),
        }
    }
}

/// One service as `status` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceStatus {
    /// Service name.
    pub name: String,
    /// Lifecycle state.
    pub state: ServiceState,
    /// Health.
    pub health: Health,
    /// Main process id, while one runs.
    pub pid: Option<u32>,
    /// Seconds since the current process started.
    pub uptime_s: Option<u64>,
    /// Restarts since the service was last started by hand.
    pub restarts: u32,
    /// The last exit.
    pub last_exit: Option<ExitInfo>,
    /// Resident memory of the whole process tree, in bytes.
    pub rss_bytes: Option<u64>,
    /// Why the service is in its state, when there is more to say
    /// (`waiting for db (healthy)`, `port 8000 is held by pid 42 …`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    /// Seconds until the next restart attempt, in `backoff`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub restart_in_s: Option<f64>,
    /// Every exit still remembered, oldest first (only in the single-service view).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub exits: Vec<ExitInfo>,
    /// The service's health checks and their last results.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub checks: Vec<CheckResult>,
    /// CPU time used so far by the live processes of its tree, in seconds.
    /// Memory and CPU figures are measured at most 2 s before the answer
    /// (one measurement serves every request in those 2 s).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cpu_seconds: Option<f64>,
    /// CPU use between the last two measurements of this process, in % of
    /// one core (100 = one core busy).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cpu_percent: Option<f64>,
    /// Exits since the daemon started, by reason (`code 1`, `SIGKILL`).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty", default)]
    pub exit_counts: std::collections::BTreeMap<String, u64>,
    /// What its output says: lines captured and error signals.
    #[serde(default)]
    pub output: OutputStats,
    /// The verdict of the daemon's automatic diagnosis of its last crash
    /// loop or startup timeout (`missing-module: … (bundle: PATH)`), until
    /// it starts again.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub diagnosis: Option<String>,
    /// The playbook running on it now (`clean-restart, step 4/7: start`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fixing: Option<String>,
    /// `disabled = true`: kept off on purpose; at rest, it does not count
    /// against the daemon's overall health.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub disabled: bool,
}

/// A service's captured output, counted since the daemon started.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutputStats {
    /// Lines captured.
    pub lines: u64,
    /// Error incidents (a multi-line traceback counts once).
    pub errors: u64,
    /// Error incidents in the last 60 seconds.
    pub errors_last_minute: u32,
    /// The first line of the latest error incident.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_error: Option<ErrorLine>,
}

/// One error line and when it was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorLine {
    /// RFC 3339 time.
    pub at: String,
    /// The line (at most 300 bytes).
    pub line: String,
}

/// One health check as the daemon last saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckResult {
    /// The check's name.
    pub name: String,
    /// `http`, `tcp`, `exec`.
    pub kind: String,
    /// `passing`, `failing` (after `failures` in a row) or `unknown`.
    pub state: String,
    /// Whether the last run passed.
    pub passed: Option<bool>,
    /// Failures in a row so far.
    pub fails_in_a_row: u32,
    /// Latency of the last run.
    pub latency_ms: Option<u64>,
    /// The last run's one-line detail.
    pub detail: Option<String>,
    /// When the last run ended (RFC 3339).
    pub at: Option<String>,
    /// For a `[checks]` entry: the severity of its alert when it fails.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub severity: Option<String>,
}

/// The daemon itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DaemonInfo {
    /// Its process id.
    pub pid: u32,
    /// The config file it runs.
    pub config: String,
    /// backstop's version.
    pub version: String,
    /// Seconds since it started.
    pub uptime_s: u64,
    /// How services are tracked: `cgroup v2`, `cgroup hybrid (…)`, or
    /// `process tree (no cgroups: why)`.
    #[serde(default)]
    pub tracking: String,
}

/// `GET /api/v1/services`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusReport {
    /// The daemon.
    pub daemon: DaemonInfo,
    /// Every configured service, in config order.
    pub services: Vec<ServiceStatus>,
    /// The `[checks]` entries (things backstop does not run) and their last results.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub checks: Vec<CheckResult>,
    /// The scheduled jobs (`[jobs.NAME]`): last and next run.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub jobs: Vec<JobStatus>,
}

/// One scheduled job (`[jobs.NAME]`, run as `job:NAME`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobStatus {
    /// The job's name as the file declares it (`backup`).
    pub name: String,
    /// The name its logs, events and processes carry (`job:backup`).
    pub runs_as: String,
    /// When it runs, in words: `0 2 * * * (Europe/Berlin)`, `every 6h`.
    pub schedule: String,
    /// `stopped` between runs; `pending`, `starting`, `running` or
    /// `stopping` while one goes on.
    pub state: ServiceState,
    /// The main process of the run under way.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pid: Option<u32>,
    /// When the run under way began (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub running_since: Option<String>,
    /// When it is due next (RFC 3339); none when the schedule never matches again.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub next_run: Option<String>,
    /// The last run that ended.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_run: Option<JobRunReport>,
    /// When a run last succeeded (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_success: Option<String>,
    /// Runs since the daemon started.
    pub runs: u64,
    /// Failed runs (non-zero exit, timeout, could not start) since the daemon started.
    pub failures: u64,
    /// Runs skipped because the previous one still went on (`concurrency = "skip"`).
    pub skipped: u64,
    /// A run waits for the one under way (`concurrency = "queue"`).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub queued: bool,
    /// No run succeeded within `missed_after` of being due (`job-missed`).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub missed: bool,
}

/// How one run of a job went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobRunReport {
    /// `succeeded` or `failed`.
    pub result: JobResult,
    /// What started it: `schedule`, `manual` (`backstop run-job`) or `queued`.
    pub trigger: String,
    /// When it was started (RFC 3339).
    pub started: String,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// How it ended: `exit 0`, `exit 3`, `SIGKILL`, `timed out after 10s`,
    /// `could not start: …`.
    pub ended: String,
    /// Its last output lines (redacted).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub output: Vec<String>,
}

/// A run's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum JobResult {
    /// It exited with code 0.
    Succeeded,
    /// It exited otherwise, timed out, was stopped or could not start.
    Failed,
}

impl JobResult {
    /// The word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

/// What can be asked of one service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceAction {
    /// Start it (and, first, what it depends on).
    Start,
    /// Stop it.
    Stop,
    /// Stop it, then start it.
    Restart,
}

impl ServiceAction {
    /// The verb.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Restart => "restart",
        }
    }
}

/// The answer to an action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActionOutcome {
    /// The service.
    pub service: String,
    /// Its state right after the request was taken.
    pub state: ServiceState,
}

/// `POST /api/v1/services/{name}/scale`: how many copies to run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScaleRequest {
    /// 1 … 256.
    pub instances: u32,
}

/// The answer to a reload.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReloadOutcome {
    /// Services added.
    pub added: Vec<String>,
    /// Services removed (and stopped).
    pub removed: Vec<String>,
    /// Services whose definition changed (and were restarted).
    pub changed: Vec<String>,
    /// Services that took new settings without a restart (health checks,
    /// restart and stop policies, startup grace, logs).
    #[serde(default)]
    pub updated: Vec<String>,
}

/// Any error answer: `{"error": "…"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// For the operator.
    pub error: String,
}

/// `GET /api/v1/events` query parameters (all optional).
#[derive(
    Clone,
    Debug,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    utoipa::IntoParams,
)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    /// Only this service's events.
    pub service: Option<String>,
    /// Only since: a duration ago (`1h`) or an RFC 3339 time.
    pub since: Option<String>,
    /// Only these kinds, comma-separated (`exited,crash-loop`).
    pub kind: Option<String>,
    /// At most this many, the newest.
    pub limit: Option<usize>,
}

/// `GET /health`: the whole system at a glance, for `curl -f` and load balancers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HealthReport {
    /// `healthy`, `degraded` or `unhealthy` (the worst of the services and checks).
    pub status: Health,
    /// One entry per service.
    pub services: Vec<ServiceHealth>,
    /// `[checks]` entries and their last results.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub checks: Vec<CheckResult>,
}

/// One service in [`HealthReport`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceHealth {
    /// Service name.
    pub name: String,
    /// Lifecycle state.
    pub state: ServiceState,
    /// Health.
    pub health: Health,
    /// Main process id.
    pub pid: Option<u32>,
    /// Seconds up.
    pub uptime_s: Option<u64>,
    /// Restarts.
    pub restarts: u32,
    /// Resident memory of the process tree, in MB (10^6 bytes).
    pub memory_mb: Option<f64>,
    /// Its checks' last results.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub checks: Vec<CheckResult>,
}

impl HealthReport {
    /// Summarises a status report: each service with the health `status`
    /// shows, the whole by [`counts_as`]; a failing `[checks]` entry makes
    /// the whole degraded (unhealthy when `critical`).
    pub fn from_status(report: &StatusReport) -> Self {
        let services: Vec<ServiceHealth> = report
            .services
            .iter()
            .map(|s| ServiceHealth {
                name: s.name.clone(),
                state: s.state,
                // As `status` shows it: one value everywhere.
                health: s.health,
                pid: s.pid,
                uptime_s: s.uptime_s,
                restarts: s.restarts,
                memory_mb: s.rss_bytes.map(|b| (b as f64 / 1e5).round() / 10.0),
                checks: s.checks.clone(),
            })
            .collect();
        let mut status = Health::Healthy;
        for s in &report.services {
            status = worse(status, counts_as(s));
        }
        for c in report.checks.iter().filter(|c| c.state == "failing") {
            // A `[checks]` entry of severity `critical` is as bad as a service down.
            let critical = c.severity.as_deref() == Some("critical");
            status = worse(
                status,
                if critical {
                    Health::Unhealthy
                } else {
                    Health::Degraded
                },
            );
        }
        Self {
            status,
            services,
            checks: report.checks.clone(),
        }
    }
}

/// `GET /health` without the token on TCP: states and health names only.
///
/// Any local user can reach a loopback port, so what is served there
/// without the token is what a load balancer needs and nothing more: no
/// pids, no check details (a probe's detail may quote a URL, a response
/// body or a command's output).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicHealth {
    /// `healthy`, `degraded` or `unhealthy`.
    pub status: Health,
    /// One entry per service.
    pub services: Vec<PublicServiceHealth>,
    /// `[checks]` entries: name and state.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub checks: Vec<PublicCheck>,
}

/// One service in [`PublicHealth`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicServiceHealth {
    /// Service name.
    pub name: String,
    /// Lifecycle state.
    pub state: ServiceState,
    /// Health.
    pub health: Health,
}

/// One `[checks]` entry in [`PublicHealth`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicCheck {
    /// Check name.
    pub name: String,
    /// `passing`, `warning`, `failing` or `unknown`.
    pub state: String,
}

impl From<&HealthReport> for PublicHealth {
    fn from(full: &HealthReport) -> Self {
        Self {
            status: full.status,
            services: full
                .services
                .iter()
                .map(|s| PublicServiceHealth {
                    name: s.name.clone(),
                    state: s.state,
                    health: s.health,
                })
                .collect(),
            checks: full
                .checks
                .iter()
                .map(|c| PublicCheck {
                    name: c.name.clone(),
                    state: c.state.clone(),
                })
                .collect(),
        }
    }
}

/// What a service adds to the overall health: a running one its checks'
/// verdict (without checks: fine), a starting one at least `degraded`, a
/// finished one-shot job nothing, one kept off on purpose (`disabled`)
/// nothing; any other not running (stopped, failed, crash loop, backoff,
/// startup timeout) makes the whole unhealthy: it cannot serve.
fn counts_as(s: &ServiceStatus) -> Health {
    match s.state {
        ServiceState::Running => match s.health {
            Health::Unknown => Health::Healthy,
            h => h,
        },
        ServiceState::Starting => match s.health {
            Health::Unknown | Health::Healthy => Health::Degraded,
            h => h,
        },
        ServiceState::Exited => Health::Healthy,
        ServiceState::Stopped | ServiceState::Pending | ServiceState::Stopping if s.disabled => {
            Health::Healthy
        }
        _ => Health::Unhealthy,
    }
}

fn worse(a: Health, b: Health) -> Health {
    let rank = |h: Health| match h {
        Health::Healthy | Health::Unknown => 0,
        Health::Degraded => 1,
        Health::Unhealthy => 2,
    };
    if rank(b) > rank(a) { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(severity: &str, state: &str) -> CheckResult {
        CheckResult {
            name: format!("{severity}-check"),
            kind: "http".into(),
            state: state.into(),
            passed: Some(state != "failing"),
            fails_in_a_row: 0,
            latency_ms: None,
            detail: Some("HTTP 503 from http://user:pw@db/".into()),
            at: None,
            severity: Some(severity.into()),
        }
    }

    fn report(checks: Vec<CheckResult>) -> StatusReport {
        StatusReport {
            jobs: Vec::new(),
            daemon: DaemonInfo {
                pid: 1,
                config: "backstop.toml".into(),
                version: "0".into(),
                uptime_s: 0,
                tracking: String::new(),
            },
            services: Vec::new(),
            checks,
        }
    }

    #[test]
    fn a_failing_check_degrades_and_a_critical_one_makes_unhealthy() {
        let warn = HealthReport::from_status(&report(vec![check("warning", "failing")]));
        assert_eq!(warn.status, Health::Degraded);
        let crit = HealthReport::from_status(&report(vec![
            check("warning", "passing"),
            check("critical", "failing"),
        ]));
        assert_eq!(crit.status, Health::Unhealthy);
    }

    #[test]
    fn the_public_health_has_names_and_states_only() {
        let full = HealthReport::from_status(&report(vec![check("critical", "failing")]));
        let public = serde_json::to_value(PublicHealth::from(&full)).unwrap();
        assert_eq!(
            public,
            serde_json::json!({"status": "unhealthy", "services": [], "checks": [{"name": "critical-check", "state": "failing"}]})
        );
    }
}
