//! `backstop export systemd`: a unit per service with the same meaning as
//! its `backstop.toml` entry, so a team moving to plain systemd keeps its
//! restart policy, backoff, restart budget, dependencies, stop behaviour
//! and limits.
//!
//! | backstop | systemd |
//! |---|---|
//! | `command`, `dir`, `user`, `group` | `ExecStart=` (absolute program), `WorkingDirectory=`, `User=`, `Group=` |
//! | `env_file`, `env` | `EnvironmentFile=`, `Environment=`; secret-named values go to `PREFIX-NAME.env` (0600), read from `%E/backstop/` |
//! | `restart` policy, `backoff_initial`/`_max`/`_factor` | `Restart=`, `RestartSec=`, `RestartSteps=` + `RestartMaxDelaySec=` (systemd 254+) |
//! | `max_restarts` within `window` | `StartLimitBurst=` (max + 1 starts), `StartLimitIntervalSec=` |
//! | `depends_on` started / healthy / completed | `After=` + `Wants=` (a unit with checks is active only once they pass); completed: `Requires=` on a `Type=oneshot` job |
//! | health checks | `ExecStartPost=` waits for `backstop check NAME`: the unit becomes active once they pass |
//! | `stop.signal`, `stop.mode`, `stop.timeout`, `stop.command` | `KillSignal=`, `KillMode=control-group`/`mixed`, `TimeoutStopSec=`, `ExecStop=` |
//! | `startup` | `TimeoutStartSec=` |
//! | `pre_start`, `post_stop` | `ExecStartPre=`, `ExecStopPost=` |
//! | `limits` memory_warn / memory_max / cpu_max / pids_max / nofile | `MemoryHigh=` / `MemoryMax=` / `CPUQuota=` / `TasksMax=` / `LimitNOFILE=` |
//! | liveness checks (`on_failure = "restart"`) | `PREFIX-NAME-check.timer` running `backstop check NAME`; `failures` in a row restart the unit |
//! | `disabled = true` | no `[Install]`, not in `PREFIX.target` |
//! | `[jobs.NAME]` | `PREFIX-job-NAME.service` (`Type=oneshot`, `timeout` as `TimeoutStartSec=`) started by `PREFIX-job-NAME.timer` (`OnCalendar=` from the cron fields and `timezone`, or `OnActiveSec=`/`OnUnitActiveSec=` for `every`) |
//!
//! `cpu_warn`, `watch`, log rotation and the port's stale-instance check
//! have no systemd equivalent: a comment in the unit and a warning.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use backstop_config::{
    Config, DependencyCondition, OnFailure, RestartPolicy, ServiceConfig, StopMode,
};

use super::Export;

/// The first systemd with `RestartSteps=` and `RestartMaxDelaySec=`.
pub(crate) const RESTART_STEPS_SINCE: u32 = 254;

/// How to write the units.
pub(crate) struct Options {
    /// Unit names are `PREFIX-NAME.service`.
    pub(crate) prefix: String,
    /// The systemd the units are for.
    pub(crate) systemd_version: u32,
    /// The backstop binary the check units and readiness waits run.
    pub(crate) backstop: PathBuf,
    /// Only these services (empty: all).
    pub(crate) only: Vec<String>,
}

