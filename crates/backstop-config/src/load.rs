//! The schema walk: from TOML text to a validated [`Config`].
//!
//! One pass reads every table with a [`Reader`], recording every problem;
//! a second pass checks what spans services (unknown dependencies, cycles).
//! The config is returned only when no error was found; warnings (an env file
//! that does not exist yet, a missing working directory) travel with it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use crate::diagnostic::{ConfigError, Diagnostic, Severity};
use crate::graph;
use crate::model::{
    Config, DaemonConfig, Dependency, DependencyCondition, EnvVars, RestartConfig, RestartPolicy,
    ServiceConfig, StopConfig, StopMode,
};
use crate::reader::{Reader, Value, suggest};
use crate::signals;

/// A config that loaded, with the warnings found on the way.
#[derive(Debug)]
pub struct Loaded {
    /// The validated config.
    pub config: Config,
    /// The file's text, for rendering warnings.
    pub source: String,
    /// Problems that do not prevent running (e.g. a missing env file).
    pub warnings: Vec<Diagnostic>,
    /// The path as given (`backstop.toml`), which messages show, as they
    /// do for errors; `config.path` is absolute.
    pub given_path: PathBuf,
}

impl Loaded {
    /// Renders the warnings (empty string when there are none).
    pub fn render_warnings(&self, color: bool) -> String {
        if self.warnings.is_empty() {
            return String::new();
        }
        crate::diagnostic::render_all(&self.given_path, &self.source, &self.warnings, color)
    }
}

const TOP_KEYS: &[&str] = &[
    "daemon",
    "logs",
    "events",
    "alerts",
    "services",
    "jobs",
    "checks",
    "playbooks",
    "remediate",
];
const EVENTS_KEYS: &[&str] = &["max_age", "max_events"];
const DAEMON_KEYS: &[&str] = &[
    "state_dir",
    "listen",
    "token_file",
    "token_env",
    "cgroups",
    "env_file",
];
pub(crate) const SERVICE_KEYS: &[&str] = &[
    "command",
    "dir",
    "env",
    "env_file",
    "user",
    "group",
    "stop",
    "depends_on",
    "restart",
    "port",
    "startup",
    "health",
    "limits",
    "disabled",
    "instances",
    "pre_start",
    "post_stop",
    "watch",
    "logs",
    "preflight",
];
const STOP_KEYS: &[&str] = &["signal", "timeout", "mode", "command"];
const RESTART_KEYS: &[&str] = &[
    "policy",
    "backoff_initial",
    "backoff_max",
    "backoff_factor",
    "max_restarts",
    "window",
    "reset_after",
];
const POLICIES: &[(&str, RestartPolicy)] = &[
    ("always", RestartPolicy::Always),
    ("on-failure", RestartPolicy::OnFailure),
    ("never", RestartPolicy::Never),
];
const CONDITIONS: &[(&str, DependencyCondition)] = &[
    ("started", DependencyCondition::Started),
    ("healthy", DependencyCondition::Healthy),
    ("completed", DependencyCondition::Completed),
];
const MODES: &[(&str, StopMode)] = &[("group", StopMode::Group), ("main", StopMode::Main)];

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(source) => parse(path, source),
        Err(err) => Err(ConfigError {
            path: path.to_path_buf(),
            source_text: String::new(),
            diagnostics: vec![Diagnostic {
                severity: Severity::Error,
                message: format!("cannot read config file {}: {err}", path.display()),
                span: None,
                label: String::new(),
                help: Some(
                    "create one with `backstop init`, or name another with -c PATH".to_string(),
                ),
            }],
        }),
    }
}

