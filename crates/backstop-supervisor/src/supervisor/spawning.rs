//! Starting a service: its process, the capture of its output, and the
//! gate on its declared port (leftovers of the same service are stopped
//! first, strangers make the start fail).

use std::sync::Arc;
use std::time::SystemTime;

use backstop_api::{EventKind, ServiceState};
use backstop_logs::ErrorPatterns;
use tokio::time::Instant;

use crate::machine::Input;
use crate::output::{Capture, Stream};
use crate::rules::port::{Gate, Holder};
use crate::{ports, procs, spawn, tree};

use super::{Internal, MainProcess, Supervisor, redact_with};

/// How long a port held by a process nobody can see is looked at again
/// before the start fails (an exiting process releases it meanwhile).
const UNSEEN_HOLDER_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

impl Supervisor {
    /// Starts the capture of a freshly spawned service's output.
    pub(super) fn capture(
        &mut self,
        i: usize,
        stdout: std::os::fd::OwnedFd,
        stderr: std::os::fd::OwnedFd,
    ) {
        let settings = self.services[i].config.logs.clone();
        let patterns = self.error_patterns_for(&settings);
        let s = &self.services[i];
        let name = &s.config.name;
        let out = self.logs.sender(name, Stream::Stdout, &settings);
        let err = match settings.stderr {
            backstop_config::StderrFile::Merged => out.clone(),
            backstop_config::StderrFile::Separate => {
                self.logs.sender(name, Stream::Stderr, &settings)
            }
        };
        if let Some(job) = &s.job {
            job.tail.begin(2);
        }
        for (stream, to, fd) in [(Stream::Stdout, out, stdout), (Stream::Stderr, err, stderr)] {
            let capture = Capture {
                service: name.clone(),
                color: s.color,
                stream,
                to,
                format: settings.format,
                patterns: patterns.clone(),
                stats: s.log_stats.clone(),
                tail: s.job.as_ref().map(|j| j.tail.clone()),
            };
            self.capture.add(capture, fd);
        }
    }

    pub(super) fn error_patterns_for(
        &mut self,
        settings: &backstop_config::LogSettings,
    ) -> Arc<ErrorPatterns> {
        let same = |a: &backstop_config::LogSettings| {
            a.error_patterns == settings.error_patterns
                && a.ignore_patterns == settings.ignore_patterns
                && a.builtin_error_patterns == settings.builtin_error_patterns
        };
        if let Some((_, p)) = self.error_patterns.iter().find(|(s, _)| same(s)) {
            return p.clone();
        }
        // The loader compiled every pattern already; failing here is a bug,
        // and the service runs on without error counting rather than not at all.
        let patterns = Arc::new(ErrorPatterns::new(settings).unwrap_or_else(|e| {
            tracing::error!("error patterns do not compile ({e}); error counting is off");
            ErrorPatterns::new(&backstop_config::LogSettings {
                builtin_error_patterns: false,
                error_patterns: Vec::new(),
                ignore_patterns: Vec::new(),
                ..settings.clone()
            })
            .expect("no patterns always compile")
        }));
        self.error_patterns
            .push((settings.clone(), patterns.clone()));
        patterns
    }

    /// Starts service `i`'s process: after its `pre_start`, and, for a
    /// service with a `port`, once its port is known to be free
    /// ([`Self::gate_port`]).
    pub(super) fn spawn(&mut self, i: usize, now: Instant) {
        if self.services[i].port_gate.is_some() {
            return; // the gate under way resumes this start
        }
        // A `post_stop` still running: the start resumes when it ends.
        if self.services[i].hook.is_some() {
            self.services[i].start_after_hook = true;
            return;
        }
        // `pre_start` first; its end resumes the start ([`Self::hook_done`]).
        if !self.services[i].pre_start_passed
            && self.services[i].config.pre_start.is_some()
            && self.run_hook(i, super::hooks::HookKind::PreStart)
        {
            return;
        }
        match self.services[i].config.port {
            Some(port) => self.gate_port(i, port),
            None => self.spawn_now(i, now),
        }
    }