/// This machine's systemd version, from `systemctl --version`.
pub(crate) fn local_version() -> Option<u32> {
    let out = std::process::Command::new("systemctl")
        .arg("--version")
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Finds `program` in `path` (a `PATH` value; backstop's own when `None`).
pub(crate) fn which_in_path(program: &str, path: Option<&str>) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    let path = path.map_or_else(|| std::env::var("PATH").unwrap_or_default(), str::to_string);
    path.split(':').filter(|d| !d.is_empty()).find_map(|dir| {
        let candidate = Path::new(dir).join(program);
        let executable = std::fs::metadata(&candidate).is_ok_and(|m| {
            use std::os::unix::fs::PermissionsExt;
            m.is_file() && m.permissions().mode() & 0o111 != 0
        });
        executable.then_some(candidate)
    })
}

/// Resolves a program name to an absolute path.
pub(crate) type Which<'a> = &'a dyn Fn(&str, Option<&str>) -> Option<PathBuf>;

/// Every unit for `config`.
pub(crate) fn export(config: &Config, options: &Options, which: Which<'_>) -> Export {
    let mut out = Export::default();
    let chosen: Vec<&ServiceConfig> = config
        .services
        .iter()
        .filter(|s| options.only.is_empty() || options.only.contains(&s.name))
        .collect();
    let mut wanted = Vec::new();
    for s in &chosen {
        let unit = Unit::new(config, options, s, which);
        let name = unit_name(options, &s.name);
        if !s.disabled {
            wanted.push(name.clone());
        }
        for w in &unit.notes {
            out.warnings.push(format!("{}: {w}", s.name));
        }
        out.files.push((name, unit.text));
        if let Some(secrets) = unit.secrets {
            out.files
                .push((format!("{}-{}.env", options.prefix, s.name), secrets));
        }
        if let Some(spec) = &s.job {
            match job_timer(options, s, spec) {
                Ok(timer) => {
                    wanted.push(timer_name(options, &s.name));
                    out.files.push((timer_name(options, &s.name), timer));
                }
                Err(why) => out.warnings.push(format!(
                    "{}: {why}; write its .timer by hand (the service unit is there)",
                    s.name
                )),
            }
            let spec_notes = [
                (spec.concurrency == backstop_config::Concurrency::Queue).then_some(
                    "concurrency = \"queue\" has no timer equivalent: a run due while one goes on is skipped",
                ),
                Some("`job-failed` and `job-missed` alerts are backstop's: add OnFailure= to the unit for a failed run"),
            ];
            for n in spec_notes.into_iter().flatten() {
                out.warnings.push(format!("{}: {n}", s.name));
            }
        }
        if let Some((service, timer)) = check_units(config, options, s) {
            let base = format!("{}-{}-check", options.prefix, s.name);
            if !s.disabled {
                wanted.push(format!("{base}.timer"));
            }
            out.files.push((format!("{base}.service"), service));
            out.files.push((format!("{base}.timer"), timer));
        }
    }
    out.files.push((
        format!("{}.target", options.prefix),
        target(config, options, &wanted),
    ));
    out
}

fn unit_name(options: &Options, service: &str) -> String {
    // A job runs as `job:NAME`: its unit is `PREFIX-job-NAME.service`.
    format!("{}-{}.service", options.prefix, service.replace(':', "-"))
}

fn timer_name(options: &Options, job: &str) -> String {
    format!("{}-{}.timer", options.prefix, job.replace(':', "-"))
}

/// The `.timer` that starts job `s` on its schedule (a unit is never
/// started twice at once: a run due while one goes on is skipped, as with
/// `concurrency = "skip"`).
fn job_timer(
    options: &Options,
    s: &ServiceConfig,
    spec: &backstop_config::JobSpec,
) -> Result<String, String> {
    let when = match super::schedule::systemd(spec)? {
        super::schedule::Timer::Calendar(c) => format!("OnCalendar={c}\n"),
        super::schedule::Timer::Every(d) => {
            format!(
                "OnActiveSec={every}\nOnUnitActiveSec={every}\n",
                every = span(d)
            )
        }
    };
    Ok(format!(
        "# Written by `backstop export systemd`: starts {unit} {what}.\n\
         [Unit]\n\
         Description=run the job {name} {what}\n\
         \n\
         [Timer]\n\
         {when}\
         AccuracySec=1s\n\
         \n\
         [Install]\n\
         WantedBy={prefix}.target\n",
        unit = unit_name(options, &s.name),
        what = spec.schedule.describe(),
        name = s.name,
        prefix = options.prefix,
    ))
}

/// Seconds (or milliseconds) as systemd reads a time span.
fn span(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// One word of a command line as systemd reads it: `%` and `$` escaped,
/// quoted when it has spaces, quotes or backslashes.
fn word(arg: &str) -> String {
    let escaped = arg.replace('%', "%%").replace('$', "$$");
    if escaped.is_empty()
        || escaped
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\'' || c == '\\' || c == ';')
    {
        // Quoted, with C escapes: a unit line cannot hold a newline.
        format!(
            "\"{}\"",
            escaped
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
                .replace('\t', "\\t")
        )
    } else {
        escaped
    }
}

/// A value of `Environment=`: the whole `KEY=value` quoted.
fn assignment(key: &str, value: &str) -> String {
    let text = format!("{key}={value}")
        .replace('%', "%%")
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    format!("\"{text}\"")
}

/// A shell word (single-quoted when needed), inside an `sh -c` script.
fn sh_word(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:=@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// `/bin/sh -c "SCRIPT"` for an `Exec…=` line.
fn shell_line(script: &str) -> String {
    format!("/bin/sh -c {}", word(script))
}

struct Unit {
    text: String,
    /// The `.env` file of its secret-named variables, if any.
    secrets: Option<String>,
    /// What could not be expressed.
    notes: Vec<String>,
}

impl Unit {
    #[allow(clippy::too_many_lines, reason = "one unit, section by section")]
    fn new(config: &Config, options: &Options, s: &ServiceConfig, which: Which<'_>) -> Self {
        let mut notes: Vec<String> = Vec::new();
        let path_var = s.env.0.get("PATH").map(String::as_str);
        let command = |argv: &[String], what: &str, notes: &mut Vec<String>| -> String {
            let Some((program, args)) = argv.split_first() else {
                return String::new();
            };
            let program = which(program, path_var).map_or_else(
                || {
                    notes.push(format!(
                        "{what}: `{program}` is not on PATH here; the unit names it as written (systemd wants an absolute path)"
                    ));
                    program.clone()
                },
                |p| p.display().to_string(),
            );
            std::iter::once(word(&program))
                .chain(args.iter().map(|a| word(a)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let backstop = |args: &str| -> String {
            format!(
                "{} -c {} {args}",
                sh_word(&options.backstop.display().to_string()),
                sh_word(&config.path.display().to_string())
            )
        };
        let this = unit_name(options, &s.name);
        let mut unit = String::new();
        let mut service = String::new();

        // [Unit]
        let _ = writeln!(
            unit,
            "Description={} (backstop service from {})",
            s.name,
            config.path.display()
        );
        let mut after = vec!["network.target".to_string()];
        let mut wants = Vec::new();
        let mut requires = Vec::new();
        let mut waits = Vec::new();
        for d in &s.depends_on {
            let dep = unit_name(options, &d.service);
            after.push(dep.clone());
            match d.condition {
                DependencyCondition::Started => wants.push(dep),
                DependencyCondition::Healthy => {
                    wants.push(dep);
                    waits.push(d.service.clone());
                }
                DependencyCondition::Completed => requires.push(dep),
            }
        }
        let _ = writeln!(unit, "After={}", after.join(" "));
        if !wants.is_empty() {
            let _ = writeln!(unit, "Wants={}", wants.join(" "));
        }
        if !requires.is_empty() {
            let _ = writeln!(unit, "Requires={}", requires.join(" "));
        }
        let _ = writeln!(unit, "PartOf={}.target", options.prefix);
        let r = &s.restart;
        if r.policy != RestartPolicy::Never {
            let _ = writeln!(
                unit,
                "# crash loop: more than max_restarts = {} restarts within {} stops the restarts",
                r.max_restarts,
                span(r.window)
            );
            let _ = writeln!(unit, "StartLimitIntervalSec={}", span(r.window));
            let _ = writeln!(unit, "StartLimitBurst={}", r.max_restarts.saturating_add(1));
        }

        // [Service]
        let job = is_job(config, s);
        if let Some(spec) = &s.job {
            let _ = writeln!(
                service,
                "# a scheduled job: each run is started by {}\nType=oneshot",
                timer_name(options, &s.name)
            );
            if let Some(t) = spec.timeout {
                let _ = writeln!(service, "TimeoutStartSec={}", span(t));
            }
        } else if job {
            let _ = writeln!(
                service,
                "# others wait for it to complete: a one-shot job\nType=oneshot\nRemainAfterExit=yes"
            );
        } else {
            let _ = writeln!(service, "Type=exec");
        }
        let _ = writeln!(
            service,
            "WorkingDirectory={}",
            word(&s.dir.display().to_string())
        );
        if let Some(u) = &s.user {
            let _ = writeln!(service, "User={u}");
        }
        if let Some(g) = &s.group {
            let _ = writeln!(service, "Group={g}");
        }
        if let Some(f) = &s.env_file {
            let _ = writeln!(
                service,
                "EnvironmentFile={}",
                word(&f.display().to_string())
            );
        }
        let mut secrets = String::new();
        for (k, v) in &s.env.0 {
            if backstop_diagnose::redact::is_secret_name(k) {
                let _ = writeln!(secrets, "{k}={v}");
            } else {
                let _ = writeln!(service, "Environment={}", assignment(k, v));
            }
        }
        let secrets = (!secrets.is_empty()).then_some(secrets);
        if secrets.is_some() {
            let env = format!("{}-{}.env", options.prefix, s.name);
            let _ = writeln!(
                service,
                "# secret-named variables: install {env} as /etc/backstop/{env}, mode 0600 (units are world-readable)\nEnvironmentFile=%E/backstop/{env}"
            );
        }
        for dep in &waits {
            let _ = writeln!(
                service,
                "# depends_on {dep} = \"healthy\": its unit is active only once its checks pass (its ExecStartPost=)"
            );
        }
        if let Some(h) = &s.pre_start {
            let _ = writeln!(
                service,
                "ExecStartPre={}",
                command(&h.command, "pre_start", &mut notes)
            );
        }
        let _ = writeln!(
            service,
            "ExecStart={}",
            command(&s.command, "command", &mut notes)
        );
        let checked: Vec<&str> = s
            .health
            .iter()
            .filter(|c| c.name != "limits")
            .map(|c| c.name.as_str())
            .collect();
        if !checked.is_empty() {
            let _ = writeln!(
                service,
                "# ready once its checks ({}) pass: until then the unit is starting, and what\n# depends on it waits; never within TimeoutStartSec is a failed start",
                checked.join(", ")
            );
            let script = format!(
                "until {} >/dev/null 2>&1; do sleep 1; done",
                backstop(&format!("check {}", sh_word(&s.name)))
            );
            let _ = writeln!(service, "ExecStartPost={}", shell_line(&script));
        }
        if let Some(c) = &s.stop.command {
            let _ = writeln!(
                service,
                "ExecStop={}",
                command(c, "stop.command", &mut notes)
            );
        }
        if let Some(h) = &s.post_stop {
            let _ = writeln!(
                service,
                "ExecStopPost={}",
                command(&h.command, "post_stop", &mut notes)
            );
        }
        let policy = match r.policy {
            RestartPolicy::Always => "always",
            RestartPolicy::OnFailure => "on-failure",
            RestartPolicy::Never => "no",
        };
        let _ = writeln!(service, "Restart={policy}");
        if r.policy != RestartPolicy::Never {
            let _ = writeln!(service, "RestartSec={}", span(r.backoff_initial));
            if let Some(steps) = restart_steps(r.backoff_initial, r.backoff_max, r.backoff_factor) {
                let _ = writeln!(
                    service,
                    "# exponential backoff: x{} per restart up to {}",
                    r.backoff_factor,
                    span(r.backoff_max)
                );
                if options.systemd_version >= RESTART_STEPS_SINCE {
                    let _ = writeln!(service, "RestartSteps={steps}");
                    let _ = writeln!(service, "RestartMaxDelaySec={}", span(r.backoff_max));
                } else {
                    let _ = writeln!(
                        service,
                        "# RestartSteps={steps} and RestartMaxDelaySec={} need systemd {RESTART_STEPS_SINCE}; this one ({}) restarts every RestartSec",
                        span(r.backoff_max),
                        options.systemd_version
                    );
                    notes.push(format!(
                        "exponential backoff needs systemd {RESTART_STEPS_SINCE} (RestartSteps=); for systemd {} the unit restarts every {}",
                        options.systemd_version,
                        span(r.backoff_initial)
                    ));
                }
            }
        }
        let _ = writeln!(
            service,
            "KillMode={}",
            match s.stop.mode {
                StopMode::Group => "control-group",
                StopMode::Main => "mixed",
            }
        );
        let _ = writeln!(service, "KillSignal=SIG{}", s.stop.signal.name);
        let _ = writeln!(service, "TimeoutStopSec={}", span(s.stop.timeout));
        match s.startup {
            Some(t) => {
                let _ = writeln!(service, "TimeoutStartSec={}", span(t));
            }
            None if !checked.is_empty() => {
                let _ = writeln!(
                    service,
                    "# no `startup` set: systemd's default start timeout (90 s) bounds the wait"
                );
            }
            None => {}
        }
        let l = &s.limits;
        if let Some(b) = l.memory_warn {
            let _ = writeln!(
                service,
                "# memory_warn: backstop only reports it; MemoryHigh= throttles the service above it"
            );
            let _ = writeln!(service, "MemoryHigh={b}");
        }
        if let Some(b) = l.memory_max {
            let _ = writeln!(service, "MemoryMax={b}");
        }
        if let Some(p) = l.cpu_max {
            let _ = writeln!(service, "CPUQuota={p}%");
        }
        if let Some(n) = l.pids_max {
            let _ = writeln!(service, "TasksMax={n}");
        }
        if let Some(n) = l.nofile {
            let _ = writeln!(service, "LimitNOFILE={n}");
        }
        if let Some(p) = l.cpu_warn {
            let _ = writeln!(
                service,
                "# cpu_warn = {p}% has no systemd equivalent (not exported)"
            );
            notes.push(format!("cpu_warn = {p}% has no systemd equivalent"));
        }
        let readiness: Vec<&str> = s
            .health
            .iter()
            .filter(|c| c.on_failure == OnFailure::Report && c.name != "limits")
            .map(|c| c.name.as_str())
            .collect();
        if !readiness.is_empty() {
            let _ = writeln!(
                service,
                "# after the start, the readiness checks ({}) only report, as in backstop: systemd\n# keeps no health state; `backstop check {}` or Prometheus alerts watch them",
                readiness.join(", "),
                s.name
            );
        }
        if s.watch.is_some() {
            let _ = writeln!(
                service,
                "# watch (restart on file changes) is for development: not exported"
            );
            notes.push("watch is for development and is not exported".to_string());
        }
        if s.port.is_some() {
            let _ = writeln!(
                service,
                "# port = {}: backstop's check for a stale instance before each start is not exported",
                s.port.unwrap_or_default()
            );
        }

        let mut text = format!(
            "# Written by `backstop export systemd` from {} (service {}).\n# Output goes to the journal: journalctl -u {this}\n",
            config.path.display(),
            s.name
        );
        let _ = write!(text, "[Unit]\n{unit}\n[Service]\n{service}");
        if s.is_job() {
            text.push_str("\n# started by its timer, never at boot by itself\n");
        } else if s.disabled {
            text.push_str(
                "\n# disabled = true: not started with the others; `systemctl start` it by name\n",
            );
        } else {
            let _ = write!(text, "\n[Install]\nWantedBy={}.target\n", options.prefix);
        }
        Self {
            text,
            secrets,
            notes,
        }
    }
}

/// Is `s` a job others wait to complete (`depends_on = { s = "completed" }`)?
fn is_job(config: &Config, s: &ServiceConfig) -> bool {
    config.services.iter().any(|o| {
        o.depends_on
            .iter()
            .any(|d| d.service == s.name && d.condition == DependencyCondition::Completed)
    })
}

/// How many steps take the delay from `initial` to `max` at `factor` a
/// restart (`None`: no growth to express).
fn restart_steps(initial: Duration, max: Duration, factor: f64) -> Option<u32> {
    if initial.is_zero() || max <= initial || factor <= 1.0 {
        return None;
    }
    let steps = (max.as_secs_f64() / initial.as_secs_f64()).ln() / factor.ln();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some((steps.ceil() as u32).clamp(1, 3000))
}

/// The liveness checks as a timer and a one-shot that restarts the service
/// after `failures` failing runs in a row (state in /run).
fn check_units(config: &Config, options: &Options, s: &ServiceConfig) -> Option<(String, String)> {
    let liveness: Vec<_> = s
        .health
        .iter()
        .filter(|c| c.on_failure == OnFailure::Restart)
        .collect();
    let interval = liveness.iter().map(|c| c.interval).min()?;
    let failures = liveness
        .iter()
        .map(|c| c.failures)
        .min()
        .unwrap_or(1)
        .max(1);
    let this = unit_name(options, &s.name);
    let fails = format!("/run/{}-{}.fails", options.prefix, s.name);
    let check = format!(
        "{} -c {} check {}",
        sh_word(&options.backstop.display().to_string()),
        sh_word(&config.path.display().to_string()),
        sh_word(&s.name)
    );
    let script = format!(
        "systemctl is-active --quiet {this} || exit 0; if {check} >/dev/null 2>&1; then rm -f {fails}; else n=$(( $(cat {fails} 2>/dev/null || echo 0) + 1 )); if [ $n -ge {failures} ]; then rm -f {fails}; systemctl restart {this}; else echo $n > {fails}; fi; fi"
    );
    let names: Vec<&str> = liveness.iter().map(|c| c.name.as_str()).collect();
    let service = format!(
        "# Written by `backstop export systemd`: {name}'s liveness checks ({checks}).\n\
         [Unit]\n\
         Description=liveness checks of {name}: restart it after {failures} failures in a row\n\
         After={this}\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         ExecStart={exec}\n",
        name = s.name,
        checks = names.join(", "),
        exec = shell_line(&script),
    );
    let first = s.startup.unwrap_or(interval);
    let timer = format!(
        "# Written by `backstop export systemd`: runs {base}-check.service every {every}.\n\
         [Unit]\n\
         Description=run the liveness checks of {name} every {every}\n\
         PartOf={this}\n\
         \n\
         [Timer]\n\
         OnActiveSec={first}\n\
         OnUnitActiveSec={every}\n\
         AccuracySec=1s\n\
         \n\
         [Install]\n\
         WantedBy={prefix}.target\n",
        base = format_args!("{}-{}", options.prefix, s.name),
        name = s.name,
        every = span(interval),
        first = span(first),
        prefix = options.prefix,
    );
    Some((service, timer))
}

fn target(config: &Config, options: &Options, wanted: &[String]) -> String {
    format!(
        "# Written by `backstop export systemd`: every service of {path}.\n\
         # systemctl start {prefix}.target starts them (in dependency order);\n\
         # systemctl enable {prefix}.target starts them at boot.\n\
         [Unit]\n\
         Description=the services of {path} (exported from backstop)\n\
         Wants={wanted}\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        path = config.path.display(),
        prefix = options.prefix,
        wanted = wanted.join(" "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_escaped_as_systemd_reads_them() {
        assert_eq!(word("app.py"), "app.py");
        assert_eq!(word("a b"), "\"a b\"");
        assert_eq!(word("100%"), "100%%");
        assert_eq!(word("$HOME"), "$$HOME");
        assert_eq!(word("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(word(""), "\"\"");
        assert_eq!(word("set -e\nexit 0"), "\"set -e\\nexit 0\"");
        assert_eq!(
            assignment("GREETING", "a \"b\" 5%"),
            "\"GREETING=a \\\"b\\\" 5%%\""
        );
    }

    #[test]
    fn backoff_steps_reach_the_maximum() {
        let s = Duration::from_secs;
        // 1 s doubling to 30 s: 1, 2, 4, 8, 16, 32 → 5 steps.
        assert_eq!(restart_steps(s(1), s(30), 2.0), Some(5));
        assert_eq!(restart_steps(s(1), s(1), 2.0), None);
        assert_eq!(restart_steps(Duration::ZERO, s(30), 2.0), None);
        assert_eq!(restart_steps(s(1), s(30), 1.0), None);
    }

    #[test]
    fn spans_keep_milliseconds() {
        assert_eq!(span(Duration::from_millis(1500)), "1500ms");
        assert_eq!(span(Duration::from_secs(300)), "300s");
    }
}
