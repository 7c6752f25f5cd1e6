//! The typed configuration: what a valid `backstop.toml` means.
//!
//! These types are produced only by the loader ([`crate::load`]), after every
//! check passed, so the rest of backstop can trust them: paths are absolute,
//! durations parsed, dependencies exist and form no cycle.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A whole, validated configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Absolute path of the config file.
    pub path: PathBuf,
    /// The directory relative paths are resolved against (the file's directory).
    pub base_dir: PathBuf,
    /// Daemon-wide settings (`[daemon]`).
    pub daemon: DaemonConfig,
    /// The services, in the order the file declares them, then the
    /// scheduled jobs (`[jobs.NAME]`, run as `job:NAME`; see
    /// [`ServiceConfig::is_job`] and [`Config::supervised`]).
    pub services: Vec<ServiceConfig>,
    /// The services as the file declares them, before `instances` makes
    /// copies of some (`services` is what runs).
    pub declared: Vec<ServiceConfig>,
    /// Checks of things backstop does not run (`[checks.NAME]`).
    pub checks: Vec<crate::health::CheckConfig>,
    /// How much event history is kept (`[events]`).
    pub events: EventsConfig,
    /// Who is told about incidents (`[alerts]`).
    pub alerts: crate::alerts::AlertsConfig,
    /// Remediation playbooks defined in the file (`[playbooks.NAME]`).
    pub playbooks: Vec<crate::playbooks::Playbook>,
    /// Automatic remediation rules (`[[remediate]]`), in the file's order.
    pub remediate: Vec<crate::remediate::RemediateRule>,
}

/// `[events]`: retention of the event history in `events.db`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventsConfig {
    /// Events older than this are deleted (default 30 days).
    pub max_age: Duration,
    /// At most this many events are kept (default 100 000).
    pub max_events: u64,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(30 * 86_400),
            max_events: 100_000,
        }
    }
}

impl Config {
    /// The services without the scheduled jobs: what runs all the time.
    pub fn supervised(&self) -> impl Iterator<Item = &ServiceConfig> {
        self.services.iter().filter(|s| !s.is_job())
    }

    /// The scheduled jobs (`job:NAME`).
    pub fn jobs(&self) -> impl Iterator<Item = &ServiceConfig> {
        self.services.iter().filter(|s| s.is_job())
    }

    /// The service called `name`.
    pub fn service(&self, name: &str) -> Option<&ServiceConfig> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The services `name` stands for: the service of that name, or every
    /// copy of a service with `instances` (`api` → `api.1`, `api.2`).
    pub fn members(&self, name: &str) -> Vec<&ServiceConfig> {
        if let Some(s) = self.service(name) {
            return vec![s];
        }
        self.services
            .iter()
            .filter(|s| s.instance.as_ref().is_some_and(|i| i.group == name))
            .collect()
    }

    /// This config with `group` run as `count` copies (`backstop scale`);
    /// `None` when no declared service is called `group`.
    pub fn scaled(&self, group: &str, count: u32) -> Option<Self> {
        let mut new = self.clone();
        let declared = new.declared.iter_mut().find(|s| s.name == group)?;
        declared.instances = Some(count);
        new.services = crate::instances::expand(&new.declared);
        Some(new)
    }

    /// The playbook called `name`: the file's, else a built-in one.
    pub fn playbook(&self, name: &str) -> Option<crate::playbooks::Playbook> {
        self.playbooks
            .iter()
            .find(|p| p.name == name)
            .cloned()
            .or_else(|| {
                crate::playbooks::builtin()
                    .into_iter()
                    .find(|p| p.name == name)
            })
    }

    /// Every playbook's name: the file's, then the built-in ones not replaced.
    pub fn playbook_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.playbooks.iter().map(|p| p.name.clone()).collect();
        for p in crate::playbooks::builtin() {
            if !names.contains(&p.name) {
                names.push(p.name);
            }
        }
        names
    }
}

/// `[daemon]`: where backstop keeps its state, and where it listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonConfig {
    /// The state directory (default `.backstop/` next to the config file).
    pub state_dir: PathBuf,
    /// Also serve the HTTP API on this TCP address.
    pub listen: Option<std::net::SocketAddr>,
    /// Where the API's bearer token comes from.
    pub token: Option<TokenSource>,
    /// Give each service a cgroup where the host allows it (default true;
    /// `false` tracks services by their process tree only).
    pub cgroups: bool,
}

