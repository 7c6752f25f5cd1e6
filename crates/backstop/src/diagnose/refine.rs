//! What the rules cannot know, filled in after ranking: the config name of
//! a refused address, the process holding a port now, and `crashed` quoting
//! the right lines; evidence that does not apply is dropped.

use backstop_config::{Config, ServiceConfig};
use backstop_diagnose::{Cause, Evidence};
use backstop_logs::ErrorPatterns;
use backstop_supervisor::ports;

use super::bundle::{FILES, Part};
use super::history;
use super::probes::CheckFacts;

/// `regex` compiled once, on first use.
macro_rules! constant_regex {
    ($pattern:expr) => {{
        static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
            regex::Regex::new($pattern).expect("UNWRAP: a constant pattern")
        });
        &*RE
    }};
}

/// Fills in what the rules cannot know, and drops what does not apply.
pub(super) fn refine(
    causes: &mut Vec<Cause>,
    config: &Config,
    service: &ServiceConfig,
    checks: &CheckFacts,
    evidence: &[Evidence],
    view: &history::View,
    preflight_failed: bool,
) {
    // A failing check of the service itself only shows that it is unhealthy.
    for c in causes.iter_mut() {
        if c.id != "unhealthy" && c.id != "startup-timeout" {
            c.evidence
                .retain(|e| !checks.own_lines.contains(&(e.source.clone(), e.line)));
        }
    }
    causes.retain(|c| !c.evidence.is_empty());
    for c in causes.iter_mut() {
        match c.id.as_str() {
            "dependency-unavailable" | "dependency-auth-failed" => {
                name_dependency(c, config, &service.name);
                if c.id == "dependency-unavailable" {
                    with_dependency_figures(c, checks);
                }
            }
            "port-in-use" => name_port_holder(c, service, &config.daemon.state_dir),
            "syntax-error" => locate(c, evidence),
            "workdir-missing" => follow_symlinks(c, &service.dir),
            "startup-timeout" => add_check_detail(c, checks, evidence),
            _ => {}
        }
    }
    if causes.is_empty() && (history::is_fault(&view.state) || preflight_failed) {
        causes.push(crashed(evidence, service, view));
    }
    // Running, but degraded because a dependency is down: the daemon said
    // which (`dependency postgres is stopped`); that is the cause.
    if causes.is_empty()
        && let Some(detail) = view
            .live
            .as_ref()
            .filter(|s| s.health != backstop_api::Health::Healthy)
            .and_then(|s| s.detail.clone())
            .filter(|d| d.starts_with("dependency "))
    {
        let dependency = detail
            .trim_start_matches("dependency ")
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        causes.push(Cause {
            id: "dependency-unavailable".to_string(),
            confidence: 0.9,
            summary: format!("its {detail}; it keeps running, degraded, until {dependency} is back"),
            // The line of 02-status.txt that says it, else the detail itself.
            evidence: vec![
                evidence
                    .iter()
                    .find(|e| e.source == FILES[Part::Status as usize] && e.text.contains(&detail))
                    .cloned()
                    .unwrap_or(Evidence {
                        source: "status".to_string(),
                        line: None,
                        text: format!("{}: {detail}", service.name),
                    }),
            ],
            remedy: backstop_diagnose::Remedy {
                playbook: None,
                manual: Some(format!(
                    "bring {dependency} back: `backstop diagnose {dependency}` says why it is down, `backstop start {dependency}` starts it"
                )),
            },
        });
    }
    // A remedy names the service, not a placeholder to fill in by hand.
    for c in causes.iter_mut() {
        if let Some(m) = &mut c.remedy.manual {
            *m = m
                .replace(" SERVICE ", &format!(" {} ", service.name))
                .replace(" SERVICE`", &format!(" {}`", service.name));
        }
    }
}