/// Validates `source` as the text of the config file at `path`.
///
/// `path` gives the base directory for relative paths and the name in messages.
pub fn parse(path: &Path, source: String) -> Result<Loaded, ConfigError> {
    let base_dir = absolute_parent(path);
    let (mut root, syntax_errors) = DeTable::parse_recoverable(&source);
    let mut reader = Reader::of(&source);
    if syntax_errors.is_empty() {
        crate::interpolate::interpolate(&mut reader, root.get_mut(), &base_dir);
        let config = read_config(&mut reader, root.get_ref(), path, &base_dir);
        collect_runtime_warnings(&mut reader, root.get_ref(), &config);
        let errors = reader
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error);
        if !errors {
            reader
                .diagnostics
                .sort_by_key(|d| d.span.as_ref().map(|s| s.start));
            return Ok(Loaded {
                config,
                warnings: reader.diagnostics,
                source,
                given_path: path.to_path_buf(),
            });
        }
    } else {
        for err in syntax_errors {
            let span = err.span().unwrap_or(0..0);
            let message = err.message().trim().to_string();
            reader.error(Diagnostic::error(
                "invalid TOML syntax",
                span,
                message.lines().next().unwrap_or("here").to_string(),
            ));
        }
    }
    reader
        .diagnostics
        .sort_by_key(|d| d.span.as_ref().map(|s| s.start));
    Err(ConfigError {
        path: path.to_path_buf(),
        source_text: source,
        diagnostics: reader.diagnostics,
    })
}

/// `base` joined with a path from the config, with `.` components dropped
/// (`dir = "."` is the base itself, not `base/.`).
pub(crate) fn resolve(base: &Path, relative: &str) -> PathBuf {
    base.join(relative).components().collect()
}

fn absolute_parent(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    abs.parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
}

fn read_config(r: &mut Reader, root: &DeTable<'_>, path: &Path, base: &Path) -> Config {
    r.unknown_keys(root, TOP_KEYS, "the top level");
    let mut daemon = DaemonConfig {
        state_dir: base.join(".backstop"),
        listen: None,
        token: None,
        cgroups: true,
    };
    if let Some((_, v)) = root.get_key_value("daemon")
        && let Some(t) = r.table(v, "`[daemon]`")
    {
        r.unknown_keys(t, DAEMON_KEYS, "`[daemon]`");
        if let Some((_, v)) = t.get_key_value("state_dir")
            && let Some(s) = r.non_empty_string(v, "`daemon.state_dir`")
        {
            daemon.state_dir = resolve(base, &s);
        }
        read_listen(r, t, base, &mut daemon);
        if let Some((_, v)) = t.get_key_value("cgroups")
            && let Some(b) = r.boolean(v, "`daemon.cgroups`")
        {
            daemon.cgroups = b;
        }
    }

    let mut events = crate::model::EventsConfig::default();
    if let Some((_, v)) = root.get_key_value("events")
        && let Some(t) = r.table(v, "`[events]`")
    {
        r.unknown_keys(t, EVENTS_KEYS, "`[events]`");
        if let Some((_, v)) = t.get_key_value("max_age")
            && let Some(d) = r.duration(v, "`events.max_age`")
        {
            events.max_age = d;
        }
        if let Some((_, v)) = t.get_key_value("max_events")
            && let Some(n) = r.integer(v, "`events.max_events`", 1..1_000_000_000)
        {
            events.max_events = n as u64;
        }
    }
    let log_defaults = root
        .get_key_value("logs")
        .and_then(|(_, v)| {
            crate::logs_reader::read_logs(r, v, "`[logs]`", &crate::logs::LogSettings::default())
        })
        .unwrap_or_default();

    let mut services = Vec::new();
    let mut dep_spans = BTreeMap::new();
    let mut declared = std::collections::BTreeSet::new();
    match root.get_key_value("services") {
        // A config with only [checks] is fine: `backstop check` from cron.
        None if root.contains_key("checks") || root.contains_key("jobs") => {}
        None => r.error(Diagnostic {
            severity: Severity::Error,
            message: "no services defined".to_string(),
            span: None,
            label: String::new(),
            help: Some(
                "add a `[services.NAME]` table with a `command`; `backstop init` writes an example"
                    .to_string(),
            ),
        }),
        Some((_, v)) => {
            if let Some(table) = r.table(v, "`[services]`") {
                declared.extend(table.iter().map(|(k, _)| k.get_ref().to_string()));
                for (key, value) in table {
                    let name: &str = key.get_ref();
                    if !valid_name(name) {
                        r.error(Diagnostic::error(
                            format!("invalid service name `{name}`"),
                            key.span(),
                            "use letters, digits, `-`, `_` and `.` only",
                        ));
                        continue;
                    }
                    if let Some((service, deps)) =
                        read_service(r, name, key.span(), value, base, &log_defaults)
                    {
                        dep_spans.insert(name.to_string(), deps);
                        services.push(service);
                    }
                }
            }
        }
    }
    let checks = root
        .get_key_value("checks")
        .map(|(_, v)| crate::health_reader::read_checks(r, v, base))
        .unwrap_or_default();
    let check_names: std::collections::BTreeSet<String> = root
        .get_key_value("checks")
        .and_then(|(_, v)| v.get_ref().as_table())
        .map(|t| t.iter().map(|(k, _)| k.get_ref().to_string()).collect())
        .unwrap_or_default();
    if let Some((_, v)) = root.get_key_value("checks")
        && let Some(t) = v.get_ref().as_table()
    {
        for (key, _) in t
            .iter()
            .filter(|(k, _)| declared.contains(k.get_ref().as_ref()))
        {
            r.error(Diagnostic::error(
                format!("`{}` is both a service and a check", key.get_ref()),
                key.span(),
                "give the check another name",
            ));
        }
    }
    let playbooks: Vec<crate::playbooks::Playbook> = root
        .get_key_value("playbooks")
        .map(|(_, v)| crate::playbooks_reader::read_playbooks(r, v))
        .unwrap_or_default();
    let remediate = root
        .get_key_value("remediate")
        .map(|(_, v)| {
            let mut known_playbooks: Vec<String> = root
                .get_key_value("playbooks")
                .and_then(|(_, v)| v.get_ref().as_table())
                .map(|t| t.iter().map(|(k, _)| k.get_ref().to_string()).collect())
                .unwrap_or_default();
            for p in crate::playbooks::builtin() {
                if !known_playbooks.contains(&p.name) {
                    known_playbooks.push(p.name);
                }
            }
            let known = crate::remediate_reader::Known {
                services: &declared,
                playbooks: known_playbooks,
            };
            crate::remediate_reader::read_rules(r, v, &known)
        })
        .unwrap_or_default();
    let all_read = services.len() == declared.len();
    graph::check_dependencies(r, &services, &dep_spans, &declared, &check_names, all_read);
    check_copies(r, root, &services);
    check_port_variable(r, root, &services);
    let (jobs, job_spans) = root
        .get_key_value("jobs")
        .map(|(_, v)| crate::jobs_reader::read_jobs(r, v, base, &log_defaults))
        .unwrap_or_default();
    graph::check_dependencies(r, &jobs, &job_spans, &declared, &check_names, false);
    let mut running = crate::instances::expand(&services);
    running.extend(jobs);
    Config {
        path: std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
        base_dir: base.to_path_buf(),
        daemon,
        services: running,
        declared: services,
        checks,
        events,
        alerts: root
            .get_key_value("alerts")
            .map(|(_, v)| crate::alerts_reader::read_alerts(r, v, base))
            .unwrap_or_default(),
        playbooks,
        remediate,
    }
}

