//! One module per verb; `run` is the single dispatch.

pub(crate) mod check;
mod control;
mod diagnose;
pub(crate) mod events;
mod fix;
mod init;
mod logs;
mod status;
mod up;
mod validate;

use crate::cli::{Cli, Command};
use crate::exit::CmdResult;

/// Runs the command the user asked for.
pub(crate) fn run(cli: Cli) -> CmdResult {
    match cli.command {
        Command::Init { force } => init::run(&cli.config, force),
        Command::Validate => validate::run(&cli.config, cli.json),
        Command::Up(args) => up::run(&cli.config, &args),
        Command::Daemon { services } => up::run_detached_child(&cli.config, services),
        Command::Down => control::down(&cli.config),
        Command::Start(args) => control::act(
            &cli.config,
            backstop_api::ServiceAction::Start,
            &args,
            cli.json,
        ),
        Command::Stop(args) => control::act(
            &cli.config,
            backstop_api::ServiceAction::Stop,
            &args,
            cli.json,
        ),
        Command::Restart(args) => control::act(
            &cli.config,
            backstop_api::ServiceAction::Restart,
            &args,
            cli.json,
        ),
        Command::Status { services } => status::run(&cli.config, &services, cli.json),
        Command::Reload => control::reload(&cli.config, cli.json),
        Command::Check { names } => check::run(&cli.config, &names, cli.json),
        Command::Logs(args) => logs::run(&cli.config, &args, cli.json),
        Command::Events(args) => events::run(&cli.config, &args, cli.json),
        Command::Diagnose(args) => diagnose::run(&cli.config, &args, cli.json),
        Command::Fix(args) => fix::run(&cli.config, &args, cli.json),
    }
}

/// A single-threaded runtime: the CLI does one thing at a time, and the
/// daemon's loop owns all state, so more threads would only cost memory.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("UNWRAP: a current-thread runtime needs no resources that can be missing")
}