/// Where the bearer token of the TCP API is read from (at daemon start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// A file holding the token (surrounding whitespace is ignored).
    File(PathBuf),
    /// An environment variable of the daemon.
    Env(String),
}

/// `[services.NAME]`: one supervised program.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceConfig {
    /// The table name, e.g. `api`.
    pub name: String,
    /// Program and arguments (a string in the file is split like a shell would).
    pub command: Vec<String>,
    /// Working directory (absolute).
    pub dir: PathBuf,
    /// Variables set on top of the inherited environment and the env file.
    pub env: EnvVars,
    /// A dotenv file read at each start (absolute).
    pub env_file: Option<PathBuf>,
    /// Run as this user (only when backstop runs as root).
    pub user: Option<String>,
    /// Run with this group (default: the user's primary group).
    pub group: Option<String>,
    /// How the service is stopped.
    pub stop: StopConfig,
    /// Services that must reach a condition before this one starts.
    pub depends_on: Vec<Dependency>,
    /// What happens when the service exits on its own.
    pub restart: RestartConfig,
    /// The TCP port the service listens on, checked before each start.
    pub port: Option<u16>,
    /// Grace period after a start before liveness failures count.
    pub startup: Option<Duration>,
    /// Health checks (`[[services.NAME.health]]`).
    pub health: Vec<crate::health::HealthCheck>,
    /// How its output is kept (`[logs]` with the service's `logs` on top).
    pub logs: crate::logs::LogSettings,
    /// Shell command lines `diagnose` runs to test what a start needs
    /// (`python -c 'import main'`), with the service's env, dir and user.
    pub preflight: Vec<String>,
    /// Resource limits (`limits = { … }`); the sampled ones also appear in
    /// `health` as a check named `limits`.
    pub limits: crate::limits::Limits,
    /// `disabled = true`: `up` leaves it stopped; `backstop start NAME` starts it.
    pub disabled: bool,
    /// `pre_start`: run before each start; a failure is a failed start.
    pub pre_start: Option<crate::hooks::Hook>,
    /// `post_stop`: run after each stop or exit; a failure is an event.
    pub post_stop: Option<crate::hooks::Hook>,
    /// `watch`: restart when these files change (development).
    pub watch: Option<crate::watch::Watch>,
    /// `instances = N` as declared: run N copies (`NAME.1` … `NAME.N`).
    pub instances: Option<u32>,
    /// Which copy this is, for a service expanded from `instances`.
    pub instance: Option<crate::instances::Instance>,
    /// `[jobs.NAME]`: this is a scheduled job (named `job:NAME`), run on
    /// its schedule and never restarted.
    pub job: Option<crate::jobs::JobSpec>,
}

impl ServiceConfig {
    /// A service running `command` in `dir` with every other key at its
    /// default, as a config with only `command` would give (for tests and
    /// for code that builds services, such as importers).
    pub fn new(name: &str, command: Vec<String>, dir: PathBuf) -> Self {
        Self {
            name: name.to_string(),
            command,
            dir,
            env: EnvVars::default(),
            env_file: None,
            user: None,
            group: None,
            stop: StopConfig::default(),
            depends_on: Vec::new(),
            restart: RestartConfig::default(),
            port: None,
            startup: None,
            health: Vec::new(),
            logs: crate::logs::LogSettings::default(),
            preflight: Vec::new(),
            limits: crate::limits::Limits::default(),
            disabled: false,
            pre_start: None,
            post_stop: None,
            watch: None,
            instances: None,
            instance: None,
            job: None,
        }
    }

    /// A scheduled job (`[jobs.NAME]`), not a service.
    pub fn is_job(&self) -> bool {
        self.job.is_some()
    }

