//! The `backstop` binary: CLI and daemon.

mod alerts;
mod auto_diagnose;
mod cli;
mod commands;
mod context;
mod daemon;
mod diagnose;
mod exit;
mod export;
mod fix;
mod import;
mod log_tail;
mod memory;
mod registry;
mod render;

use std::process::ExitCode;

use clap::Parser;

/// backstop's own diagnostics: `BACKSTOP_LOG=error|warn|info|debug|trace` (default `warn`).
fn log_level() -> tracing::Level {
    std::env::var("BACKSTOP_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(tracing::Level::WARN)
}

fn main() -> ExitCode {
    memory::record_startup_segments();
    let cli = cli::Cli::parse();
    // A report piped into `head` ends quietly when `head` has enough, as
    // other Unix tools do. Not for the daemon: a client that goes away must
    // never stop supervision.
    if !matches!(
        cli.command,
        cli::Command::Up(_) | cli::Command::Daemon { .. }
    ) {
        // SAFETY: setting a signal's disposition to its default, before any
        // thread is started.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    tracing_subscriber::fmt()
        .with_writer(backstop_supervisor::terminal::stderr_writer)
        .with_max_level(log_level())
        .with_ansi(context::color_stderr())
        .init();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(exit) => {
            if !exit.message.is_empty() {
                eprintln!("{}", exit.message);
            }
            ExitCode::from(exit.code as u8)
        }
    }
}
