//! `[alerts]`: who is told when something goes wrong, and when.

use std::time::Duration;

/// How urgent an alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertSeverity {
    /// Track trends.
    Info,
    /// Investigate soon.
    Warning,
    /// Act now.
    Critical,
}

impl AlertSeverity {
    /// `info`, `warning`, `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// `[alerts]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertsConfig {
    /// Re-notify an incident still firing after this long (default 4 h).
    pub repeat: Duration,
    /// A warning when a service restarts more often than this in an hour (default 5).
    pub restarts_per_hour: u32,
    /// A warning when a service writes more error lines than this in a minute (default 10).
    pub error_lines_per_minute: u32,
    /// A warning when the state directory's filesystem (logs, events) is
    /// fuller than this, in percent (default 90).
    pub disk_used_percent: u32,
    /// Where alerts go.
    pub sinks: Vec<SinkConfig>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            repeat: Duration::from_secs(4 * 3600),
            restarts_per_hour: 5,
            error_lines_per_minute: 10,
            disk_used_percent: 90,
            sinks: Vec::new(),
        }
    }
}

/// `[alerts.sinks.NAME]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkConfig {
    /// The table name.
    pub name: String,
    /// Where and how.
    pub kind: SinkKind,
    /// Only alerts at least this severe (default `info`: all).
    pub min_severity: AlertSeverity,
    /// How long one attempt may take (default 10 s): an answer, or the
    /// command's exit.
    pub timeout: std::time::Duration,
}

/// A sink attempt's limit when the sink does not set `timeout`.
pub const SINK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A destination for alerts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkKind {
    /// POST a JSON document to a URL.
    Webhook {
        /// The URL (http or https).
        url: String,
        /// Slack-compatible `{"text": …}` instead of backstop's JSON.
        slack: bool,
    },
    /// Run a program: the alert in `BACKSTOP_ALERT_*` variables and as
    /// JSON on its standard input (to send mail, page, …).
    Command {
        /// Program and arguments.
        command: Vec<String>,
        /// Its working directory (the config file's).
        dir: std::path::PathBuf,
    },
    /// POST to an Alertmanager's `/api/v2/alerts`.
    Alertmanager {
        /// The Alertmanager's base URL, e.g. `http://127.0.0.1:9093`.
        url: String,
    },
}