/// `${BACKSTOP_PORT}` is a service's `port`: without one it would reach the
/// program as those very characters.
fn check_port_variable(r: &mut Reader, root: &DeTable<'_>, services: &[ServiceConfig]) {
    fn find(v: &Value<'_>) -> Option<std::ops::Range<usize>> {
        match v.get_ref() {
            DeValue::String(s) if s.contains("${BACKSTOP_PORT}") => Some(v.span()),
            DeValue::Array(items) => items.iter().find_map(find),
            DeValue::Table(t) => t.iter().find_map(|(_, v)| find(v)),
            _ => None,
        }
    }
    for s in services.iter().filter(|s| s.port.is_none()) {
        let Some(span) = root
            .get("services")
            .and_then(|v| v.get_ref().as_table())
            .and_then(|t| t.get(s.name.as_str()))
            .and_then(find)
        else {
            continue;
        };
        r.error(
            Diagnostic::error(
                format!(
                    "`${{BACKSTOP_PORT}}` in service `{}`, which has no `port`",
                    s.name
                ),
                span,
                "this is the service's `port` (per copy with `instances`)",
            )
            .with_help("set `port = …` on the service, or write the port itself"),
        );
    }
}

/// A copy of a service with `instances` may not take the name of another
/// service (`api` with 3 instances and a service `api.2`).
fn check_copies(r: &mut Reader, root: &DeTable<'_>, services: &[ServiceConfig]) {
    for s in services {
        let Some(n) = s.instances else { continue };
        let Some(clash) = (1..=n)
            .map(|i| format!("{}.{i}", s.name))
            .find(|copy| services.iter().any(|o| o.name == *copy))
        else {
            continue;
        };
        let span = root
            .get("services")
            .and_then(|v| v.get_ref().as_table())
            .and_then(|t| t.get(s.name.as_str()))
            .and_then(|v| v.get_ref().as_table())
            .and_then(|t| t.get_key_value("instances"))
            .map(|(_, v)| v.span());
        r.error(Diagnostic {
            severity: Severity::Error,
            message: format!(
                "`instances = {n}` of service `{}` makes a copy `{clash}`, which is also the name of a service",
                s.name
            ),
            span,
            label: "the copies are named NAME.1 … NAME.N".to_string(),
            help: Some(format!("rename the service `{clash}`")),
        });
    }
}

