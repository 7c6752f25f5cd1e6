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