/// `… does not parse: invalid syntax` → `… (/srv/main.py, line 12)`: the
/// file and line from the lines before the error (Python's `File "…", line
/// N`, Node's `/app/server.js:3`).
fn locate(c: &mut Cause, evidence: &[Evidence]) {
    if c.summary.contains(", line ") {
        return; // the terminal error said where
    }
    let Some(last) = c.evidence.last() else {
        return;
    };
    let Some(at) = evidence.iter().position(|e| e == last) else {
        return;
    };
    let python = constant_regex!(r#"File "(?P<file>[^"]+)", line (?P<line>\d+)"#);
    let node = constant_regex!(r"^(?P<file>/\S+\.[cm]?[jt]s):(?P<line>\d+)$");
    let found = evidence[at.saturating_sub(6)..at]
        .iter()
        .rev()
        .filter(|e| e.source == last.source)
        .find_map(|e| {
            python
                .captures(&e.text)
                .or_else(|| node.captures(e.text.trim()))
                .map(|m| (m["file"].to_string(), m["line"].to_string(), e.clone()))
        });
    if let Some((file, line, e)) = found {
        c.summary = format!("{} ({file}, line {line})", c.summary);
        if !c.evidence.contains(&e) {
            let n = c.evidence.len() - 1;
            c.evidence.insert(n, e);
        }
    }
}

/// A missing `dir` is often a release symlink left pointing at a removed
/// release: name the link and where it points.
fn follow_symlinks(c: &mut Cause, dir: &std::path::Path) {
    let dangling = dir.ancestors().find_map(|p| {
        let meta = std::fs::symlink_metadata(p).ok()?;
        if !meta.file_type().is_symlink() || p.exists() {
            return None;
        }
        std::fs::read_link(p)
            .ok()
            .map(|target| (p.to_path_buf(), target))
    });
    if let Some((link, target)) = dangling {
        c.summary = format!(
            "{}: {} is a symlink to {}, which does not exist",
            c.summary,
            link.display(),
            target.display()
        );
    }
}

/// A startup timeout says what its check saw.
/// A database or cache that fails its check now says why in figures (at
/// its connection limit, its memory full): the summary leads with them.
fn with_dependency_figures(c: &mut Cause, checks: &CheckFacts) {
    let named =
        |owner: &str| c.summary.contains(&format!("`{owner}`")) || c.summary.contains(owner);
    let found = checks
        .failing_dependencies
        .iter()
        .find(|(owner, kind, _)| named(owner) && (kind == "postgres" || kind == "redis"))
        .or_else(|| {
            checks
                .failing_dependencies
                .iter()
                .find(|(_, kind, _)| kind == "postgres" || kind == "redis")
        });
    if let Some((owner, kind, detail)) = found {
        let server = if kind == "postgres" {
            "PostgreSQL"
        } else {
            "Redis"
        };
        c.summary = format!("{server} `{owner}` fails its check now: {detail}");
    }
}

fn add_check_detail(c: &mut Cause, checks: &CheckFacts, evidence: &[Evidence]) {
    let said = evidence
        .iter()
        .rfind(|e| checks.own_lines.contains(&(e.source.clone(), e.line)));
    if let Some(e) = said {
        c.summary = format!("{}; {}", c.summary, e.text);
        if !c.evidence.contains(e) {
            c.evidence.push(e.clone());
        }
    }
}

/// `crashed`, for a service in a fault state (or with a failing preflight)
/// that no rule explains: the last error lines of its log by its own error
/// patterns, else its last log lines, else the last evidence of any kind.
fn crashed(evidence: &[Evidence], service: &ServiceConfig, view: &history::View) -> Cause {
    let logs: Vec<Evidence> = evidence
        .iter()
        .filter(|e| e.source == FILES[Part::Logs as usize])
        .cloned()
        .collect();
    let errors: Vec<Evidence> = match ErrorPatterns::new(&service.logs) {
        Ok(patterns) => logs
            .iter()
            .filter(|e| patterns.is_error(e.text.as_bytes()))
            .cloned()
            .collect(),
        Err(_) => Vec::new(),
    };
    let quoted = [errors.as_slice(), logs.as_slice(), evidence]
        .into_iter()
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    // The terminal error of its own output, not backstop's messages.
    backstop_diagnose::crashed_in(&logs, quoted, last_exit(view).as_deref())
}

/// The last exit, `code 3` or `SIGKILL`: from the daemon, else from the
/// last `exited` event (`api: pid 42 exited with code 3 after 120ms`).
pub(super) fn last_exit(view: &history::View) -> Option<String> {
    if let Some(e) = view.live.as_ref().and_then(|s| s.last_exit.as_ref()) {
        return Some(e.describe());
    }
    let message = &view
        .events
        .iter()
        .rev()
        .find(|e| e.kind == backstop_api::EventKind::Exited)?
        .message;
    let (_, rest) = message.split_once(" exited with ")?;
    Some(rest.split(" after").next().unwrap_or(rest).to_string())
}

/// Ports a text names: `:5432`, `port 5432`.
fn ports_in(text: &str) -> Vec<u16> {
    constant_regex!(r"(?:[\w\]\x22]:|port )(\d{2,5})\b")
        .captures_iter(text)
        .filter_map(|c| c[1].parse().ok())
        .collect()
}

/// `127.0.0.1:5432` → "`postgres` in the config", by the ports of
/// services and the targets of checks (never `own`, the service diagnosed).
fn name_dependency(c: &mut Cause, config: &Config, own: &str) {
    if c.summary.contains('`') {
        return; // already named by its config name
    }
    let mut texts = vec![c.summary.clone()];
    texts.extend(c.evidence.iter().map(|e| e.text.clone()));
    let by_port = texts.iter().flat_map(|t| ports_in(t)).find_map(|port| {
        config
            .services
            .iter()
            .filter(|s| s.name != own)
            .find(|s| {
                s.port == Some(port)
                    || s.health
                        .iter()
                        .any(|h| ports_in(&h.probe.target()).contains(&port))
            })
            .map(|s| format!("service `{}`", s.name))
            .or_else(|| {
                config
                    .checks
                    .iter()
                    .find(|k| ports_in(&k.check.probe.target()).contains(&port))
                    .map(|k| format!("check `{}`", k.name))
            })
    });
    let named = by_port.or_else(|| by_kind(&texts.join("\n"), config, own));
    // Restarting a dependency is backstop's to do only when it runs it.
    if !named.as_deref().is_some_and(|w| w.starts_with("service ")) {
        c.remedy.playbook = None;
    }
    let unnamed = c.summary.ends_with(" ?");
    let stem = c.summary.trim_end_matches('?').to_string();
    match (unnamed, named) {
        (true, Some(who)) => c.summary = format!("{stem}{who}"),
        (true, None) if c.id == "dependency-auth-failed" => {
            c.summary = format!("{stem}a dependency the message does not name");
        }
        (true, None) => c.summary = format!("{stem}(the message names no address)"),
        (false, Some(who)) => c.summary = format!("{}, which is {who} in the config", c.summary),
        (false, None) => {}
    }
}

/// A Redis or PostgreSQL client's message without an address: the one
/// entry of the config that probes that kind of server.
fn by_kind(text: &str, config: &Config, own: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let kind = if ["wrongpass", "noauth", "redis"]
        .iter()
        .any(|w| lower.contains(w))
    {
        "redis"
    } else if ["postgres", "psql", "password authentication failed"]
        .iter()
        .any(|w| lower.contains(w))
    {
        "postgres"
    } else {
        return None;
    };
    let mut found: Vec<String> = config
        .services
        .iter()
        .filter(|s| s.name != own && s.health.iter().any(|h| h.probe.kind() == kind))
        .map(|s| format!("service `{}`", s.name))
        .chain(
            config
                .checks
                .iter()
                .filter(|c| c.check.probe.kind() == kind)
                .map(|c| format!("check `{}`", c.name)),
        )
        .collect();
    (found.len() == 1).then(|| found.remove(0))
}

/// `the port 8000 is already in use` → `… by pid 42 (python3 -m http.server)`.
fn name_port_holder(c: &mut Cause, service: &ServiceConfig, state_dir: &std::path::Path) {
    // The port the message names, the declared one, or a port on the
    // command line that something holds now (`http.server 8000`, `--port 8000`).
    let port = ports_in(&c.summary)
        .into_iter()
        .next()
        .or_else(|| c.evidence.iter().flat_map(|e| ports_in(&e.text)).next())
        .or(service.port)
        .or_else(|| {
            service
                .command
                .iter()
                .filter_map(|w| w.rsplit([':', '=']).next()?.parse::<u16>().ok())
                .find(|p| *p > 0 && ports::is_listening(*p))
        });
    let Some(port) = port else {
        c.summary = "an address it binds is already in use (the message names no port; declare `port` so that backstop names the holder)".to_string();
        return;
    };
    if c.summary.contains('?') {
        c.summary = format!("the port {port} is already in use");
    }
    let holders = ports::holders(port);
    if !c.summary.contains(" in use by ") {
        let who = match holders.first() {
            Some(h) if h.pid > 0 => format!(" by {h}"),
            Some(_) => " by a process backstop cannot see".to_string(),
            None => " (it is free now: the holder has gone)".to_string(),
        };
        // Right after "already in use", before the quoted error.
        c.summary = match c.summary.find("already in use") {
            Some(at) => {
                let end = at + "already in use".len();
                format!("{}{who}{}", &c.summary[..end], &c.summary[end..])
            }
            None => format!("{}{who}", c.summary),
        };
    }
    // `free-port` frees what a leftover of the service holds, or a copy of
    // its command started by hand; a stranger is for a person to stop (and
    // the playbook would refuse it).
    let kin: Vec<backstop_supervisor::rules::port::Kinship> = holders
        .iter()
        .map(|h| backstop_supervisor::leftovers::kinship(h.pid, service, state_dir))
        .collect();
    if kin.contains(&backstop_supervisor::rules::port::Kinship::Stranger) || kin.is_empty() {
        c.remedy.playbook = None;
    } else if kin.iter().any(|k| {
        matches!(
            k,
            backstop_supervisor::rules::port::Kinship::HandStarted { .. }
        )
    }) {
        c.summary = format!(
            "{}: the service's own command, started outside backstop",
            c.summary
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ports_named_in_text() {
        assert_eq!(
            super::ports_in("connect ECONNREFUSED 127.0.0.1:5432"),
            vec![5432]
        );
        assert_eq!(
            super::ports_in("connection to server at \"127.0.0.1\", port 6390 failed"),
            vec![6390]
        );
        assert_eq!(
            super::ports_in("[::1]:8000 and localhost:80"),
            vec![8000, 80]
        );
    }
}