/// `listen`, `token_file`, `token_env`: a TCP API, never open to the
/// network without a token.
fn read_listen(r: &mut Reader, t: &toml::de::DeTable<'_>, base: &Path, daemon: &mut DaemonConfig) {
    let token_file = t
        .get_key_value("token_file")
        .and_then(|(_, v)| r.non_empty_string(v, "`daemon.token_file`"))
        .map(|f| crate::model::TokenSource::File(resolve(base, &f)));
    let token_env = t
        .get_key_value("token_env")
        .and_then(|(_, v)| r.non_empty_string(v, "`daemon.token_env`"))
        .map(crate::model::TokenSource::Env);
    if let (Some(_), Some((_, v))) = (&token_file, t.get_key_value("token_env")) {
        r.error(Diagnostic::error(
            "`token_file` and `token_env` are both set in `[daemon]`".to_string(),
            v.span(),
            "keep one of them",
        ));
    }
    daemon.token = token_file.or(token_env);
    let Some((_, v)) = t.get_key_value("listen") else {
        return;
    };
    let Some(text) = r.non_empty_string(v, "`daemon.listen`") else {
        return;
    };
    let Ok(addr) = text.parse::<std::net::SocketAddr>() else {
        r.error(Diagnostic::error(
            "invalid `daemon.listen`".to_string(),
            v.span(),
            "expected an address and port such as \"127.0.0.1:9107\" or \"[::1]:9107\"",
        ));
        return;
    };
    if !addr.ip().is_loopback() && daemon.token.is_none() {
        r.error(
            Diagnostic::error(
                "`daemon.listen` is not a loopback address, and no token is configured".to_string(),
                v.span(),
                "anyone who can reach this address could stop your services",
            )
            .with_help("set `token_file = \"…\"` or `token_env = \"…\"` in `[daemon]`, or listen on 127.0.0.1"),
        );
        return;
    }
    daemon.listen = Some(addr);
}

pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Where each dependency of a service is written, for cycle and name errors.
pub(crate) type DependencySpans = Vec<(String, std::ops::Range<usize>)>;

