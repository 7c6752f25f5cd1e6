//! The dashboard's log tail: the last lines of one service, read from the
//! same files and with the same reader as `backstop logs -n N`. The config
//! is read again on each request, so a reload's log settings apply.

use std::path::PathBuf;

use backstop_api::dashboard::{LogLine, LogQueryError, LogSource};
use backstop_logs::{Query, Source};

/// The log source of the config at `config_path`.
pub(crate) fn source(config_path: PathBuf) -> LogSource {
    std::sync::Arc::new(move |name: &str, lines: usize| {
        let loaded = backstop_config::load(&config_path).map_err(|e| {
            LogQueryError::Unreadable(format!(
                "{} does not load now: {}",
                config_path.display(),
                e.render(false)
            ))
        })?;
        let config = loaded.config;
        let service = config
            .service(name)
            .ok_or_else(|| LogQueryError::NoSuchService(name.to_string()))?;
        let dir = config.daemon.state_dir.join("logs");
        let sources: Vec<(Source, Option<backstop_logs::Position>)> =
            Source::for_service(&dir, service)
                .into_iter()
                .map(|s| (s, None))
                .collect();
        let query = Query {
            last: Some(lines),
            ..Query::default()
        };
        let entries = backstop_logs::read::read(&sources, &query)
            .map_err(|e| LogQueryError::Unreadable(format!("{}: {e}", dir.display())))?;
        Ok(entries
            .into_iter()
            .map(|e| LogLine {
                at: e
                    .at
                    .map(|at| humantime::format_rfc3339_millis(at).to_string()),
                stream: e.stream.as_str().to_string(),
                line: String::from_utf8_lossy(&e.text).into_owned(),
            })
            .collect())
    })
}
