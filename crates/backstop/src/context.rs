//! What every command needs: the config, its state directory, the socket,
//! and how to talk to the daemon.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use backstop_api::{Client, ClientError};
use backstop_config::Loaded;

use crate::exit::{Code, Exit};

/// Paths under the state directory.
#[derive(Clone, Debug)]
pub(crate) struct StatePaths {
    pub(crate) dir: PathBuf,
}

impl StatePaths {
    pub(crate) fn socket(&self) -> PathBuf {
        self.dir.join("backstop.sock")
    }
    pub(crate) fn pid_file(&self) -> PathBuf {
        self.dir.join("daemon.pid")
    }
    pub(crate) fn daemon_log(&self) -> PathBuf {
        self.dir.join("daemon.log")
    }
    pub(crate) fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }
}

/// True when stderr is a terminal and NO_COLOR is not set.
pub(crate) fn color_stderr() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// True when stdout is a terminal and NO_COLOR is not set.
pub(crate) fn color_stdout() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Loads and validates the config, printing warnings; errors exit 2.
pub(crate) fn load_config(path: &Path) -> Result<Loaded, Exit> {
    match backstop_config::load(path) {
        Ok(loaded) => {
            let warnings = loaded.render_warnings(color_stderr());
            if !warnings.is_empty() {
                eprintln!("{warnings}");
            }
            Ok(loaded)
        }
        Err(err) => Err(Exit::new(Code::Usage, err.render(color_stderr()))),
    }
}

/// The state directory of `path`, even when the config does not load now
/// (a daemon started from an earlier, valid version may still run).
pub(crate) fn state_paths(path: &Path) -> StatePaths {
    let dir = match backstop_config::load(path) {
        Ok(loaded) => loaded.config.daemon.state_dir,
        Err(_) => std::path::absolute(path)
            .ok()
            .and_then(|p| p.parent().map(|d| d.join(".backstop")))
            .unwrap_or_else(|| PathBuf::from(".backstop")),
    };
    StatePaths { dir }
}

/// A client for the daemon of `config`.
pub(crate) fn client(config: &Path) -> Client {
    Client::new(state_paths(config).socket())
}

/// Turns a client error into the operator's message and exit code.
pub(crate) fn client_error(config: &Path, err: ClientError) -> Exit {
    match err {
        ClientError::NoDaemon { socket } => Exit::new(
            Code::NoDaemon,
            format!(
                "no backstop daemon is running for {} (nothing answers on {}).\nStart one with `backstop up -d`.",
                config.display(),
                socket.display()
            ),
        ),
        ClientError::Refused { message, .. } => Exit::new(Code::Failed, message),
        transport @ ClientError::Transport { .. } => Exit::new(Code::Failed, transport.to_string()),
    }
}

/// `10m` (that long ago) or an RFC 3339 time; `None` for anything else,
/// including a duration reaching back before the epoch.
pub(crate) fn time_ago_or_at(text: &str) -> Option<std::time::SystemTime> {
    if let Some(ago) = backstop_config::parse_duration(text) {
        return std::time::SystemTime::now().checked_sub(ago);
    }
    humantime::parse_rfc3339_weak(text).ok()
}

/// [`time_ago_or_at`] for the option `flag`, with a usage error that shows the forms.
pub(crate) fn parse_time(text: &str, flag: &str) -> Result<std::time::SystemTime, Exit> {
    time_ago_or_at(text).ok_or_else(|| {
        Exit::new(
            Code::Usage,
            format!("invalid {flag} \"{text}\": expected a duration such as \"10m\" (ago) or a time such as \"2026-11-22T10:00:00Z\""),
        )
    })
}

/// A usage error naming the first of `names` that is not a service of `config`.
pub(crate) fn known_services<'a>(
    config: &backstop_config::Config,
    names: impl IntoIterator<Item = &'a String>,
) -> Result<(), Exit> {
    if let Some(unknown) = names.into_iter().find(|n| config.members(n).is_empty()) {
        let mut all: Vec<&str> = config.services.iter().map(|s| s.name.as_str()).collect();
        // `api` for the copies of a service with `instances`.
        for s in config.declared.iter().filter(|s| s.instances.is_some()) {
            all.push(s.name.as_str());
        }
        let hint = backstop_config::suggest(unknown, all.iter().copied())
            .map_or_else(String::new, |s| format!(" (did you mean `{s}`?)"));
        return Err(Exit::new(
            Code::Usage,
            format!(
                "no service named `{unknown}`{hint}; the services are: {}",
                all.join(", ")
            ),
        ));
    }
    Ok(())
}

/// The services a command names: `all` (unless a service is called so) is
/// every service of `config`, a service with `instances` every copy of
/// it; an unknown name is a usage error.
pub(crate) fn named_services(
    config: &backstop_config::Config,
    names: &[String],
) -> Result<Vec<String>, Exit> {
    if names.len() == 1 && names[0] == "all" && config.service("all").is_none() {
        return Ok(config.services.iter().map(|s| s.name.clone()).collect());
    }
    known_services(config, names)?;
    // A service with `instances` is every copy of it.
    let mut out: Vec<String> = Vec::new();
    for name in names {
        for m in config.members(name) {
            if !out.contains(&m.name) {
                out.push(m.name.clone());
            }
        }
    }
    Ok(out)
}
