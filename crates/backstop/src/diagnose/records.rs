//! What backstop recorded: the log tail (`05-logs.txt`), error signatures
//! (`06-errors.txt`), and exits and events (`07-exits.txt`). Only lines of
//! the current attempt are evidence.

use std::time::SystemTime;

use backstop_api::{EventKind, rfc3339};
use backstop_config::{Config, ServiceConfig};
use backstop_logs::{Entry, ErrorPatterns, Query, Source};

use super::bundle::{Bundle, Part};
use super::errors;
use super::history;

/// Log lines per stream in `05-logs.txt` (and searched for causes).
pub(super) const LOG_LINES: usize = 200;
/// Log lines per stream searched for error signatures (`06-errors.txt`).
pub(super) const ERROR_SCAN_LINES: usize = 2000;
/// The last lines of each stream into `05-logs.txt`; those of the current
/// attempt are evidence. Returns the longer tail for error signatures.
pub(super) fn logs(
    b: &mut Bundle,
    config: &Config,
    service: &ServiceConfig,
    episode: Option<SystemTime>,
) -> Vec<Entry> {
    let p = Part::Logs;
    let mut all = Vec::new();
    for source in Source::for_service(&config.daemon.state_dir.join("logs"), service) {
        let query = Query {
            last: Some(ERROR_SCAN_LINES),
            ..Query::default()
        };
        let entries = match backstop_logs::read::read_source(&source, &query, None) {
            Ok(e) => e,
            Err(e) => {
                b.warn(
                    p,
                    format!("{}: cannot read: {e}", source.current().display()),
                );
                continue;
            }
        };
        let file = source.current().display().to_string();
        if entries.is_empty() {
            b.line(p, format!("── {file}: no lines yet"));
            continue;
        }
        let shown = entries.len().min(LOG_LINES);
        b.line(p, format!("── {file}: the last {shown} lines"));
        for e in &entries[entries.len() - shown..] {
            let text = String::from_utf8_lossy(&e.text);
            let when = e.at.map_or_else(
                || "-".to_string(),
                |t| humantime::format_rfc3339_millis(t).to_string(),
            );
            let line = format!("{when} {:<6} {text}", e.stream.as_str());
            if episode.is_none_or(|start| e.order >= start) {
                b.evidence(p, Some(e.order), &line, &text);
            } else {
                b.line(p, line);
            }
        }
        all.extend(entries);
    }
    all.sort_by_key(|e| e.order);
    all
}

/// `06-errors.txt`: the error incidents of the log tail, grouped by shape.
pub(super) fn error_signatures(b: &mut Bundle, service: &ServiceConfig, entries: &[Entry]) {
    let p = Part::Errors;
    let Ok(patterns) = ErrorPatterns::new(&service.logs) else {
        b.line(
            p,
            "the error patterns do not compile (a bug: `backstop validate` checks them)",
        );
        return;
    };
    let groups = errors::signatures(entries, &patterns);
    b.line(p, format!("error incidents in the last {} lines, grouped by shape (numbers folded), most frequent first", entries.len()));
    if groups.is_empty() {
        b.line(p, "none");
    }
    let t = |at: Option<SystemTime>| {
        at.map_or_else(
            || "-".to_string(),
            |t| humantime::format_rfc3339_seconds(t).to_string(),
        )
    };
    for g in groups {
        b.line(
            p,
            format!(
                "{:>6}×  first {}  last {}  {}",
                g.count,
                t(g.first),
                t(g.last),
                g.example
            ),
        );
    }
}

/// Event kinds that can explain a failure.
pub(super) const EVIDENCE_KINDS: &[EventKind] = &[
    EventKind::SpawnFailed,
    EventKind::StartupTimeout,
    EventKind::MemoryMax,
    EventKind::OomKilled,
    EventKind::CheckFailing,
];

/// The exit history and events; returns where the service's own failing
/// checks were quoted.
pub(super) fn exits(
    b: &mut Bundle,
    service: &ServiceConfig,
    view: &history::View,
    episode: Option<SystemTime>,
) -> Vec<(String, Option<usize>)> {
    let mut own_checks = Vec::new();
    let p = Part::Exits;
    if let Some(s) = &view.live
        && !s.exits.is_empty()
    {
        b.line(p, "exits the daemon remembers (oldest first):");
        for e in &s.exits {
            b.line(
                p,
                format!("  {}  {:<12} after {:.1}s", e.at, e.describe(), e.uptime_s),
            );
        }
        if !s.exit_counts.is_empty() {
            let counts: Vec<String> = s
                .exit_counts
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            b.line(
                p,
                format!(
                    "exits by reason since the daemon started: {}",
                    counts.join(", ")
                ),
            );
        }
        b.line(p, "");
    }
    b.line(
        p,
        "starts, exits and failures from events.db (oldest first):",
    );
    let prefix = format!("{}: ", service.name);
    let mut any = false;
    for e in view
        .events
        .iter()
        .filter(|e| e.kind != EventKind::CheckPassing)
    {
        any = true;
        let line = format!(
            "{}  {:<17} {}",
            rfc3339::format(e.at),
            e.kind.as_str(),
            e.message
        );
        let text = e.message.strip_prefix(&prefix).unwrap_or(&e.message);
        let recent = episode.is_none_or(|start| e.at >= start);
        if recent && EVIDENCE_KINDS.contains(&e.kind) {
            let quoted = b.evidence(p, Some(e.at), &line, text);
            if e.kind == EventKind::CheckFailing {
                own_checks.push((quoted.source, quoted.line));
            }
        } else {
            b.line(p, line);
        }
    }
    if !any {
        b.line(p, "none recorded");
    }
    own_checks
}
