//! `watch` on a service, for development: restart it when files matching
//! its patterns change (debounced), as `nodemon`, `uvicorn --reload` and
//! PM2's `--watch` do, for any runtime.
//!
//! `watch = ["src/**/*.py", "config/*.yaml"]`, or
//! `watch = { paths = [...], ignore = ["**/tests/**"], debounce = "300ms" }`.
//! Patterns are globs relative to the service's `dir`; `**` crosses
//! directories. `.git`, `node_modules`, `__pycache__`, virtualenvs,
//! `target`, backstop's state dir and editor swap files are never watched.

use std::time::Duration;

/// A service's `watch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Watch {
    /// Globs of the files whose change restarts the service.
    pub paths: Vec<String>,
    /// Globs of files to leave out, on top of the built-in ones.
    pub ignore: Vec<String>,
    /// Quiet time after the last change before the restart (default 500 ms).
    pub debounce: Duration,
}

/// The default quiet time.
pub(crate) const DEBOUNCE: Duration = Duration::from_millis(500);

/// Directories never watched (nor walked): VCS, dependencies, caches, builds.
pub const SKIPPED_DIRS: &[&str] = &[
    ".git",
    ".hg",
    "node_modules",
    "__pycache__",
    ".venv",
    "venv",
    ".tox",
    ".mypy_cache",
    ".pytest_cache",
    "target",
    ".backstop",
];

/// Files never counted as a change: editor swap and backup files, bytecode.
pub const IGNORED_FILES: &[&str] = &[
    "**/*.swp", "**/*.swx", "**/*~", "**/.#*", "**/*.pyc", "**/4913",
];