pub(crate) fn read_service(
    r: &mut Reader,
    name: &str,
    name_span: std::ops::Range<usize>,
    value: &Value<'_>,
    base: &Path,
    log_defaults: &crate::logs::LogSettings,
) -> Option<(ServiceConfig, DependencySpans)> {
    let ctx = format!("service `{name}`");
    let table = r.table(value, &format!("`[services.{name}]`"))?;
    r.unknown_keys(table, SERVICE_KEYS, &ctx);
    let field = |key: &str| table.get_key_value(key).map(|(_, v)| v);
    let what = |key: &str| format!("`{key}` in service `{name}`");

    // A misspelled `command` is already reported with a suggestion; saying
    // that the command is missing too would only be noise.
    let misspelled_command = table
        .iter()
        .any(|(k, _)| k.get_ref() != "command" && suggest(k.get_ref(), ["command"]).is_some());
    let command = match field("command") {
        None if misspelled_command => None,
        None => {
            r.error(
                Diagnostic::error(
                    format!("service `{name}` has no `command`"),
                    name_span,
                    "this service needs `command = \"program args…\"`",
                )
                .with_help("for example: command = \"python3 -m http.server 8000\""),
            );
            None
        }
        Some(v) => read_command(r, v, &what("command")),
    };
    let dir = field("dir")
        .and_then(|v| r.non_empty_string(v, &what("dir")))
        .map_or_else(|| base.to_path_buf(), |d| resolve(base, &d));
    let env =
        field("env").and_then(|v| read_string_map(r, v, &what("env"), "environment variable"));
    let env_file = field("env_file")
        .and_then(|v| r.non_empty_string(v, &what("env_file")))
        .map(|f| resolve(base, &f));
    let user = field("user").and_then(|v| r.non_empty_string(v, &what("user")));
    let group = field("group").and_then(|v| r.non_empty_string(v, &what("group")));
    let stop = field("stop").map_or_else(|| Some(StopConfig::default()), |v| read_stop(r, v, name));
    let restart = field("restart").map_or_else(
        || Some(RestartConfig::default()),
        |v| read_restart(r, v, name),
    );
    let port = field("port")
        .and_then(|v| r.integer(v, &what("port"), 1..65536))
        .map(|p| p as u16);
    let startup = field("startup").and_then(|v| r.duration(v, &what("startup")));
    let mut health = field("health")
        .map(|v| crate::health_reader::read_service_health(r, v, name, base))
        .unwrap_or_default();
    let limits = field("limits").map_or_else(
        || Some(crate::limits::Limits::default()),
        |v| crate::limits_reader::read_limits(r, v, name),
    );
    if let Some(check) = limits.as_ref().and_then(crate::limits::Limits::check) {
        health.push(check);
    }
    let logs = field("logs").map_or_else(
        || Some(log_defaults.clone()),
        |v| {
            crate::logs_reader::read_logs(
                r,
                v,
                &format!("`logs` of service `{name}`"),
                log_defaults,
            )
        },
    );
    let (depends_on, dep_spans) = field("depends_on")
        .map(|v| read_depends_on(r, v, name))
        .unwrap_or_default();
    let disabled = field("disabled")
        .and_then(|v| r.boolean(v, &what("disabled")))
        .unwrap_or(false);
    let preflight = field("preflight")
        .map(|v| read_preflight(r, v, &what("preflight")))
        .unwrap_or_default();
    let pre_start = field("pre_start").and_then(|v| {
        crate::hooks_reader::read_hook(r, v, name, "pre_start", crate::hooks::PRE_START_TIMEOUT)
    });
    let post_stop = field("post_stop").and_then(|v| {
        crate::hooks_reader::read_hook(r, v, name, "post_stop", crate::hooks::POST_STOP_TIMEOUT)
    });
    let watch = field("watch").and_then(|v| crate::watch_reader::read_watch(r, v, name));
    let instances = field("instances")
        .and_then(|v| {
            r.integer(
                v,
                &what("instances"),
                1..i64::from(crate::instances::MAX_INSTANCES) + 1,
            )
        })
        .and_then(|n| u32::try_from(n).ok());

    Some((
        ServiceConfig {
            name: name.to_string(),
            command: command?,
            dir,
            env: EnvVars(env.unwrap_or_default()),
            env_file,
            user,
            group,
            stop: stop?,
            depends_on,
            restart: restart?,
            port,
            startup,
            health,
            logs: logs?,
            preflight,
            limits: limits?,
            disabled,
            pre_start,
            post_stop,
            watch,
            instances,
            instance: None,
            job: None,
        },
        dep_spans,
    ))
}

/// `preflight = ["python -c 'import main'", …]`: shell command lines that
/// `diagnose` runs (with `sh -c`) to test what a start needs.
fn read_preflight(r: &mut Reader, v: &Value<'_>, what: &str) -> Vec<String> {
    let DeValue::Array(items) = v.get_ref() else {
        r.expected(v, what, "an array of shell command lines");
        return Vec::new();
    };
    let mut commands = Vec::new();
    for item in items {
        match r.string(item, what) {
            Some(c) if c.trim().is_empty() => r.error(Diagnostic::error(
                format!("invalid {what}"),
                item.span(),
                "expected a command line, found an empty string",
            )),
            Some(c) => commands.push(c),
            None => {}
        }
    }
    commands
}

