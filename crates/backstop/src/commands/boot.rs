//! `backstop boot install|uninstall`: start this config's daemon at boot
//! with a systemd unit, as `pm2 startup` does.
//!
//! The unit runs `backstop -c CONFIG up` in the foreground; backstop
//! stops its services in order on SIGTERM, so the unit sends it only to
//! backstop (`KillMode=mixed`) and waits for the sum of the services' stop
//! timeouts. As root it is a system unit; otherwise a user unit (which
//! starts at boot only with `loginctl enable-linger`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::cli::BootArgs;
use crate::exit::{CmdResult, Code, Exit};

/// The unit's name for a config: `backstop-<dir>-<id>.service`.
fn unit_name(config: &backstop_config::Config) -> String {
    let project: String = config
        .base_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let id = backstop_supervisor::state_file::state_dir_id(&config.daemon.state_dir) as u32;
    if project.is_empty() {
        format!("backstop-{id:08x}.service")
    } else {
        format!("backstop-{project}-{id:08x}.service")
    }
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Where units go: the system's for root, the user's otherwise.
fn default_unit_dir() -> Result<PathBuf, Exit> {
    if is_root() {
        return Ok(PathBuf::from("/etc/systemd/system"));
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .ok_or_else(|| {
            Exit::new(
                Code::Failed,
                "neither XDG_CONFIG_HOME nor HOME is set: pass --unit-dir",
            )
        })?;
    Ok(config.join("systemd/user"))
}

/// Quotes a path for a unit file's command line when it needs it.
fn quoted(path: &Path) -> String {
    let s = path.display().to_string();
    if s.chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '\\')
    {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        s
    }
}

/// The unit file's text.
pub(crate) fn unit_text(config: &backstop_config::Config, exe: &Path, system: bool) -> String {
    let stop: Duration = config
        .services
        .iter()
        .map(|s| s.stop.timeout + Duration::from_secs(2))
        .sum::<Duration>()
        + Duration::from_secs(30);
    let wanted_by = if system {
        "multi-user.target"
    } else {
        "default.target"
    };
    format!(
        "# Written by `backstop boot install` for {config}.
# `backstop -c {config} boot uninstall` removes it.
[Unit]
Description=backstop: the services of {config}
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart={exe} -c {config} up
ExecReload=/bin/kill -HUP $MAINPID
WorkingDirectory={dir}
Environment=NO_COLOR=1
# backstop stops its services in dependency order on SIGTERM; whatever is
# left when the timeout ends is killed.
KillMode=mixed
TimeoutStopSec={stop}
Restart=on-failure
RestartSec=2
# Lets backstop make its services' cgroups under its own (cgroup mode).
Delegate=yes

[Install]
WantedBy={wanted_by}
",
        config = quoted(&config.path),
        exe = quoted(exe),
        dir = quoted(&config.base_dir),
        stop = stop.as_secs(),
    )
}

fn systemctl(system: bool, args: &[&str]) -> Result<(), String> {
    let mut cmd = Command::new("systemctl");
    if !system {
        cmd.arg("--user");
    }
    let out = cmd
        .args(args)
        .output()
        .map_err(|e| format!("systemctl cannot run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

pub(crate) fn install(config_path: &Path, args: &BootArgs) -> CmdResult {
    let config = crate::context::load_config(config_path)?.config;
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|e| {
            Exit::new(
                Code::Failed,
                format!("cannot find backstop's own path: {e}"),
            )
        })?;
    let system = is_root();
    let text = unit_text(&config, &exe, system);
    if args.print {
        print!("{text}");
        return Ok(());
    }
    let dir = match &args.unit_dir {
        Some(d) => d.clone(),
        None => default_unit_dir()?,
    };
    let name = unit_name(&config);
    let path = dir.join(&name);
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, &text))
        .map_err(|e| {
            Exit::new(
                Code::Failed,
                format!("cannot write {}: {e}", path.display()),
            )
        })?;
    println!("wrote {}", path.display());
    if args.no_enable {
        let user = if system { "" } else { "--user " };
        println!(
            "enable it with: systemctl {user}daemon-reload && systemctl {user}enable --now {name}"
        );
        return Ok(());
    }
    let enabled = systemctl(system, &["daemon-reload"])
        .and_then(|()| systemctl(system, &["enable", "--now", &name]));
    match enabled {
        Ok(()) => {
            println!(
                "enabled and started {name}: `systemctl {}status {name}`",
                if system { "" } else { "--user " }
            );
            if !system {
                println!(
                    "a user unit starts at boot only once you run `loginctl enable-linger $USER`"
                );
            }
            Ok(())
        }
        Err(why) => Err(Exit::new(
            Code::Failed,
            format!(
                "the unit is written, but systemd did not enable it: {why}\n(is this host booted with systemd? `systemctl is-system-running` says; run `systemctl {}enable --now {name}` there)",
                if system { "" } else { "--user " }
            ),
        )),
    }
}

pub(crate) fn uninstall(config_path: &Path, args: &BootArgs) -> CmdResult {
    let config = crate::context::load_config(config_path)?.config;
    let system = is_root();
    let dir = match &args.unit_dir {
        Some(d) => d.clone(),
        None => default_unit_dir()?,
    };
    let name = unit_name(&config);
    let path = dir.join(&name);
    if !path.exists() {
        return Err(Exit::new(
            Code::Usage,
            format!(
                "no unit {} to remove: `backstop boot install` writes it",
                path.display()
            ),
        ));
    }
    if !args.no_enable
        && let Err(why) = systemctl(system, &["disable", "--now", &name])
    {
        eprintln!("note: systemd did not disable {name}: {why}");
    }
    std::fs::remove_file(&path).map_err(|e| {
        Exit::new(
            Code::Failed,
            format!("cannot remove {}: {e}", path.display()),
        )
    })?;
    if !args.no_enable {
        let _ = systemctl(system, &["daemon-reload"]);
    }
    println!("removed {}", path.display());
    Ok(())
}
