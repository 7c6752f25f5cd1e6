//! `backstop logs`: read service logs from the files, with or without a
//! daemon: the last lines, a time range, a search, one stream, several
//! services merged in time order, and following new lines.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use backstop_logs::{Entry, Follower, Query, Source, Stream};

use crate::cli::LogsArgs;
use crate::context::{color_stdout, load_config, parse_time};
use crate::exit::{CmdResult, Code, Exit};

/// How often `-f` looks for new lines (the files are ours to read; no daemon round trip).
const FOLLOW_POLL: Duration = Duration::from_millis(200);

pub(crate) fn run(config_path: &Path, args: &LogsArgs, json: bool) -> CmdResult {
    let loaded = load_config(config_path)?;
    let config = loaded.config;
    let names: Vec<String> = if args.services.is_empty() {
        config.services.iter().map(|s| s.name.clone()).collect()
    } else {
        crate::context::named_services(&config, &args.services)?
    };
    let log_dir = config.daemon.state_dir.join("logs");
    let sources: Vec<Source> = names
        .iter()
        .filter_map(|n| config.service(n))
        .flat_map(|s| Source::for_service(&log_dir, s))
        .collect();
    let grep = args
        .grep
        .as_deref()
        .map(|re| {
            regex::bytes::Regex::new(re)
                .map_err(|e| Exit::new(Code::Usage, format!("invalid --grep: {e}")))
        })
        .transpose()?;
    let since = args
        .since
        .as_deref()
        .map(|t| parse_time(t, "--since"))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|t| parse_time(t, "--until"))
        .transpose()?;
    let stream = args.stream.as_deref().map(|s| {
        Stream::parse(s).ok_or_else(|| {
            Exit::new(
                Code::Usage,
                format!("invalid --stream \"{s}\": expected stdout or stderr"),
            )
        })
    });
    let stream = stream.transpose()?;
    // Without a range or a search, show the end of the logs, like tail.
    let last = args
        .lines
        .or((since.is_none() && grep.is_none()).then_some(50));
    let query = Query {
        last,
        since,
        until,
        grep,
        stream,
    };
    let any_file = sources.iter().any(|s| {
        s.current().exists()
            || backstop_logs::files::segments(&s.dir, &s.service, s.family)
                .is_ok_and(|v| !v.is_empty())
    });
    if !args.follow && !any_file {
        eprintln!(
            "no logs yet in {}: they appear once `backstop up` has run the services",
            log_dir.display()
        );
        return Ok(());
    }
    let width = names.iter().map(String::len).max().unwrap_or(0);
    let color = color_stdout();
    // Followers fix their starting point first; the initial read stops
    // there, so no line is shown twice or falls between the two.
    let mut followers: Vec<Follower> = if args.follow {
        sources.iter().cloned().map(Follower::at_end).collect()
    } else {
        Vec::new()
    };
    let initial: Vec<(Source, Option<backstop_logs::Position>)> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), followers.get(i).and_then(Follower::position)))
        .collect();
    let entries = backstop_logs::read::read(&initial, &query).map_err(|e| {
        Exit::new(
            Code::Failed,
            format!("cannot read logs in {}: {e}", log_dir.display()),
        )
    })?;
    let mut out = std::io::stdout().lock();
    for e in &entries {
        if print(&mut out, e, json, width, color).is_err() {
            return Ok(()); // the reader went away (`| head`)
        }
    }
    if !args.follow {
        return Ok(());
    }
    let follow_query = Query {
        last: None,
        since: None,
        ..query
    };
    loop {
        let mut batch: Vec<Entry> = Vec::new();
        for f in &mut followers {
            batch.extend(f.poll(&follow_query).unwrap_or_default());
        }
        batch.sort_by_key(|e| e.order);
        for e in &batch {
            if print(&mut out, e, json, width, color).is_err() {
                return Ok(());
            }
        }
        if out.flush().is_err() {
            return Ok(());
        }
        std::thread::sleep(FOLLOW_POLL);
    }
}

fn print(
    out: &mut impl Write,
    e: &Entry,
    json: bool,
    width: usize,
    color: bool,
) -> std::io::Result<()> {
    let text = String::from_utf8_lossy(&e.text);
    let at =
        e.at.map(|at| humantime::format_rfc3339_millis(at).to_string());
    if json {
        let line = serde_json::json!({"service": e.service, "at": at, "stream": e.stream.as_str(), "line": text});
        return writeln!(out, "{line}");
    }
    let at = at.map_or(String::new(), |at| at + " ");
    let (pre, post) = match (color, e.stream) {
        (true, Stream::Stderr) => ("\x1b[31m", "\x1b[0m"),
        _ => ("", ""),
    };
    writeln!(out, "{:<width$} | {at}{pre}{text}{post}", e.service)
}
