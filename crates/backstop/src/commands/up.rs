//! `backstop up`: run the daemon in the foreground, or detached with `-d`.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use backstop_api::{ClientError, ServiceState, StatusReport};
use tokio::time::Instant;

use crate::cli::UpArgs;
use crate::context::{StatePaths, client, color_stdout, load_config};
use crate::daemon::{self, Mode};
use crate::exit::{CmdResult, Code, Exit};
use crate::render;

fn check_names(config: &backstop_config::Config, services: &[String]) -> CmdResult {
    config
        .with_dependencies(services)
        .map(|_| ())
        .map_err(|unknown| {
            let names: Vec<&str> = config.services.iter().map(|s| s.name.as_str()).collect();
            Exit::new(
                Code::Usage,
                format!(
                    "no service named {}; the services are: {}",
                    unknown
                        .iter()
                        .map(|u| format!("`{u}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    names.join(", ")
                ),
            )
        })
}

pub(crate) fn run(config_path: &Path, args: &UpArgs) -> CmdResult {
    let loaded = load_config(config_path)?;
    if loaded.config.services.is_empty() {
        return Err(Exit::new(
            Code::Usage,
            format!(
                "{} defines no services, only checks: run them with `backstop check`",
                config_path.display()
            ),
        ));
    }
    check_names(&loaded.config, &args.services)?;
    let paths = StatePaths {
        dir: loaded.config.daemon.state_dir.clone(),
    };
    daemon::prepare_state_dir(&paths)?;
    if args.detach {
        let dashboard = daemon::dashboard_line(&loaded.config.daemon);
        return detach(config_path, &paths, args, dashboard);
    }
    let mode = Mode::Foreground {
        color: color_stdout(),
    };
    super::runtime().block_on(daemon::run(
        loaded.config,
        args.services.clone(),
        mode,
        paths,
    ))
}

/// The process `up -d` leaves behind.
pub(crate) fn run_detached_child(config_path: &Path, services: Vec<String>) -> CmdResult {
    let loaded = load_config(config_path)?;
    let paths = StatePaths {
        dir: loaded.config.daemon.state_dir.clone(),
    };
    daemon::prepare_state_dir(&paths)?;
    super::runtime().block_on(daemon::run(loaded.config, services, Mode::Detached, paths))
}

fn detach(
    config_path: &Path,
    paths: &StatePaths,
    args: &UpArgs,
    dashboard: Option<String>,
) -> CmdResult {
    // Refuse early, with the running daemon's pid, rather than after forking;
    // a daemon already serving this very config is what was asked for.
    if let Err(running) = daemon::lock(paths, config_path) {
        return already_running(config_path, running);
    }
    let log_path = paths.daemon_log();
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log_path)
        .map_err(|e| {
            Exit::new(
                Code::Failed,
                format!("cannot open {}: {e}", log_path.display()),
            )
        })?;
    let exe = std::env::current_exe().map_err(|e| {
        Exit::new(
            Code::Failed,
            format!("cannot find the backstop binary: {e}"),
        )
    })?;
    let config_abs = std::path::absolute(config_path).unwrap_or_else(|_| config_path.to_path_buf());
    let mut command = Command::new(exe);
    command
        .arg("--config")
        .arg(&config_abs)
        .arg("daemon")
        .args(&args.services)
        .stdin(Stdio::null())
        .stdout(
            log.try_clone()
                .map_err(|e| Exit::new(Code::Failed, e.to_string()))?,
        )
        .stderr(log)
        .env("NO_COLOR", "1");
    // SAFETY: setsid is async-signal-safe; the daemon leaves our session so
    // that closing this terminal does not send it SIGHUP.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| Exit::new(Code::Failed, format!("cannot start the daemon: {e}")))?;
    let client = client(config_path);
    let report = super::runtime().block_on(async {
        let deadline = Instant::now() + args.wait;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
                let tail: Vec<&str> = tail.lines().rev().take(20).collect();
                return Err(Exit::new(
                    Code::Failed,
                    format!(
                        "the daemon exited at start ({status}); the end of {}:\n{}",
                        log_path.display(),
                        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                    ),
                ));
            }
            match client.get::<StatusReport>("/api/v1/services").await {
                Ok(report) if report.daemon.pid == child.id() => {
                    // A service waiting on a dependency that failed will
                    // not start by itself: no reason to wait for it.
                    let busy = report.services.iter().any(|s| {
                        (matches!(
                            s.state,
                            ServiceState::Pending | ServiceState::Starting | ServiceState::Backoff
                        ) || s.state == ServiceState::Stopping)
                            && !super::control::waits_in_vain(s)
                    });
                    if !busy || Instant::now() >= deadline {
                        return Ok(report);
                    }
                }
                Ok(_) | Err(ClientError::NoDaemon { .. }) if Instant::now() < deadline => {}
                Ok(report) => return Ok(report),
                Err(e) => return Err(Exit::new(Code::Failed, e.to_string())),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })?;
    println!(
        "backstop is running in the background (pid {}); its log: {}",
        report.daemon.pid,
        log_path.display()
    );
    if let Some(line) = dashboard {
        println!("{line}");
    }
    print!("{}", render::status_table(&report.services, color_stdout()));
    let not_up: Vec<String> = report
        .services
        .iter()
        .filter(|s| {
            !matches!(
                s.state,
                ServiceState::Running | ServiceState::Exited | ServiceState::Stopped
            )
        })
        .map(not_up)
        .collect();
    if !not_up.is_empty() {
        return Err(Exit::new(
            Code::Failed,
            format!(
                "not every service is up:\n{}\nThe daemon keeps running; see `backstop status`, or `backstop diagnose SERVICE`",
                not_up.join("\n")
            ),
        ));
    }
    Ok(())
}

/// One line for a service that is not up after `up -d`: what it is, and why.
fn not_up(s: &backstop_api::ServiceStatus) -> String {
    let what = match s.state {
        ServiceState::StartupTimeout => {
            "alive, but no health check passed within its startup period".to_string()
        }
        ServiceState::Starting => "started, no health check has passed yet".to_string(),
        ServiceState::Pending => "not started yet".to_string(),
        ServiceState::Backoff => "exited, and waits to be restarted".to_string(),
        ServiceState::CrashLoop => "exited too often, and is not restarted any more".to_string(),
        ServiceState::Failed => "could not be started".to_string(),
        other => other.to_string(),
    };
    let mut line = format!("  {}: {} ({what})", s.name, s.state);
    if let Some(detail) = &s.detail {
        line.push_str(": ");
        line.push_str(detail);
    }
    line
}

/// `up -d` while a daemon holds the state directory: exit 0 when it serves
/// this config (the wanted state is there), 2 when it serves another one.
fn already_running(config_path: &Path, running: crate::exit::Exit) -> CmdResult {
    let client = crate::context::client(config_path);
    let report: Result<backstop_api::StatusReport, _> =
        super::runtime().block_on(client.get("/api/v1/services"));
    let Ok(report) = report else {
        return Err(running);
    };
    let ours = std::path::absolute(config_path).unwrap_or_else(|_| config_path.to_path_buf());
    if Path::new(&report.daemon.config) == ours {
        println!(
            "backstop is already running for {} (pid {}): nothing to do; `backstop status` shows its services",
            config_path.display(),
            report.daemon.pid
        );
        return Ok(());
    }
    Err(Exit::new(
        Code::Usage,
        format!(
            "the state directory of {} is in use by a backstop running another config, {} (pid {}): give this config its own `[daemon] state_dir`",
            config_path.display(),
            report.daemon.config,
            report.daemon.pid
        ),
    ))
}
