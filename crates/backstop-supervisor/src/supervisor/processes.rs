//! The processes of services: signalling whole trees, reaping, giving
//! orphans an owner, telling when a stopping service has no process left,
//! and recording the main processes in `state.json`.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use backstop_api::{EventKind, ExitInfo, ServiceState};
use backstop_probe::ChildExit;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::time::Instant;

use crate::machine::{ExitStatus, Input, describe, signal_name};
use crate::spawn::{SERVICE_ENV, STATE_DIR_ENV};
use crate::state_file::{RecordedProcess, StateFile};
use crate::{procs, tree};

use super::{EXIT_HISTORY, Supervisor, round_ms};

impl Supervisor {
    pub(super) fn signal_service(&mut self, i: usize, sig: i32) {
        self.attribute_orphans();
        let s = &self.services[i];
        let main_alive = s.main.as_ref().is_some_and(|m| m.alive);
        // The respawn hot path: a process that exited alone leaves an empty
        // group and no orphans (descendants of dead members would be ours
        // now), so there is nothing to scan /proc for.
        let in_cgroup = s.cgroup.as_ref().map(crate::cgroup::ServiceCgroup::members);
        if !main_alive
            && s.orphans.is_empty()
            && !s.pgid().is_some_and(tree::group_alive)
            && in_cgroup.as_ref().is_none_or(Vec::is_empty)
        {
            return;
        }
        tree::signal_all(&s.roots(), s.pgid(), sig);
        // Whatever escaped the tree (a double fork into its own session)
        // is still in the cgroup: SIGKILL all of it at once (`cgroup.kill`,
        // which no fork can race), other signals member by member.
        if sig == libc::SIGKILL
            && let Some(cg) = &s.cgroup
        {
            cg.kill();
            return;
        }
        for pid in in_cgroup.unwrap_or_default() {
            let _ = nix::sys::signal::kill(
                Pid::from_raw(pid),
                nix::sys::signal::Signal::try_from(sig).ok(),
            );
        }
    }

