//! `backstop export runbook`: the operations document, derived from the
//! config so it is never out of date: what runs and in which order (a
//! Mermaid diagram), each check with the command a person would type
//! instead, where the logs are and how to search them, limits and alert
//! thresholds and what they mean, the playbooks and when they run, how to
//! diagnose, and where a problem goes when automation gives up.
//!
//! No secret is written: URLs and DSNs lose their passwords, env values
//! and alert sink addresses are not shown, and the whole text goes through
//! the config's redactor (a secret flag on an exec check's command line).

use std::fmt::Write as _;
use std::time::Duration;

use backstop_config::{
    AlertSeverity, Config, DependencyCondition, HealthCheck, OnFailure, Probe, RestartPolicy,
    ServiceConfig, SinkKind, redact_url,
};

use super::Export;

fn span(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

fn bytes(b: u64) -> String {
    #[allow(clippy::cast_precision_loss, reason = "a figure for people")]
    let mb = b as f64 / 1e6;
    if mb >= 1000.0 {
        format!("{:.1} GB", mb / 1000.0)
    } else {
        format!("{mb:.0} MB")
    }
}

/// A shell word, single-quoted when needed.
fn sh(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:=@,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// What a check tests, and the command a person would run instead.
fn check_by_hand(c: &HealthCheck) -> (String, String) {
    let timeout = c.timeout.as_secs().max(1);
    match &c.probe {
        Probe::Http(h) => {
            let mut cmd = format!("curl -fsS -m {timeout}");
            if h.method != "GET" {
                let _ = write!(cmd, " -X {}", h.method);
            }
            for k in h.headers.0.keys() {
                let _ = write!(cmd, " -H {}", sh(&format!("{k}: …")));
            }
            if h.insecure {
                cmd.push_str(" -k");
            }
            let _ = write!(cmd, " {}", sh(&redact_url(&h.url)));
            let mut what = format!("{} {} answers", h.method, redact_url(&h.url));
            if !h.status.is_empty() {
                let codes: Vec<String> = h.status.iter().map(u16::to_string).collect();
                let _ = write!(what, " {}", codes.join(" or "));
            }
            if !h.json.is_empty() {
                what.push_str(" with JSON conditions");
                cmd.push_str(" | jq .");
            }
            (what, cmd)
        }
        Probe::Tcp { address } => {
            let (host, port) = address.rsplit_once(':').unwrap_or((address, ""));
            (
                format!("{address} accepts a connection"),
                format!(
                    "nc -z -w {timeout} {} {port}",
                    host.trim_matches(['[', ']'])
                ),
            )
        }
        Probe::Exec { command } => (
            "the command exits 0".to_string(),
            command.iter().map(|a| sh(a)).collect::<Vec<_>>().join(" "),
        ),
        Probe::Postgres { dsn, .. } => (
            format!("PostgreSQL at {} answers SELECT 1", dsn.redacted()),
            format!("psql {} -c 'SELECT 1'", sh(&dsn.redacted())),
        ),
        Probe::Redis { url, .. } => (
            format!("Redis at {} answers PING", url.redacted()),
            format!("redis-cli -u {} PING", sh(&url.redacted())),
        ),
        Probe::Disk {
            path,
            max_used,
            max_inodes,
        } => (
            format!(
                "the filesystem of {} is under {max_used}% used and {max_inodes}% of inodes",
                path.display()
            ),
            format!(
                "df -h {p} && df -i {p}",
                p = sh(&path.display().to_string())
            ),
        ),
        Probe::Process(_) => (
            "memory and CPU of the whole process tree under its limits".to_string(),
            "backstop status SERVICE".to_string(),
        ),
    }
}

/// The services in an order that starts each after what it depends on.
fn start_order(services: &[ServiceConfig]) -> Vec<&ServiceConfig> {
    let mut done: Vec<&ServiceConfig> = Vec::new();
    let mut left: Vec<&ServiceConfig> = services.iter().collect();
    while !left.is_empty() {
        let before = left.len();
        left.retain(|s| {
            let ready = s
                .depends_on
                .iter()
                .all(|d| done.iter().any(|x| x.name == d.service));
            if ready {
                done.push(s);
            }
            !ready
        });
        if left.len() == before {
            // A cycle would have been refused by `validate`; keep the rest as declared.
            done.append(&mut left);
        }
    }
    done
}

/// A command line for a table cell: one line, at most 72 characters.
fn short_command(argv: &[String]) -> String {
    let line = argv
        .iter()
        .map(|a| a.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(" ");
    if line.chars().count() > 72 {
        format!("{} …", line.chars().take(70).collect::<String>().trim_end())
    } else {
        line
    }
}

fn node(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The runbook of `config`.
#[allow(clippy::too_many_lines, reason = "one document, section by section")]
pub(crate) fn export(config: &Config, project: &str) -> Export {
    let mut md = String::new();
    let path = config.path.display();
    let state = config.daemon.state_dir.display();
    let services = &config.declared;
    let _ = writeln!(md, "# Runbook: {project}\n");
    let _ = writeln!(
        md,
        "Generated by `backstop export runbook` from `{path}`: regenerate it after every change to the config (it is derived, so it is never out of date when you do).\n"
    );

    // Overview
    let _ = writeln!(md, "## Overview\n");
    let _ = writeln!(
        md,
        "backstop supervises {} service{} on this host from `{path}`; its state (socket, logs, event history, diagnostic bundles) is in `{state}`.",
        services.len(),
        if services.len() == 1 { "" } else { "s" }
    );
    if let Some(addr) = config.daemon.listen {
        let _ = writeln!(
            md,
            "The dashboard and the HTTP API are at {} (`/health`, `/metrics` open; actions need the token{}).",
            backstop_api::dashboard::url(addr),
            match &config.daemon.token {
                Some(backstop_config::TokenSource::File(f)) => format!(" in `{}`", f.display()),
                Some(backstop_config::TokenSource::Env(v)) => format!(" in `${v}`"),
                None => String::new(),
            }
        );
    }
    let _ = writeln!(
        md,
        "\n| service | command | port | depends on | restarts | checks |\n|---|---|---|---|---|---|"
    );
    for s in services {
        let deps: Vec<String> = s
            .depends_on
            .iter()
            .map(|d| format!("{} ({})", d.service, d.condition.as_str()))
            .collect();
        let restart = match s.restart.policy {
            RestartPolicy::Never => "never".to_string(),
            p => format!(
                "{}, backoff {} → {}, crash loop after {} in {}",
                p.as_str(),
                span(s.restart.backoff_initial),
                span(s.restart.backoff_max),
                s.restart.max_restarts,
                span(s.restart.window)
            ),
        };
        let checks: Vec<&str> = s
            .health
            .iter()
            .filter(|c| c.name != "limits")
            .map(|c| c.name.as_str())
            .collect();
        let mut name = s.name.clone();
        if let Some(n) = s.instances {
            let _ = write!(name, " (×{n})");
        }
        if s.disabled {
            name.push_str(" (disabled)");
        }
        let _ = writeln!(
            md,
            "| {name} | `{}` | {} | {} | {restart} | {} |",
            short_command(&s.command).replace('|', "\\|"),
            s.port.map_or_else(|| "–".to_string(), |p| p.to_string()),
            if deps.is_empty() {
                "–".to_string()
            } else {
                deps.join(", ")
            },
            if checks.is_empty() {
                "–".to_string()
            } else {
                checks.join(", ")
            },
        );
    }

    // Start order
    let _ = writeln!(md, "\n## Start order\n");
    let _ = writeln!(
        md,
        "`backstop up` starts each service once what it depends on has reached its condition (started, healthy, or completed for a one-shot job); `backstop down` stops them in reverse.\n"
    );
    let _ = writeln!(md, "```mermaid\ngraph LR");
    for s in services {
        let _ = writeln!(md, "  {}[\"{}\"]", node(&s.name), s.name);
    }
    for s in services {
        for d in &s.depends_on {
            let _ = writeln!(
                md,
                "  {} -->|{}| {}",
                node(&d.service),
                d.condition.as_str(),
                node(&s.name)
            );
        }
    }
    let _ = writeln!(md, "```\n");
    for (i, s) in start_order(services).iter().enumerate() {
        let _ = writeln!(md, "{}. {}", i + 1, s.name);
    }

    // Everyday commands
    let _ = writeln!(md, "\n## Everyday commands\n");
    let _ = writeln!(
        md,
        "```sh\nbackstop -c {p} up -d        # start everything, in order\nbackstop -c {p} status       # state, health, pid, uptime, restarts, memory\nbackstop -c {p} top          # the same, live\nbackstop -c {p} restart NAME # stop, then start (waits for the result)\nbackstop -c {p} reload       # re-read the config; restart only what changed\nbackstop -c {p} down         # stop everything, then the daemon\n```",
        p = sh(&config.path.display().to_string())
    );

    // Health checks
    let _ = writeln!(md, "\n## Health checks\n");
    let _ = writeln!(
        md,
        "`backstop check` runs them all once (exit 0 healthy, 1 degraded, 2 unhealthy); each line below is what the check does, and how to see it by hand.\n"
    );
    let mut any = false;
    for s in services {
        for c in s.health.iter().filter(|c| c.name != "limits") {
            any = true;
            let (what, cmd) = check_by_hand(c);
            let cmd = cmd.replace("SERVICE", &s.name);
            let effect = match c.on_failure {
                OnFailure::Restart => "restarts it",
                OnFailure::Report => "marks it unhealthy",
            };
            let _ = writeln!(
                md,
                "- **{}: {}**: {what}; every {}, timeout {}; {} failures in a row {effect}.\n  By hand: `{cmd}`",
                s.name,
                c.name,
                span(c.interval),
                span(c.timeout),
                c.failures
            );
        }
    }
    for c in &config.checks {
        any = true;
        let (what, cmd) = check_by_hand(&c.check);
        let _ = writeln!(
            md,
            "- **{} (`[checks]`, {})**: {what}; every {}. By hand: `{cmd}`",
            c.name,
            severity(c.severity),
            span(c.check.interval)
        );
    }
    if !any {
        let _ = writeln!(
            md,
            "None: a service counts as healthy while its process runs. Add `[[services.NAME.health]]` checks."
        );
    }

    // Logs
    let _ = writeln!(md, "\n## Logs\n");
    let _ = writeln!(
        md,
        "Every line each service writes is kept, timestamped, in `{state}/logs/NAME.log`, rotated and compressed:\n"
    );
    for s in services {
        let l = &s.logs;
        let _ = writeln!(
            md,
            "- {}: rotated at {}, {} kept{}{}",
            s.name,
            bytes(l.max_size),
            l.keep,
            l.max_age
                .map_or_else(String::new, |a| format!(", none older than {}", span(a))),
            match l.stderr {
                backstop_config::StderrFile::Separate => ", stderr in its own file",
                backstop_config::StderrFile::Merged => "",
            }
        );
    }
    let _ = writeln!(
        md,
        "\n```sh\nbackstop logs NAME -f                              # follow\nbackstop logs NAME --since 1h --grep 'Traceback|ERROR'   # search, rotated files included\nbackstop events NAME --since 1d                    # starts, exits, restarts, health changes\n```"
    );

    // Limits and alerts
    let _ = writeln!(md, "\n## Limits and alerts\n");
    let mut limited = false;
    for s in services {
        let l = &s.limits;
        let mut parts = Vec::new();
        if let Some(b) = l.memory_warn {
            parts.push(format!("above {} of memory it is degraded", bytes(b)));
        }
        if let Some(b) = l.memory_max {
            parts.push(format!(
                "above {} it is restarted (in cgroup mode the kernel holds it there)",
                bytes(b)
            ));
        }
        if let Some(p) = l.cpu_warn {
            parts.push(format!(
                "above {p}% of a core for {} it is degraded",
                span(l.cpu_for.unwrap_or(Duration::from_secs(60)))
            ));
        }
        if let Some(p) = l.cpu_max {
            parts.push(format!("the kernel caps it at {p}% of a core"));
        }
        if let Some(n) = l.pids_max {
            parts.push(format!("at most {n} processes"));
        }
        if let Some(n) = l.nofile {
            parts.push(format!("{n} open files"));
        }
        if !parts.is_empty() {
            limited = true;
            let _ = writeln!(md, "- {}: {}.", s.name, parts.join("; "));
        }
    }
    if !limited {
        let _ = writeln!(md, "No service has `limits`.");
    }
    let a = &config.alerts;
    let _ = writeln!(
        md,
        "\nAlerts fire once per incident and resolve once (repeated every {} while it lasts):\n\n| alert | when | severity |\n|---|---|---|\n| service-down | a service is in crash loop, failed, or never became healthy | critical |\n| service-unhealthy / service-degraded | a running service's checks fail | critical / warning |\n| memory-max | a service went over its `memory_max` and was restarted | critical |\n| restarts | more than {} restarts of a service in an hour | warning |\n| error-rate | more than {} error lines in a minute | warning |\n| disk-space | the disk holding `{state}` is more than {}% full | warning |\n| check-failing | a `[checks]` entry fails | its severity |\n| escalation | automatic remediation gave up | critical |",
        span(a.repeat),
        a.restarts_per_hour,
        a.error_lines_per_minute,
        a.disk_used_percent
    );
    if a.sinks.is_empty() {
        let _ = writeln!(
            md,
            "\nNo `[alerts.sinks]` are configured: alerts are only events (`backstop events --kind alert-fired`). Add one so a person hears of them."
        );
    } else {
        let _ = writeln!(md, "\nThey go to:\n");
        for sink in &a.sinks {
            let kind = match &sink.kind {
                SinkKind::Webhook { .. } => "a webhook",
                SinkKind::Command { .. } => "a command",
                SinkKind::Alertmanager { .. } => "Alertmanager",
            };
            let _ = writeln!(
                md,
                "- `{}`: {kind}, alerts of severity {} and above",
                sink.name,
                severity(sink.min_severity)
            );
        }
    }

    // When something breaks
    let _ = writeln!(md, "\n## When a service fails\n");
    let _ = writeln!(
        md,
        "1. `backstop status`: which service, which state, its last exit.\n2. `backstop diagnose NAME`: the root cause on the first line, with the evidence lines and the fix; a redacted bundle in `{state}/diagnostics/` (attach it to the ticket). The daemon diagnoses by itself when a service enters a crash loop or never becomes healthy (`diagnosis` under it in `backstop status`).\n3. Apply the fix it names: an edit, or a playbook, `backstop fix NAME PLAYBOOK --dry-run` first, then without `--dry-run`; backstop runs it and verifies the service is healthy.\n4. `backstop events NAME --since 1h` and `backstop logs NAME --since 1h` for the story."
    );
    let _ = writeln!(md, "\n### Playbooks\n");
    let mut playbooks = backstop_config::playbooks::builtin();
    for p in &config.playbooks {
        playbooks.retain(|b| b.name != p.name);
        playbooks.push(p.clone());
    }
    for p in &playbooks {
        let steps: Vec<&str> = p.steps.iter().map(|s| s.action.name()).collect();
        let _ = writeln!(md, "- `{}`: {}", p.name, steps.join(" → "));
    }
    if config.remediate.is_empty() {
        let _ = writeln!(
            md,
            "\nNo `[[remediate]]` rules: playbooks run only by hand (`backstop fix`)."
        );
    } else {
        let _ = writeln!(md, "\nRun by themselves (`[[remediate]]`):\n");
        for r in &config.remediate {
            let _ = writeln!(
                md,
                "- {}{}: at most {} run{} per service in {}, then an escalation",
                r.describe(),
                if r.hold.is_zero() {
                    String::new()
                } else {
                    format!(" (after {})", span(r.hold))
                },
                r.max_runs,
                if r.max_runs == 1 { "" } else { "s" },
                span(r.per)
            );
        }
    }

    // Escalation
    let _ = writeln!(md, "\n## Escalation\n");
    // A sink's severity is a lower bound: every sink receives critical alerts.
    let critical: Vec<&str> = a.sinks.iter().map(|s| s.name.as_str()).collect();
    let _ = writeln!(
        md,
        "When automation cannot help (a playbook failed its verification, or a rule spent its budget), backstop raises an `escalation` alert, critical, with what was tried{}. From there a person follows the steps above; the diagnostic bundle and `backstop events` hold what happened.",
        if critical.is_empty() {
            " (no sink receives it: configure one)".to_string()
        } else {
            format!(
                " to {}",
                critical
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    let jobs: Vec<&str> = services
        .iter()
        .filter(|s| {
            services.iter().any(|o| {
                o.depends_on
                    .iter()
                    .any(|d| d.service == s.name && d.condition == DependencyCondition::Completed)
            })
        })
        .map(|s| s.name.as_str())
        .collect();
    if !jobs.is_empty() {
        let _ = writeln!(
            md,
            "\nOne-shot jobs others wait for ({}): when one fails, what depends on it stays pending; `backstop logs JOB` shows why, `backstop start JOB` runs it again.",
            jobs.join(", ")
        );
    }
    let mut out = Export::default();
    // Commands quoted here (exec checks, playbooks) may carry a secret on
    // their command line: the same redactor as every other outward text.
    let md = backstop_diagnose::redact::Redactor::for_config(config)
        .redact(&md)
        .into_owned();
    out.files.push(("RUNBOOK.md".to_string(), md));
    out
}

fn severity(s: AlertSeverity) -> &'static str {
    match s {
        AlertSeverity::Critical => "critical",
        AlertSeverity::Warning => "warning",
        AlertSeverity::Info => "info",
    }
}