    /// Equal in everything that needs a restart to take effect. Left out:
    /// log settings, health checks, the startup grace and the restart and
    /// stop policies (a running service takes them as they are), the
    /// sampled `limits` (a check), the hooks (run around the next start
    /// and stop), and preflight commands (only `diagnose` runs them). `limits.nofile` does need a restart.
    pub fn same_process(&self, other: &Self) -> bool {
        let mut a = self.clone();
        a.logs.clone_from(&other.logs);
        a.preflight.clone_from(&other.preflight);
        a.health.clone_from(&other.health);
        a.startup = other.startup;
        a.restart.clone_from(&other.restart);
        a.stop.clone_from(&other.stop);
        a.disabled = other.disabled;
        a.instances = other.instances;
        a.pre_start.clone_from(&other.pre_start);
        a.post_stop.clone_from(&other.post_stop);
        a.watch.clone_from(&other.watch);
        // A job's schedule applies from its next run.
        a.job.clone_from(&other.job);
        // The sampled limits are a check; only `nofile` is set at spawn.
        a.limits = crate::limits::Limits {
            nofile: a.limits.nofile,
            ..other.limits.clone()
        };
        a == *other
    }
}

/// Environment variables whose values never appear in `Debug` output.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EnvVars(pub BTreeMap<String, String>);

impl fmt::Debug for EnvVars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "<hidden>")))
            .finish()
    }
}

/// `stop = { signal, timeout, mode }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StopConfig {
    /// The signal sent first (default `TERM`).
    pub signal: StopSignal,
    /// How long to wait before `SIGKILL` (default 10 s).
    pub timeout: Duration,
    /// Who receives the signal (default the whole process group).
    pub mode: StopMode,
    /// `stop.command`: run instead of sending the signal (`nginx -s
    /// quit`); if it cannot run or fails, the signal is sent. `SIGKILL`
    /// follows the timeout either way.
    pub command: Option<Vec<String>>,
}

impl Default for StopConfig {
    fn default() -> Self {
        Self {
            signal: StopSignal::default(),
            timeout: Duration::from_secs(10),
            mode: StopMode::Group,
            command: None,
        }
    }
}

/// A signal name from the config, kept with its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopSignal {
    /// Upper-case name without the `SIG` prefix, e.g. `TERM`.
    pub name: &'static str,
    /// The signal number on this platform.
    pub number: i32,
}

impl Default for StopSignal {
    fn default() -> Self {
        Self {
            name: "TERM",
            number: 15,
        }
    }
}

/// Who receives the stop signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopMode {
    /// Every process in the service's process group (like systemd's `KillMode=control-group`).
    Group,
    /// Only the main process; the rest get `SIGKILL` once it has exited (like `KillMode=mixed`).
    Main,
}

impl StopMode {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Group => "group",
            Self::Main => "main",
        }
    }
}

/// One entry of `depends_on`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// The service depended on.
    pub service: String,
    /// What it must reach first.
    pub condition: DependencyCondition,
}

/// What a dependency must reach before the dependent starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DependencyCondition {
    /// Its process has been spawned.
    Started,
    /// It is running and its health checks pass (running, when it has none).
    Healthy,
    /// It ran to completion with exit code 0 (a one-shot job, e.g. migrations).
    Completed,
}

impl DependencyCondition {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Healthy => "healthy",
            Self::Completed => "completed",
        }
    }
}

/// `restart = { … }`.
#[derive(Clone, Debug, PartialEq)]
pub struct RestartConfig {
    /// When to restart.
    pub policy: RestartPolicy,
    /// Delay before the first restart (default 1 s).
    pub backoff_initial: Duration,
    /// Upper bound of the delay (default 5 min).
    pub backoff_max: Duration,
    /// Growth of the delay per consecutive restart (default 2).
    pub backoff_factor: f64,
    /// Restarts allowed within `window` before `crash-loop` (default 10).
    pub max_restarts: u32,
    /// The window over which restarts are counted (default 1 h).
    pub window: Duration,
    /// Uptime after which the backoff starts again from `backoff_initial` (default 10 min).
    pub reset_after: Duration,
}

impl Default for RestartConfig {
    fn default() -> Self {
        Self {
            policy: RestartPolicy::Always,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            backoff_factor: 2.0,
            max_restarts: 10,
            window: Duration::from_secs(3600),
            reset_after: Duration::from_secs(600),
        }
    }
}

/// When a service that exited on its own is started again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartPolicy {
    /// After any exit.
    Always,
    /// After a non-zero exit code or a death by signal.
    OnFailure,
    /// Never.
    Never,
}

impl RestartPolicy {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::OnFailure => "on-failure",
            Self::Never => "never",
        }
    }
}
