//! The `backstop` binary: CLI and daemon.

mod cli;
mod commands;
mod context;
mod daemon;
mod exit;
mod render;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BACKSTOP_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
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
