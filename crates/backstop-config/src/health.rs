//! Health checks: `[[services.NAME.health]]` and `[checks.NAME]`.
//!
//! A check is one probe (what to test) plus when and how to judge it
//! (interval, timeout, consecutive failures and successes, and whether a
//! failure restarts the service).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::model::EnvVars;

/// One configured health check.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthCheck {
    /// Its name: `name = …`, or the probe kind (`http`, `tcp#2`, …).
    pub name: String,
    /// What it tests.
    pub probe: Probe,
    /// Time between two runs (default 10 s).
    pub interval: Duration,
    /// A run that takes longer fails, saying so (default 2 s).
    pub timeout: Duration,
    /// Consecutive failures before the check counts as failing (default 3).
    pub failures: u32,
    /// Consecutive successes before a failing check counts as passing again (default 1).
    pub successes: u32,
    /// What a failing check does to its service.
    pub on_failure: OnFailure,
}

/// What a failing check does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnFailure {
    /// Only the health changes (a readiness probe).
    Report,
    /// The service is restarted (a liveness probe).
    Restart,
}

impl OnFailure {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Report => "report",
            Self::Restart => "restart",
        }
    }
}

/// What a check tests.
#[derive(Clone, Debug, PartialEq)]
pub enum Probe {
    /// An HTTP request and conditions on its answer.
    Http(HttpProbe),
    /// A TCP connection to `host:port`.
    Tcp {
        /// `host:port`.
        address: String,
    },
    /// A command that must exit 0 within the timeout.
    Exec {
        /// Program and arguments (no shell unless you write `sh -c`).
        command: Vec<String>,
    },
    /// Connect to PostgreSQL and run `SELECT 1`; with limits, also read
    /// `pg_stat_activity` and fail when one is passed.
    Postgres {
        /// `postgres://user:password@host:port/db` (or key=value form).
        dsn: SecretUrl,
        /// `connections_used`, `longest_query`, `blocked`, … (none: ping only).
        limits: PostgresLimits,
    },
    /// Memory and CPU of the service's whole process tree.
    Process(ProcessLimits),
    /// Used space and inodes of the filesystem holding a path.
    Disk {
        /// The path (absolute).
        path: PathBuf,
        /// Fails above this percentage of used space (default 90).
        max_used: f64,
        /// Fails above this percentage of used inodes (default 90).
        max_inodes: f64,
    },
    /// Connect to Redis (AUTH from the URL) and `PING`; with limits, also
    /// read `INFO` and fail when one is passed.
    Redis {
        /// `redis://[user][:password]@host:port[/db]`.
        url: SecretUrl,
        /// `memory_used`, `evicted_keys_per_minute`, … (none: ping only).
        limits: RedisLimits,
    },
}

/// What a PostgreSQL check holds the server to, beyond answering: each
/// written `"< LIMIT"` in the check (`connections_used = "< 80%"`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PostgresLimits {
    /// Connections in use, in percent of `max_connections`, must stay below.
    pub connections_used: Option<f64>,
    /// The longest-running active query must be shorter.
    pub longest_query: Option<Duration>,
    /// Sessions waiting on a lock must be fewer.
    pub blocked: Option<u64>,
    /// A session idle in a transaction must have been so for less.
    pub idle_in_transaction: Option<Duration>,
    /// On a replica, the replay lag must be shorter.
    pub replication_lag: Option<Duration>,
    /// `warn_only = true`: a limit passed makes the check warn (the owner
    /// degraded) instead of fail; a server that does not answer still fails.
    pub warn_only: bool,
}

impl PostgresLimits {
    /// The keys, as written in a check.
    pub const KEYS: [&'static str; 5] = [
        "connections_used",
        "longest_query",
        "blocked",
        "idle_in_transaction",
        "replication_lag",
    ];