    /// Creates the process, with nothing left to wait for.
    pub(super) fn spawn_now(&mut self, i: usize, now: Instant) {
        // The next start runs `pre_start` again.
        self.services[i].pre_start_passed = false;
        let state_dir = self.config.daemon.state_dir.clone();
        let plan = match spawn::prepare(&self.services[i].config, &state_dir) {
            Ok(plan) => plan,
            Err(reason) => return self.spawn_failed(i, reason.to_string(), now),
        };
        self.learn_secrets(i, &plan);
        let procs_files = self.join_cgroup(i);
        match spawn::spawn(&plan, &procs_files) {
            Ok(child) => {
                let reaper = self.probe_reaper.clone();
                let s = &mut self.services[i];
                s.generation += 1;
                s.probe_context = Some(plan.probe_context(Some(reaper)));
                s.checks.iter_mut().for_each(|c| c.arm(now));
                let start_time = procs::lookup(child.pid).map_or(0, |p| p.start_time);
                s.main = Some(MainProcess {
                    pid: child.pid,
                    start_time,
                    started_wall: SystemTime::now(),
                    started: now,
                    alive: true,
                });
                s.detail = None;
                s.diagnosis = None;
                let name = s.config.name.clone();
                self.capture(i, child.stdout, child.stderr);
                self.services[i].machine.note_main_exists();
                self.state_dirty = true;
                self.event(
                    Some(&name),
                    EventKind::Spawned,
                    format!("{name}: started, pid {}", child.pid),
                );
                self.feed(i, Input::Spawned, now);
            }
            Err(reason) => self.spawn_failed(i, reason.to_string(), now),
        }
    }

    /// Makes (or finds, or keeps from its last run) service `i`'s cgroups
    /// with its limits, and opens
    /// their `cgroup.procs` for the child to join. Without cgroups, or
    /// when they cannot be made, the service is tracked by its process
    /// tree (said once, as an event).
    fn join_cgroup(&mut self, i: usize) -> Vec<std::os::fd::OwnedFd> {
        if !self.cgroups.enabled() {
            return Vec::new();
        }
        let s = &mut self.services[i];
        // A restart reuses the cgroups of the last run (kept while the
        // service waits to restart): no mkdir, no limit writes.
        let kept = s.cgroup.take().filter(|cg| cg.has_limits(&s.config.limits));
        let s = &self.services[i];
        let made = kept
            .map_or_else(
                || self.cgroups.service(&s.config.name, &s.config.limits),
                Ok,
            )
            .and_then(|cg| cg.procs_files().map(|fds| (cg, fds)));
        match made {
            Ok((cg, fds)) => {
                let s = &mut self.services[i];
                s.oom_kills_at_start = cg.oom_kills();
                s.cgroup = Some(cg);
                fds
            }
            Err(e) => {
                let name = s.config.name.clone();
                if self.services[i].cgroup.take().is_some() || self.services[i].generation == 0 {
                    self.event(
                        Some(&name),
                        EventKind::Request,
                        format!("{name}: no cgroup ({e}); tracked by its process tree, kernel limits not set"),
                    );
                }
                Vec::new()
            }
        }
    }

    /// Masks what this start's environment holds from now on: a value of
    /// its env file (edited since the config was read), a secret-named
    /// variable, a URL's password.
    fn learn_secrets(&mut self, i: usize, plan: &spawn::SpawnPlan) {
        let before = self.redactor.known_values();
        if let Some(file) = &self.services[i].config.env_file {
            self.redactor.learn_env_file(file);
        }
        for (k, v) in plan.env() {
            self.redactor.learn(k, v, false);
            self.redactor.learn_url(v);
        }
        if self.redactor.known_values() != before {
            self.events.set_redact(redact_with(&self.redactor));
        }
    }

    pub(super) fn spawn_failed(&mut self, i: usize, reason: String, now: Instant) {
        let name = self.services[i].config.name.clone();
        self.event(
            Some(&name),
            EventKind::SpawnFailed,
            format!("{name}: {reason}"),
        );
        self.feed(i, Input::SpawnFailed(reason), now);
    }

