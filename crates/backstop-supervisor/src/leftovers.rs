//! Leftovers of a previous daemon that died without stopping its services
//! (SIGKILL, OOM killer, power of a `kill -9`): found through `state.json`
//! and stopped before anything starts, so a service never runs twice.

use std::time::Duration;

use backstop_config::Config;

use crate::procs;
use crate::spawn::{SERVICE_ENV, STATE_DIR_ENV};
use crate::state_file::StateFile;
use crate::tree;

/// Stops every process recorded in `state.json` that is still the process
/// it was. Returns one line per service that had leftovers.
pub async fn stop_previous_instance(config: &Config) -> Vec<String> {
    let path = config.daemon.state_dir.join("state.json");
    let state = StateFile::load(&path);
    let state_dir = config.daemon.state_dir.display().to_string();
    let mut report = Vec::new();
    // Read once, and only when some recorded main process is gone (its
    // group's members can then only be found in the whole table).
    let mut table: Option<Vec<procs::ProcInfo>> = None;
    for (name, record) in &state.services {
        let main_alive = procs::lookup(record.pid)
            .is_some_and(|p| p.start_time == record.start_time && !p.zombie);
        // Without the main process, the group id may have been reused: only
        // members that carry this service's marker are ours.
        let roots: Vec<i32> = if main_alive {
            vec![record.pid]
        } else {
            procs::members(
                table.get_or_insert_with(procs::snapshot),
                &[],
                Some(record.pgid),
            )
            .iter()
            .filter(|p| {
                procs::environ_var(p.pid, SERVICE_ENV).as_deref() == Some(name.as_str())
                    && procs::environ_var(p.pid, STATE_DIR_ENV).as_deref()
                        == Some(state_dir.as_str())
            })
            .map(|p| p.pid)
            .collect()
        };
        if roots.is_empty() {
            continue;
        }
        let groups = if main_alive {
            vec![record.pgid]
        } else {
            Vec::new()
        };
        let (signal, timeout) = config
            .service(name)
            .map_or((libc::SIGTERM, Duration::from_secs(10)), |s| {
                (s.stop.signal.number, s.stop.timeout)
            });
        let survivors = tree::stop_foreign(roots.clone(), groups, signal, timeout).await;
        report.push(if survivors.is_empty() {
            format!("{name}: stopped leftover processes {roots:?} of a previous backstop")
        } else {
            format!(
                "{name}: leftover processes {survivors:?} of a previous backstop survive SIGKILL"
            )
        });
    }
    let _ = std::fs::remove_file(&path);
    report
}

/// Stops what an earlier daemon left in the services' cgroups (cgroup
/// mode): whatever `state.json` did not know of, however it escaped.
/// Returns one line per service that had some.
pub async fn stop_cgroup_leftovers(config: &Config) -> Vec<String> {
    let cgroups = crate::cgroup::Cgroups::detect(&config.daemon.state_dir, config.daemon.cgroups);
    let mut report = Vec::new();
    for (name, pids) in cgroups.leftovers() {
        let (signal, timeout) = config
            .service(&name)
            .map_or((libc::SIGTERM, Duration::from_secs(10)), |s| {
                (s.stop.signal.number, s.stop.timeout)
            });
        let survivors = tree::stop_foreign(pids.clone(), Vec::new(), signal, timeout).await;
        report.push(if survivors.is_empty() {
            format!("{name}: stopped processes {pids:?} left in its cgroup by a previous backstop")
        } else {
            format!("{name}: processes {survivors:?} left in its cgroup survive SIGKILL")
        });
    }
    report
}

/// Where the daemon records the commands it runs besides services
/// ([`backstop_probe::ledger`]).
pub fn helpers_dir(config: &Config) -> std::path::PathBuf {
    config.daemon.state_dir.join("helpers")
}

/// Stops the commands (an `exec` check, a playbook step, an alert command)
/// an earlier daemon was running when it died: each recorded process group
/// whose leader still runs the recorded command. Returns one line for each.
pub async fn stop_helper_leftovers(config: &Config) -> Vec<String> {
    let mut report = Vec::new();
    for entry in backstop_probe::ledger::Ledger::entries(&helpers_dir(config)) {
        let _ = std::fs::remove_file(&entry.path);
        let ours = procs::lookup(entry.pid).is_some_and(|p| p.pgrp == entry.pid && !p.zombie)
            && std::fs::read(format!("/proc/{}/cmdline", entry.pid)).is_ok_and(|c| {
                c.strip_suffix(b"\0").unwrap_or(&c) == entry.command.join("\0").as_bytes()
            });
        if !ours {
            continue;
        }
        let command = entry.command.join(" ");
        let survivors = tree::stop_foreign(
            vec![entry.pid],
            vec![entry.pid],
            libc::SIGTERM,
            Duration::from_secs(5),
        )
        .await;
        report.push(if survivors.is_empty() {
            format!(
                "stopped `{command}` (pid {}), a command a previous backstop ran (a check, a playbook step or an alert) and left running",
                entry.pid
            )
        } else {
            format!(
                "`{command}` (pid {}), left running by a previous backstop, survives SIGKILL: {survivors:?}",
                entry.pid
            )
        });
    }
    report
}