    /// True when no limit is set (the check only pings).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// What a Redis check holds the server to, beyond answering.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RedisLimits {
    /// `used_memory` in percent of `maxmemory` must stay below.
    pub memory_used: Option<f64>,
    /// Keys evicted per minute must be fewer.
    pub evicted_keys_per_minute: Option<u64>,
    /// Connections rejected (`maxclients`) per minute must be fewer.
    pub rejected_connections_per_minute: Option<u64>,
    /// Clients blocked (`BLPOP` and the like) must be fewer.
    pub blocked_clients: Option<u64>,
    /// The last RDB save and AOF write must have succeeded.
    pub persistence: bool,
    /// `warn_only = true`: see [`PostgresLimits::warn_only`].
    pub warn_only: bool,
}

impl RedisLimits {
    /// The keys, as written in a check.
    pub const KEYS: [&'static str; 5] = [
        "memory_used",
        "evicted_keys_per_minute",
        "rejected_connections_per_minute",
        "blocked_clients",
        "persistence",
    ];
}

/// `process = { … }`: limits on the service's whole process tree.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessLimits {
    /// Resident memory (bytes) above which the service is degraded.
    pub memory_warn: Option<u64>,
    /// Resident memory (bytes) above which the service is restarted.
    pub memory_max: Option<u64>,
    /// CPU (percent of one core) above which, sustained for `cpu_for`, the service is degraded.
    pub cpu_warn: Option<f64>,
    /// How long `cpu_warn` must hold (default 1 min).
    pub cpu_for: Duration,
    /// Memory that grows steadily over this window is reported as a leak
    /// (default 30 min; `"0s"` turns leak detection off).
    pub leak_window: Duration,
}

/// Parses `"400MB"` (10^6), `"400MiB"` (2^20), `"1.5GB"`, `"512KiB"`, `"800kB"`.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: f64 = match unit.trim() {
        "B" => 1.0,
        "KB" | "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = number * factor;
    (bytes.is_finite() && bytes >= 0.0).then_some(bytes as u64)
}

/// A URL or DSN that may hold a password: shown and debugged redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(pub String);

impl SecretUrl {
    /// The URL with its password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Replaces the password of `scheme://user:password@host` (and of a
/// `password=…` key in a key=value DSN) with `***`.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        if let Some((userinfo, host)) = authority.rsplit_once('@')
            && let Some((user, _password)) = userinfo.split_once(':')
        {
            return format!("{scheme}://{user}:***@{host}{tail}");
        }
        return url.to_string();
    }
    url.split_whitespace()
        .map(|part| match part.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Probe {
    /// `http`, `tcp`, `exec`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Http(_) => "http",
            Self::Tcp { .. } => "tcp",
            Self::Exec { .. } => "exec",
            Self::Postgres { .. } => "postgres",
            Self::Redis { .. } => "redis",
            Self::Disk { .. } => "disk",
            Self::Process(_) => "process",
        }
    }

    /// What it targets, for tables: the URL, the address, the command.
    pub fn target(&self) -> String {
        match self {
            Self::Http(h) => h.url.clone(),
            Self::Tcp { address } => address.clone(),
            Self::Exec { command } => command.join(" "),
            Self::Postgres { dsn, .. } => dsn.redacted(),
            Self::Redis { url, .. } => url.redacted(),
            Self::Disk { path, .. } => path.display().to_string(),
            Self::Process(_) => "process tree".to_string(),
        }
    }
}

/// `http = "…"` and its options.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpProbe {
    /// The URL (`http://` or `https://`).
    pub url: String,
    /// The method (default `GET`).
    pub method: String,
    /// Request headers; values are hidden in `Debug` (they often carry tokens).
    pub headers: EnvVars,
    /// Accepted status codes (default: any 2xx or 3xx).
    pub status: Vec<u16>,
    /// A substring the body must contain.
    pub body: Option<String>,
    /// Conditions on the JSON body, by dotted path.
    pub json: Vec<JsonCondition>,
    /// HTTPS: accept any certificate (self-signed, expired, other name).
    pub insecure: bool,
    /// HTTPS: trust the certificate authorities in this PEM file instead of the system's.
    pub ca_file: Option<PathBuf>,
}