    pub(super) fn reap(&mut self, now: Instant) {
        // Only the services an exit concerns are looked at again: with
        // 1,000 services stopping, looking at all of them on every exit
        // made `down` grow with the square of their number.
        let mut touched = HashSet::new();
        let mut unknown = false;
        loop {
            let (pid, status) = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid.as_raw(), ExitStatus::Code(code)),
                Ok(WaitStatus::Signaled(pid, sig, _)) => {
                    (pid.as_raw(), ExitStatus::Signal(sig as i32))
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            };
            match self.on_exit(pid, status, now) {
                Exited::Probe => {}
                Exited::Of(i) => {
                    touched.insert(i);
                }
                Exited::Unknown => unknown = true,
            }
        }
        if unknown {
            self.check_trees(now);
        } else if !touched.is_empty() {
            self.check_trees_of(&touched, now);
        }
    }

    /// Records the exit of `pid`; says whose it was.
    pub(super) fn on_exit(&mut self, pid: i32, status: ExitStatus, now: Instant) -> Exited {
        let exit = match status {
            ExitStatus::Code(c) => ChildExit::Code(c),
            ExitStatus::Signal(s) => ChildExit::Signal(s),
        };
        if self.probe_reaper.deliver(pid, exit) {
            return Exited::Probe;
        }
        let owner = self
            .services
            .iter()
            .position(|s| s.main.as_ref().is_some_and(|m| m.alive && m.pid == pid));
        let Some(i) = owner else {
            let mut of = None;
            for (i, s) in self.services.iter_mut().enumerate() {
                if s.orphans.remove(&pid) {
                    of = Some(i);
                }
            }
            self.unowned.remove(&pid);
            return of.map_or(Exited::Unknown, Exited::Of);
        };
        let s = &mut self.services[i];
        let main = s.main.as_mut().expect("UNWRAP: owner has a main process");
        main.alive = false;
        let uptime = now.saturating_duration_since(main.started);
        let (code, signal) = match status {
            ExitStatus::Code(c) => (Some(c), None),
            ExitStatus::Signal(sig) => (None, Some(signal_name(sig))),
        };
        if s.exits.len() == EXIT_HISTORY {
            s.exits.pop_front();
        }
        let exit = ExitInfo {
            code,
            signal,
            at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            uptime_s: uptime.as_secs_f64(),
            oom_kill: None,
        };
        *s.exit_counts.entry(exit.describe()).or_default() += 1;
        s.exits.push_back(exit);
        let name = s.config.name.clone();
        // The kernel's OOM killer acted in its cgroup since it started.
        let oom = s.cgroup.as_ref().and_then(|cg| {
            (cg.oom_kills() > s.oom_kills_at_start).then(|| cg.memory_limit_and_peak())
        });
        if let (Some((limit, peak)), Some(last)) = (oom, s.exits.back_mut()) {
            last.oom_kill = Some(oom_note(limit, peak));
        }
        self.last_exited = Some(name.clone());
        self.event(
            Some(&name),
            EventKind::Exited,
            format!(
                "{name}: pid {pid} exited with {} after {}",
                describe(status),
                humantime::format_duration(round_ms(uptime))
            ),
        );
        if let Some((limit, peak)) = oom {
            self.event(
                Some(&name),
                EventKind::OomKilled,
                format!(
                    "{name}: killed by the kernel's OOM killer ({}; memory_max is the cgroup's limit)",
                    oom_note(limit, peak)
                ),
            );
        }
        self.feed(i, Input::MainExited(status), now);
        Exited::Of(i)
    }

    /// Gives every new child of backstop (an orphan of some service) an owner.
    pub(super) fn attribute_orphans(&mut self) {
        // Once per turn of the loop: a shutdown signals 1,000 services in
        // one turn, and reading backstop's children for each was quadratic.
        if std::mem::replace(&mut self.orphans_attributed, true) {
            return;
        }
        let mains: HashSet<i32> = self
            .services
            .iter()
            .filter_map(|s| s.main.as_ref().map(|m| m.pid))
            .collect();
        let state_dir = self.config.daemon.state_dir.display().to_string();
        for pid in procs::own_children() {
            if mains.contains(&pid)
                || self.probe_reaper.owns(pid)
                || self.unowned.contains(&pid)
                || self.services.iter().any(|s| s.orphans.contains(&pid))
            {
                continue;
            }
            let info = procs::lookup(pid);
            let by_group =
                info.and_then(|p| self.services.iter().position(|s| s.pgid() == Some(p.pgrp)));
            let by_marker = || {
                let name = procs::environ_var(pid, SERVICE_ENV)?;
                (procs::environ_var(pid, STATE_DIR_ENV)? == state_dir)
                    .then(|| self.index(&name))
                    .flatten()
            };
            let by_hint = || self.last_exited.as_deref().and_then(|n| self.index(n));
            match by_group.or_else(by_marker).or_else(by_hint) {
                Some(i) => {
                    self.services[i].orphans.insert(pid);
                }
                None => {
                    self.unowned.insert(pid);
                }
            }
        }
    }

    /// Reports `TreeGone` to every stopping service with no process left.
    pub(super) fn check_trees(&mut self, now: Instant) {
        let all: HashSet<usize> = (0..self.services.len()).collect();
        self.check_trees_of(&all, now);
    }

    /// [`Self::check_trees`] for the services `only`.
    pub(super) fn check_trees_of(&mut self, only: &HashSet<usize>, now: Instant) {
        let mut waiting: Vec<usize> = only
            .iter()
            .copied()
            .filter(|&i| {
                self.services.get(i).is_some_and(|s| {
                    s.state() == ServiceState::Stopping && !s.main.as_ref().is_some_and(|m| m.alive)
                })
            })
            .collect();
        waiting.sort_unstable();
        if waiting.is_empty() {
            return;
        }
        self.attribute_orphans();
        for i in waiting {
            let s = &self.services[i];
            let group = s.pgid().is_some_and(tree::group_alive);
            let orphans = s
                .orphans
                .iter()
                .any(|p| procs::lookup(*p).is_some_and(|p| !p.zombie));
            let in_cgroup = s.cgroup.as_ref().is_some_and(|cg| {
                cg.members()
                    .iter()
                    .any(|p| procs::lookup(*p).is_some_and(|p| !p.zombie))
            });
            if !group && !orphans && !in_cgroup {
                self.feed(i, Input::TreeGone, now);
            }
        }
    }

    /// Stops what is left that backstop still parents (orphans nobody
    /// claimed), reaps it, and clears the state file.
    pub(super) async fn final_sweep(&mut self) {
        let leftovers = procs::own_children();
        if !leftovers.is_empty() {
            self.event(
                None,
                EventKind::Orphans,
                format!(
                    "stopping {} process(es) left behind by services: {leftovers:?}",
                    leftovers.len()
                ),
            );
            tree::stop_foreign(leftovers, Vec::new(), libc::SIGTERM, Duration::from_secs(2)).await;
        }
        while let Ok(status) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            if status == WaitStatus::StillAlive {
                break;
            }
        }
        let _ = std::fs::remove_file(self.state_path());
        // Every service is stopped: no empty cgroup stays behind.
        for s in &self.services {
            if let Some(cg) = &s.cgroup {
                if cg.populated() {
                    cg.kill();
                }
                cg.remove();
            }
        }
        self.cgroups.remove_parents();
    }

    pub(super) fn save_state(&self) {
        let mut state = StateFile {
            daemon_pid: std::process::id(),
            ..StateFile::default()
        };
        for s in &self.services {
            if let Some(m) = &s.main {
                state.services.insert(
                    s.config.name.clone(),
                    RecordedProcess {
                        pid: m.pid,
                        pgid: m.pid,
                        start_time: m.start_time,
                    },
                );
            }
        }
        if let Err(e) = state.save(&self.state_path()) {
            self.event(
                None,
                EventKind::StateWriteFailed,
                format!("cannot write {}: {e}", self.state_path().display()),
            );
        }
    }
}

/// `oom-kill at 64.0 MB, peak 64.0 MB`: the cgroup's limit and peak.
/// Whose exit a reaped pid was.
pub(super) enum Exited {
    /// A probe's child (a check command).
    Probe,
    /// The main process or a known leftover of this service.
    Of(usize),
    /// A process nobody claimed: any stopping service may be waiting for it.
    Unknown,
}

fn oom_note(limit: Option<u64>, peak: Option<u64>) -> String {
    let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);
    let peak = peak.map_or_else(String::new, |p| format!(", peak {}", mb(p)));
    match limit {
        Some(l) => format!("oom-kill at {}{peak}", mb(l)),
        None => format!("oom-kill{peak}"),
    }
}