pub(crate) fn read_command(r: &mut Reader, v: &Value<'_>, what: &str) -> Option<Vec<String>> {
    match v.get_ref() {
        DeValue::String(s) => match shell_words::split(s) {
            Ok(words) if !words.is_empty() => Some(words),
            Ok(_) => {
                r.error(Diagnostic::error(
                    format!("invalid {what}"),
                    v.span(),
                    "expected a program and its arguments, found an empty command",
                ));
                None
            }
            Err(_) => {
                r.error(
                    Diagnostic::error(
                        format!("invalid {what}"),
                        v.span(),
                        "unbalanced quotes: this command cannot be split into words",
                    )
                    .with_help("close the quote, or write the command as an array of strings"),
                );
                None
            }
        },
        DeValue::Array(items) => {
            let mut words = Vec::new();
            for item in items {
                words.push(r.string(item, what)?);
            }
            if words.first().is_none_or(std::string::String::is_empty) {
                r.error(Diagnostic::error(
                    format!("invalid {what}"),
                    v.span(),
                    "expected a non-empty array whose first item is the program",
                ));
                return None;
            }
            Some(words)
        }
        _ => {
            r.expected(v, what, "a string or an array of strings");
            None
        }
    }
}

/// A table of names to strings (`env`, `headers`): numbers and booleans
/// are taken as their text; `item` names one entry in messages.
pub(crate) fn read_string_map(
    r: &mut Reader,
    v: &Value<'_>,
    what: &str,
    item: &str,
) -> Option<BTreeMap<String, String>> {
    let table = r.table(v, what)?;
    let mut map = BTreeMap::new();
    for (key, value) in table {
        let text = match value.get_ref() {
            DeValue::String(s) => s.to_string(),
            DeValue::Integer(i) => i.as_str().to_string(),
            DeValue::Float(f) => f.as_str().to_string(),
            DeValue::Boolean(b) => b.to_string(),
            _ => {
                r.expected(
                    value,
                    &format!("{item} `{}` ({what})", key.get_ref()),
                    "a string, number or boolean",
                );
                continue;
            }
        };
        map.insert(key.get_ref().to_string(), text);
    }
    Some(map)
}

fn read_stop(r: &mut Reader, v: &Value<'_>, name: &str) -> Option<StopConfig> {
    let table = r.table(v, &format!("`stop` in service `{name}`"))?;
    r.unknown_keys(table, STOP_KEYS, &format!("`stop` of service `{name}`"));
    let mut stop = StopConfig::default();
    let mut ok = true;
    if let Some((_, v)) = table.get_key_value("signal") {
        match r.string(v, &format!("`stop.signal` in service `{name}`")) {
            Some(s) => {
                if let Some(sig) = signals::parse(&s) {
                    stop.signal = sig;
                } else {
                    let mut d = Diagnostic::error(
                        format!("invalid `stop.signal` in service `{name}`"),
                        v.span(),
                        format!(
                            "expected a signal name such as \"TERM\", \"INT\" or \"QUIT\", found \"{s}\""
                        ),
                    );
                    if let Some(s) = suggest(
                        &s.to_ascii_uppercase(),
                        signals::NAMES.iter().map(|(n, _)| *n),
                    ) {
                        d = d.with_help(format!("did you mean \"{s}\"?"));
                    }
                    r.error(d);
                    ok = false;
                }
            }
            None => ok = false,
        }
    }
    if let Some((_, v)) = table.get_key_value("timeout") {
        match r.duration(v, &format!("`stop.timeout` in service `{name}`")) {
            Some(d) => stop.timeout = d,
            None => ok = false,
        }
    }
    if let Some((_, v)) = table.get_key_value("mode") {
        match r.choice(v, &format!("`stop.mode` in service `{name}`"), MODES) {
            Some(m) => stop.mode = m,
            None => ok = false,
        }
    }
    if let Some((_, v)) = table.get_key_value("command") {
        match read_command(r, v, &format!("`stop.command` in service `{name}`")) {
            Some(c) => stop.command = Some(c),
            None => ok = false,
        }
    }
    ok.then_some(stop)
}