/// `"database.connected" = true`, `"queue.depth" = "< 100"`.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonCondition {
    /// Dotted path into the JSON body; array items by index (`items.0.id`).
    pub path: String,
    /// What the value there must be.
    pub expect: JsonExpect,
}

/// The expectation of a [`JsonCondition`].
#[derive(Clone, Debug, PartialEq)]
pub enum JsonExpect {
    /// Equal to this string.
    String(String),
    /// Equal to this boolean.
    Bool(bool),
    /// Equal to this number.
    Number(f64),
    /// A number compared with `op`.
    Compare(CompareOp, f64),
}

/// A comparison operator in a JSON condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl CompareOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Eq => "==",
            Self::Ne => "!=",
        }
    }

    /// Applies the operator.
    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Self::Lt => left < right,
            Self::Le => left <= right,
            Self::Gt => left > right,
            Self::Ge => left >= right,
            Self::Eq => (left - right).abs() < f64::EPSILON,
            Self::Ne => (left - right).abs() >= f64::EPSILON,
        }
    }
}

/// Parses `"< 60"`, `">=1.5"`; `None` when the text is not a comparison.
pub fn parse_comparison(text: &str) -> Option<(CompareOp, f64)> {
    let text = text.trim();
    let (op, rest) = [
        ("<=", CompareOp::Le),
        (">=", CompareOp::Ge),
        ("==", CompareOp::Eq),
        ("!=", CompareOp::Ne),
        ("<", CompareOp::Lt),
        (">", CompareOp::Gt),
    ]
    .into_iter()
    .find_map(|(sym, op)| text.strip_prefix(sym).map(|rest| (op, rest)))?;
    rest.trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .map(|n| (op, n))
}

/// `[checks.NAME]`: a check of something backstop does not run.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckConfig {
    /// The table name.
    pub name: String,
    /// The check (its `on_failure` is always `Report`).
    pub check: HealthCheck,
    /// Working directory of an exec probe (the config file's directory).
    pub dir: PathBuf,
    /// Extra environment of an exec probe.
    pub env: EnvVars,
    /// How urgent its failure is, for alerts (default warning).
    pub severity: crate::alerts::AlertSeverity,
}

/// Header names and values, for [`HttpProbe::headers`].
pub type Headers = BTreeMap<String, String>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_powers_of_ten_and_two() {
        assert_eq!(parse_size("400MB"), Some(400_000_000));
        assert_eq!(parse_size("400MiB"), Some(400 * 1024 * 1024));
        assert_eq!(parse_size("1.5GB"), Some(1_500_000_000));
        assert_eq!(parse_size("512 KiB"), Some(512 * 1024));
        assert_eq!(parse_size("800kB"), Some(800_000));
        assert_eq!(parse_size("400"), None, "a bare number is ambiguous");
        assert_eq!(parse_size("400mb"), None);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/app"),
            "postgres://app:***@db:5432/app"
        );
        assert_eq!(
            redact_url("redis://:s3cret@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        assert_eq!(redact_url("postgres://app@db/app"), "postgres://app@db/app");
        assert_eq!(
            redact_url("host=db user=app password=s3cret"),
            "host=db user=app password=***"
        );
        let p = Probe::Postgres {
            dsn: SecretUrl("postgres://a:pw@h/d".into()),
            limits: PostgresLimits::default(),
        };
        assert!(!format!("{p:?}").contains("pw"));
        assert_eq!(p.target(), "postgres://a:***@h/d");
    }

    #[test]
    fn comparisons() {
        assert_eq!(parse_comparison("< 60"), Some((CompareOp::Lt, 60.0)));
        assert_eq!(parse_comparison("<=480"), Some((CompareOp::Le, 480.0)));
        assert_eq!(parse_comparison(" != 0 "), Some((CompareOp::Ne, 0.0)));
        assert_eq!(parse_comparison("healthy"), None);
        assert_eq!(parse_comparison("< soon"), None);
        assert!(CompareOp::Ge.holds(3.0, 3.0));
        assert!(!CompareOp::Lt.holds(60.0, 60.0));
    }
}
