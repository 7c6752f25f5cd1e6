//! Starting a service: its process, the capture of its output, and the
//! gate on its declared port (leftovers of the same service are stopped
//! first, strangers make the start fail).

use std::sync::Arc;
use std::time::SystemTime;

use backstop_api::EventKind;
use backstop_logs::ErrorPatterns;
use tokio::time::Instant;

use crate::machine::Input;
use crate::output::{Capture, Stream};
use crate::rules::port::{Gate, Holder};
use crate::spawn::{SERVICE_ENV, STATE_DIR_ENV};
use crate::{ports, procs, spawn, tree};

use super::{Internal, MainProcess, Supervisor};

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
        for (stream, to, fd) in [(Stream::Stdout, out, stdout), (Stream::Stderr, err, stderr)] {
            let capture = Capture {
                service: name.clone(),
                color: s.color,
                stream,
                to,
                format: settings.format,
                patterns: patterns.clone(),
                stats: s.log_stats.clone(),
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

    pub(super) fn spawn(&mut self, i: usize, now: Instant) {
        let state_dir = self.config.daemon.state_dir.clone();
        let plan = match spawn::prepare(&self.services[i].config, &state_dir) {
            Ok(plan) => plan,
            Err(reason) => return self.spawn_failed(i, reason.to_string(), now),
        };
        if self.services[i].clearing_port.is_some() {
            return; // the clearing under way resumes this start
        }
        if let Some(port) = self.services[i].config.port
            && !self.port_is_free(i, port)
        {
            return;
        }
        match spawn::spawn(&plan) {
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
                self.save_state();
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

    pub(super) fn spawn_failed(&mut self, i: usize, reason: String, now: Instant) {
        let name = self.services[i].config.name.clone();
        self.event(
            Some(&name),
            EventKind::SpawnFailed,
            format!("{name}: {reason}"),
        );
        self.feed(i, Input::SpawnFailed(reason), now);
    }

    /// Checks the declared port before a start ([`crate::rules::port`]).
    /// Leftovers of this very service are stopped, and the start resumes
    /// when they are gone ([`Internal::PortCleared`]); any other holder
    /// makes the start fail with its name.
    pub(super) fn port_is_free(&mut self, i: usize, port: u16) -> bool {
        let name = self.services[i].config.name.clone();
        let state_dir = self.config.daemon.state_dir.display().to_string();
        let holders: Vec<Holder> = ports::holders(port)
            .into_iter()
            .map(|h| Holder {
                pid: h.pid,
                ours: h.pid > 0
                    && procs::environ_var(h.pid, SERVICE_ENV).as_deref() == Some(name.as_str())
                    && procs::environ_var(h.pid, STATE_DIR_ENV).as_deref()
                        == Some(state_dir.as_str()),
                shown: h.to_string(),
            })
            .collect();
        let (pids, detail) = match crate::rules::port::gate(&name, port, &holders) {
            Gate::Open => return true,
            Gate::Refuse(reason) => {
                self.spawn_failed(i, reason, Instant::now());
                return false;
            }
            Gate::Clear { pids, detail } => (pids, detail),
        };
        self.next_clearing += 1;
        let clearing = self.next_clearing;
        let s = &mut self.services[i];
        s.clearing_port = Some(clearing);
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
                clearing,
                survivors,
            });
        });
        false
    }
}