fn read_restart(r: &mut Reader, v: &Value<'_>, name: &str) -> Option<RestartConfig> {
    let mut restart = RestartConfig::default();
    // `restart = "on-failure"` is short for `restart = { policy = "on-failure" }`.
    if let DeValue::String(_) = v.get_ref() {
        restart.policy = r.choice(v, &format!("`restart` in service `{name}`"), POLICIES)?;
        return Some(restart);
    }
    let table = r.table(v, &format!("`restart` in service `{name}`"))?;
    r.unknown_keys(
        table,
        RESTART_KEYS,
        &format!("`restart` of service `{name}`"),
    );
    let what = |k: &str| format!("`restart.{k}` in service `{name}`");
    let mut ok = true;
    for (key, value) in table {
        let key: &str = key.get_ref();
        let read = match key {
            "policy" => r
                .choice(value, &what(key), POLICIES)
                .map(|p| restart.policy = p),
            "backoff_initial" => r
                .duration(value, &what(key))
                .map(|d| restart.backoff_initial = d),
            "backoff_max" => r
                .duration(value, &what(key))
                .map(|d| restart.backoff_max = d),
            "backoff_factor" => r
                .positive_number(value, &what(key))
                .map(|f| restart.backoff_factor = f),
            "max_restarts" => r
                .integer(value, &what(key), 0..1_000_000)
                .map(|n| restart.max_restarts = n as u32),
            "window" => r.duration(value, &what(key)).map(|d| restart.window = d),
            "reset_after" => r
                .duration(value, &what(key))
                .map(|d| restart.reset_after = d),
            _ => Some(()), // reported by unknown_keys
        };
        ok &= read.is_some();
    }
    if restart.backoff_max < restart.backoff_initial
        && let Some((_, v)) = table.get_key_value("backoff_max")
    {
        r.error(Diagnostic::error(
            format!("invalid `restart.backoff_max` in service `{name}`"),
            v.span(),
            "must not be shorter than `backoff_initial`",
        ));
        ok = false;
    }
    ok.then_some(restart)
}

fn read_depends_on(
    r: &mut Reader,
    v: &Value<'_>,
    name: &str,
) -> (Vec<Dependency>, DependencySpans) {
    let what = format!("`depends_on` in service `{name}`");
    let mut deps = Vec::new();
    let mut spans = Vec::new();
    match v.get_ref() {
        // `depends_on = ["db", "cache"]` waits for each to be started.
        DeValue::Array(items) => {
            for item in items {
                if let Some(dep) = r.non_empty_string(item, &what) {
                    spans.push((dep.clone(), item.span()));
                    deps.push(Dependency {
                        service: dep,
                        condition: DependencyCondition::Started,
                    });
                }
            }
        }
        DeValue::Table(table) => {
            for (key, value) in table {
                let condition = r.choice(
                    value,
                    &format!(
                        "condition of `depends_on.{}` in service `{name}`",
                        key.get_ref()
                    ),
                    CONDITIONS,
                );
                if let Some(condition) = condition {
                    spans.push((key.get_ref().to_string(), key.span()));
                    deps.push(Dependency {
                        service: key.get_ref().to_string(),
                        condition,
                    });
                }
            }
        }
        _ => r.expected(
            v,
            &what,
            "a table such as { db = \"healthy\" } or an array of service names",
        ),
    }
    (deps, spans)
}

/// Warnings about the machine rather than the file: paths that do not exist
/// now. The service that needs them fails at start with the same message.
fn collect_runtime_warnings(r: &mut Reader, root: &DeTable<'_>, config: &Config) {
    let services = root
        .get_key_value("services")
        .and_then(|(_, v)| v.get_ref().as_table());
    for service in &config.services {
        let table = services
            .and_then(|t| t.get_key_value(service.name.as_str()))
            .and_then(|(_, v)| v.get_ref().as_table());
        let span_of = |key: &str| {
            table
                .and_then(|t| t.get_key_value(key))
                .map(|(_, v)| v.span())
        };
        if let Some(file) = &service.env_file
            && !file.exists()
            && let Some(span) = span_of("env_file")
        {
            r.error(Diagnostic::warning(
                format!("env file of service `{}` does not exist: {}", service.name, file.display()),
                span,
                "file not found",
            ).with_help("the service will fail to start until the file exists; the other services are not affected"));
        }
        if !service.dir.is_dir()
            && let Some(span) = span_of("dir")
        {
            r.error(Diagnostic::warning(
                format!(
                    "working directory of service `{}` does not exist: {}",
                    service.name,
                    service.dir.display()
                ),
                span,
                "directory not found",
            ));
        }
    }
}
