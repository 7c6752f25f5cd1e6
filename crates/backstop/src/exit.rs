//! Exit codes and the error that carries one to `main`.

use std::fmt;

/// Documented exit codes (see `backstop --help`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Code {
    /// A service asked about failed, or the action failed.
    Failed = 1,
    /// Bad usage or an invalid config.
    Usage = 2,
    /// The command needs a running daemon and there is none.
    NoDaemon = 3,
}

/// An error for the operator, with the exit code it means.
#[derive(Debug)]
pub(crate) struct Exit {
    pub(crate) code: Code,
    pub(crate) message: String,
}

impl Exit {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<anyhow::Error> for Exit {
    fn from(err: anyhow::Error) -> Self {
        Self::new(Code::Failed, format!("{err:#}"))
    }
}

/// The result of every command.
pub(crate) type CmdResult = Result<(), Exit>;