/// Processes of service `name` of the state directory `state_dir` that
/// are not among `current` (its running tree): earlier runs, or processes
/// that escaped from it. Recognised by the `BACKSTOP_SERVICE` and
/// `BACKSTOP_STATE_DIR` of their environment, never by a name; reads the
/// whole process table, so call it off the runtime. Returns each pid with
/// its command line.
pub fn of_service<S: std::hash::BuildHasher>(
    name: &str,
    state_dir: &std::path::Path,
    current: &std::collections::HashSet<i32, S>,
) -> Vec<(i32, String)> {
    let state_dir = state_dir.display().to_string();
    let me = std::process::id() as i32;
    procs::snapshot()
        .into_iter()
        .filter(|p| !p.zombie && p.pid != me && !current.contains(&p.pid))
        .filter(|p| {
            procs::environ_var(p.pid, SERVICE_ENV).as_deref() == Some(name)
                && procs::environ_var(p.pid, STATE_DIR_ENV).as_deref() == Some(state_dir.as_str())
        })
        .map(|p| (p.pid, procs::cmdline(p.pid)))
        .collect()
}

/// What process `pid` is to `service` (of the state directory
/// `state_dir`): a leftover of it (its environment carries the service's
/// markers), a copy of its command run in its directory outside backstop
/// (`pid` or one of its ancestors has exactly the service's arguments and
/// working directory), or a stranger. Reads /proc: call it off the runtime.
pub fn kinship(
    pid: i32,
    service: &backstop_config::ServiceConfig,
    state_dir: &std::path::Path,
) -> crate::rules::port::Kinship {
    use crate::rules::port::Kinship;
    if pid <= 0 {
        return Kinship::Stranger;
    }
    let state_dir = state_dir.display().to_string();
    if procs::environ_var(pid, SERVICE_ENV).is_some_and(|n| same_service(&n, service))
        && procs::environ_var(pid, STATE_DIR_ENV).as_deref() == Some(state_dir.as_str())
    {
        return Kinship::Leftover;
    }
    let me = std::process::id() as i32;
    let mut root = None;
    let mut at = pid;
    // The holder may be a worker of the copy (uvicorn --reload, gunicorn):
    // look a few generations up, keeping the topmost match.
    for _ in 0..8 {
        if at <= 1 || at == me {
            break;
        }
        if runs_command_of(at, service) {
            root = Some(at);
        }
        match procs::lookup(at) {
            Some(p) => at = p.ppid,
            None => break,
        }
    }
    root.map_or(Kinship::Stranger, |root| Kinship::HandStarted { root })
}

/// Whether a process marked as service `marked` is `service`, or another
/// copy of the same declared service (`api` before `backstop scale api 3`
/// made it `api.1`): its port is this service's to take back.
fn same_service(marked: &str, service: &backstop_config::ServiceConfig) -> bool {
    let group = service
        .instance
        .as_ref()
        .map_or(service.name.as_str(), |i| i.group.as_str());
    marked == service.name || backstop_config::is_copy_of(marked, group)
}

/// `pid` runs the service's command line (the program by name or by
/// path, then the same arguments) in the service's directory.
fn runs_command_of(pid: i32, service: &backstop_config::ServiceConfig) -> bool {
    let Ok(process) = procfs::process::Process::new(pid) else {
        return false;
    };
    let (Ok(argv), Ok(cwd)) = (process.cmdline(), process.cwd()) else {
        return false;
    };
    let program = |p: &str| {
        std::path::Path::new(p)
            .file_name()
            .map(std::ffi::OsStr::to_os_string)
    };
    let dir = std::fs::canonicalize(&service.dir).unwrap_or_else(|_| service.dir.clone());
    match (argv.split_first(), service.command.split_first()) {
        (Some((p, args)), Some((want, want_args))) => {
            cwd == dir && args == want_args && program(p) == program(want)
        }
        _ => false,
    }
}
