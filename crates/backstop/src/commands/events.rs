//! `backstop events`: the event history, read from `.backstop/events.db`
//! with or without a daemon.

use std::path::Path;

use backstop_api::{Event, EventFilter, EventQueryError};
use backstop_store::{EventQuery, Store};

use crate::cli::EventsArgs;
use crate::context::{known_services, load_config, parse_time, time_ago_or_at};
use crate::exit::{CmdResult, Code, Exit};

/// Runs `filter` against the history in `db` (the API's `/api/v1/events`).
pub(crate) fn query(db: &Path, filter: &EventFilter) -> Result<Vec<Event>, EventQueryError> {
    let since = match filter.since.as_deref() {
        None => None,
        Some(text) => Some(time_ago_or_at(text).ok_or_else(|| {
            EventQueryError::Invalid(format!("invalid since \"{text}\": expected a duration such as \"1h\" (ago) or a time such as \"2026-11-22T10:00:00Z\""))
        })?),
    };
    let query = EventQuery {
        service: filter.service.clone(),
        since,
        kinds: filter
            .kind
            .as_deref()
            .map(|k| {
                k.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        // Without a range, the newest 50 (a whole month is rarely wanted at once).
        limit: filter.limit.or(since.is_none().then_some(50)),
    };
    if !db.exists() {
        return Ok(Vec::new());
    }
    Store::open_read_only(db)
        .and_then(|s| s.query(&query))
        .map_err(|e| EventQueryError::Unreadable(e.to_string()))
}

pub(crate) fn run(config_path: &Path, args: &EventsArgs, json: bool) -> CmdResult {
    let config = load_config(config_path)?.config;
    let service = args.only.clone().or_else(|| args.service.clone());
    known_services(&config, &service)?;
    let known = backstop_api::EventKind::ALL;
    if let Some(unknown) = args
        .kinds
        .iter()
        .find(|k| !known.iter().any(|kind| kind.as_str() == k.as_str()))
    {
        let names: Vec<&str> = known.iter().map(backstop_api::EventKind::as_str).collect();
        let hint = backstop_config::suggest(unknown, names.iter().copied())
            .map_or_else(String::new, |s| format!(" (did you mean `{s}`?)"));
        return Err(Exit::new(
            Code::Usage,
            format!(
                "unknown event kind `{unknown}`{hint}; the kinds are: {}",
                names.join(", ")
            ),
        ));
    }
    if let Some(text) = &args.since {
        parse_time(text, "--since")?;
    }
    let db = config.daemon.state_dir.join("events.db");
    // A service with `instances` is its copies: read them all, keep theirs.
    let copies_of = service
        .as_ref()
        .filter(|n| config.service(n).is_none())
        .cloned();
    let filter = EventFilter {
        service: if copies_of.is_some() { None } else { service },
        since: args.since.clone(),
        kind: (!args.kinds.is_empty()).then(|| args.kinds.join(",")),
        limit: if copies_of.is_some() {
            None
        } else {
            args.lines
        },
    };
    if !db.exists() {
        eprintln!(
            "no events yet in {}: they are recorded once `backstop up` runs",
            db.display()
        );
        return Ok(());
    }
    let mut events = query(&db, &filter).map_err(|e| Exit::new(Code::Failed, e.to_string()))?;
    if let Some(group) = &copies_of {
        // By name: copies added by `backstop scale` are not in the file.
        events.retain(|e| {
            e.service
                .as_deref()
                .is_some_and(|s| backstop_config::is_copy_of(s, group))
        });
        if let Some(n) = args.lines {
            let skip = events.len().saturating_sub(n);
            events.drain(..skip);
        }
    }
    let redactor = backstop_diagnose::redact::Redactor::for_config(&config);
    for e in &mut events {
        e.message = redactor.redact(&e.message).into_owned();
    }
    let mut out = std::io::stdout().lock();
    for e in &events {
        use std::io::Write;
        let written = if json {
            writeln!(
                out,
                "{}",
                serde_json::to_string(e).expect("UNWRAP: plain data serialises")
            )
        } else {
            writeln!(
                out,
                "{}  {:<12} {:<16} {}",
                backstop_api::rfc3339::format(e.at),
                e.service.as_deref().unwrap_or("-"),
                e.kind,
                e.message
            )
        };
        if written.is_err() {
            break; // the reader went away (`| head`)
        }
    }
    Ok(())
}
