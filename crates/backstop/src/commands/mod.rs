//! One module per verb; `run` is the single dispatch.

mod boot;
pub(crate) mod check;
mod completions;
mod control;
mod diagnose;
pub(crate) mod events;
mod fix;
mod init;
mod jobs;
mod logs;
mod status;
mod top;
mod up;
mod validate;

use crate::cli::{Cli, Command};
use crate::exit::CmdResult;

/// The config file: the one given (`-c`, `BACKSTOP_CONFIG`), else
/// `backstop.toml` in the current directory or its nearest parent that has
/// one; `init` always writes in the current directory.
fn config_path(given: Option<std::path::PathBuf>, writing: bool) -> std::path::PathBuf {
    const NAME: &str = "backstop.toml";
    if let Some(path) = given {
        return path;
    }
    if writing {
        return NAME.into();
    }
    let here = std::env::current_dir().unwrap_or_else(|_| ".".into());
    here.ancestors()
        .map(|dir| dir.join(NAME))
        .find(|p| p.is_file())
        .map_or_else(
            || NAME.into(),
            |found| {
                // Shown as given when it is the one here.
                if found.parent() == Some(here.as_path()) {
                    NAME.into()
                } else {
                    found
                }
            },
        )
}

/// Runs the command the user asked for.
pub(crate) fn run(cli: Cli) -> CmdResult {
    // These need no config.
    if let Command::Import(args) = &cli.command {
        return crate::import::run(args);
    }
    if let Command::Status {
        services,
        remote: Some(url),
        token_file,
    } = &cli.command
    {
        return status::remote(url, token_file.as_deref(), services, cli.json);
    }
    match cli.command {
        Command::Completions { shell } => {
            completions::print(shell);
            return Ok(());
        }
        Command::Ls => {
            let daemons = crate::registry::running();
            if cli.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&daemons).expect("UNWRAP: plain data serialises")
                );
            } else if daemons.is_empty() {
                println!("no backstop daemon of yours is running");
            } else {
                println!("{:<8} {:<21} CONFIG", "PID", "STARTED");
                for d in &daemons {
                    println!("{:<8} {:<21} {}", d.pid, d.started, d.config);
                }
            }
            return Ok(());
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            return match clap_mangen::Man::new(command).render(&mut std::io::stdout()) {
                // `backstop man | head`: the reader had enough.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other,
            }
            .map_err(|e| {
                crate::exit::Exit::new(
                    crate::exit::Code::Failed,
                    format!("cannot print the man page: {e}"),
                )
            });
        }
        _ => {}
    }
    let writing = matches!(cli.command, Command::Init { .. });
    let given = cli.config.is_some();
    let config = config_path(cli.config, writing);
    // Without its config no command can find the daemon either: say what
    // was looked for, rather than "no daemon running".
    if !writing && !config.exists() {
        let here = std::env::current_dir().unwrap_or_default();
        let looked = if given {
            format!("{} does not exist", config.display())
        } else {
            format!(
                "no backstop.toml in {} or any directory above it",
                here.display()
            )
        };
        return Err(crate::exit::Exit::new(
            crate::exit::Code::Usage,
            format!(
                "{looked}: create one with `backstop init`, or name one with -c PATH (or BACKSTOP_CONFIG)"
            ),
        ));
    }
    run_resolved(CliResolved {
        config,
        json: cli.json,
        command: cli.command,
    })
}

/// The command line with its config file found.
struct CliResolved {
    config: std::path::PathBuf,
    json: bool,
    command: Command,
}

fn run_resolved(cli: CliResolved) -> CmdResult {
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
        Command::Status { services, .. } => status::run(&cli.config, &services, cli.json),
        Command::Scale {
            service,
            instances,
            no_wait,
        } => control::scale(&cli.config, &service, instances, no_wait, cli.json),
        Command::Reload => control::reload(&cli.config, cli.json),
        Command::Jobs => jobs::list(&cli.config, cli.json),
        Command::RunJob { job, no_wait } => jobs::run(&cli.config, &job, no_wait, cli.json),
        Command::Top => top::run(&cli.config),
        // Quiet on purpose: a shell's completion asks it at every TAB.
        Command::Services => {
            if let Ok(loaded) = backstop_config::load(&cli.config) {
                completions::services(&loaded.config);
            }
            Ok(())
        }
        Command::Boot { action } => match action {
            crate::cli::BootAction::Install(args) => boot::install(&cli.config, &args),
            crate::cli::BootAction::Uninstall(args) => boot::uninstall(&cli.config, &args),
        },
        Command::Import(args) => crate::import::run(&args),
        Command::Export { target } => match target {
            crate::cli::ExportTarget::Systemd(args) => {
                crate::export::systemd_command(&cli.config, &args)
            }
            crate::cli::ExportTarget::Kubernetes(args) => {
                crate::export::kubernetes_command(&cli.config, &args)
            }
            crate::cli::ExportTarget::Prometheus(args) => {
                crate::export::prometheus_command(&cli.config, &args)
            }
            crate::cli::ExportTarget::Runbook { out, name } => {
                crate::export::runbook_command(&cli.config, out.as_deref(), name.as_deref())
            }
        },
        Command::Check { names } => check::run(&cli.config, &names, cli.json),
        Command::Logs(args) => logs::run(&cli.config, &args, cli.json),
        Command::Events(args) => events::run(&cli.config, &args, cli.json),
        Command::Diagnose(args) => diagnose::run(&cli.config, &args, cli.json),
        Command::Fix(args) => fix::run(&cli.config, &args, cli.json),
        Command::Completions { .. } | Command::Man | Command::Ls => Ok(()), // answered above
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