    /// Checks the declared port before a start ([`crate::rules::port`]),
    /// off the runtime: who holds a port is found by reading every
    /// process's open files. The start resumes in [`Self::port_checked`].
    pub(super) fn gate_port(&mut self, i: usize, port: u16) {
        self.next_gate += 1;
        let gate = self.next_gate;
        self.services[i].port_gate = Some(gate);
        let name = self.services[i].config.name.clone();
        let service = self.services[i].config.clone();
        let state_dir = self.config.daemon.state_dir.clone();
        let tx = self.internal_tx.clone();
        tokio::task::spawn_blocking(move || {
            // A socket whose owner cannot be seen is often a process in the
            // middle of exiting (its files released after its socket is
            // counted): look again for a moment before calling it a stranger.
            let deadline = std::time::Instant::now() + UNSEEN_HOLDER_GRACE;
            let mut found = ports::holders(port);
            while found.iter().any(|h| h.pid == 0) && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(50));
                found = ports::holders(port);
            }
            let holders: Vec<Holder> = found
                .into_iter()
                .map(|h| Holder {
                    pid: h.pid,
                    kin: crate::leftovers::kinship(h.pid, &service, &state_dir),
                    shown: h.to_string(),
                })
                .collect();
            let _ = tx.send(Internal::PortChecked {
                service: name,
                gate,
                port,
                holders,
            });
        });
    }

    /// Who holds the port is known: start, stop leftovers of this very
    /// service first (the start resumes when they are gone), or fail
    /// naming the stranger.
    pub(super) fn port_checked(&mut self, i: usize, gate: u64, port: u16, holders: &[Holder]) {
        if !self.waits_for_gate(i, gate) {
            return;
        }
        let name = self.services[i].config.name.clone();
        let now = Instant::now();
        let (pids, detail) = match crate::rules::port::gate(&name, port, holders) {
            Gate::Open => {
                self.services[i].port_gate = None;
                return self.spawn_now(i, now);
            }
            Gate::Refuse(reason) => {
                self.services[i].port_gate = None;
                return self.spawn_failed(i, reason, now);
            }
            Gate::Clear { pids, detail } => (pids, detail),
        };
        let s = &mut self.services[i];
        s.detail = Some(detail.clone());
        self.event(
            Some(&name),
            EventKind::Leftover,
            format!("{name}: {detail}"),
        );
        let stop = self.services[i].config.stop.clone();
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            // Recognised by their environment only: not a group backstop
            // made, so they are stopped one by one, never as a group.
            let survivors =
                tree::stop_foreign(pids, Vec::new(), stop.signal.number, stop.timeout).await;
            let _ = tx.send(Internal::PortCleared {
                service: name,
                gate,
                survivors,
            });
        });
    }

    /// The leftovers on the port are gone (or survived SIGKILL).
    pub(super) fn port_cleared(&mut self, i: usize, gate: u64, survivors: &[i32]) {
        if !self.waits_for_gate(i, gate) {
            return;
        }
        self.services[i].port_gate = None;
        let now = Instant::now();
        if survivors.is_empty() {
            self.spawn_now(i, now);
        } else {
            self.spawn_failed(
                i,
                format!("a leftover instance (pids {survivors:?}) survived SIGKILL and still holds the port"),
                now,
            );
        }
    }

    /// True when service `i` still waits for port gate `gate` to start:
    /// the gate is its current one, it was not stopped meanwhile, and
    /// nothing else spawned it. A gate it no longer waits for is dropped.
    fn waits_for_gate(&mut self, i: usize, gate: u64) -> bool {
        let s = &mut self.services[i];
        if s.port_gate != Some(gate) {
            return false;
        }
        let waiting =
            s.state() == ServiceState::Starting && !s.main.as_ref().is_some_and(|m| m.alive);
        if !waiting {
            s.port_gate = None;
        }
        waiting
    }
}
