//! backstop's configuration: the `backstop.toml` schema and its loader.
//!
//! # Theory of operation
//! [`load`] reads the file and walks its spanned TOML tree by hand (not with
//! serde) so that it can report **every** problem at once, each with its
//! `file:line:col`, the offending text underlined and what was expected there,
//! plus a "did you mean …" for misspelled keys and service names. The result
//! is a [`Config`] whose values are already checked: absolute paths, parsed
//! durations, dependencies that exist and form no cycle.
//!
//! This crate does no I/O beyond reading the config and env files, and has no
//! async runtime: the CLI's `validate` and the daemon share it.

mod alerts;
mod alerts_reader;
mod diagnostic;
mod environment;
mod graph;
mod health;
mod health_reader;
mod hooks;
mod hooks_reader;
mod instances;
mod interpolate;
pub mod jobs;
mod jobs_reader;
mod limits;
mod limits_reader;
mod load;
mod logs;
mod logs_reader;
mod model;
pub mod playbooks;
mod playbooks_reader;
mod reader;
pub mod remediate;
mod remediate_reader;
mod signals;
mod starter;
mod watch;
mod watch_reader;

pub use alerts::*;
pub use diagnostic::{ConfigError, Diagnostic, Severity, line_col, render_all};
pub use environment::{EnvFileError, read_env_file, service_environment};
pub use health::*;
pub use hooks::{Hook, POST_STOP_TIMEOUT, PRE_START_TIMEOUT};
pub use instances::{INSTANCE_VARIABLES, Instance, MAX_INSTANCES, is_copy_of};
pub use jobs::{Concurrency, JOB_PREFIX, JobSpec, Schedule, job_service_name};
pub use limits::Limits;
pub use load::{Loaded, load, parse};
pub use logs::*;
pub use model::*;
pub use playbooks::{Action, OnError, Playbook, Step};
pub use reader::parse_duration;
pub use watch::{IGNORED_FILES, SKIPPED_DIRS, Watch};

/// The closest of `candidates` to `word`, when close enough to be a likely
/// typo (for "did you mean" in messages).
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    reader::suggest(word, candidates)
}
pub use remediate::{RemediateRule, Trigger};
pub use starter::STARTER_CONFIG;
