//! The commands around a service's process: `pre_start` (a start waits
//! for it; its failure is a failed start), `post_stop` (after each stop or
//! exit; the next start waits for it) and `stop.command` (instead of the
//! stop signal). Each runs off the loop with the service's environment,
//! directory and user, like an exec health check; its output goes to the
//! service's log and its end comes back as [`Internal::HookDone`].

use std::io::Write as _;
use std::time::SystemTime;

use backstop_api::EventKind;
use tokio::time::Instant;

use crate::machine::Input;
use crate::output::Stream;
use crate::spawn;

use super::{Internal, Supervisor};

/// Which command of the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HookKind {
    /// `pre_start`.
    PreStart,
    /// `post_stop`.
    PostStop,
    /// `stop.command`.
    Stop,
}

impl HookKind {
    fn key(self) -> &'static str {
        match self {
            Self::PreStart => "pre_start",
            Self::PostStop => "post_stop",
            Self::Stop => "stop.command",
        }
    }
}

/// How a hook ended: what it printed and its exit, or why it did not run
/// to its end (not found, timed out).
pub(super) type HookResult = Result<backstop_probe::Output, String>;

impl Supervisor {
    /// Starts `kind` of service `i`; false when the service has no such
    /// command or it cannot be prepared (the caller goes on without it).
    pub(super) fn run_hook(&mut self, i: usize, kind: HookKind) -> bool {
        let config = &self.services[i].config;
        let (command, timeout) = match kind {
            HookKind::PreStart => match &config.pre_start {
                Some(h) => (h.command.clone(), h.timeout),
                None => return false,
            },
            HookKind::PostStop => match &config.post_stop {
                Some(h) => (h.command.clone(), h.timeout),
                None => return false,
            },
            HookKind::Stop => match &config.stop.command {
                Some(c) => (c.clone(), config.stop.timeout),
                None => return false,
            },
        };
        let ctx = match spawn::prepare(config, &self.config.daemon.state_dir) {
            Ok(plan) => plan.probe_context(Some(self.probe_reaper.clone())),
            Err(e) => {
                let name = config.name.clone();
                self.event(
                    Some(&name),
                    EventKind::Hook,
                    format!("{name}: {} cannot run: {e}", kind.key()),
                );
                return false;
            }
        };
        self.next_gate += 1;
        let token = self.next_gate;
        self.services[i].hook = Some((token, kind));
        let service = self.services[i].config.name.clone();
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let result = backstop_probe::output(&command, &ctx, None, timeout).await;
            let _ = tx.send(Internal::HookDone {
                service,
                token,
                kind,
                result,
            });
        });
        true
    }

    /// A hook ended: log its output, say how it went, and go on with what
    /// waited for it.
    pub(super) fn hook_done(
        &mut self,
        i: usize,
        token: u64,
        kind: HookKind,
        result: &HookResult,
        now: Instant,
    ) {
        if self.services[i].hook.map(|(t, _)| t) != Some(token) {
            return; // a hook of an earlier config or attempt
        }
        self.services[i].hook = None;
        let start_waits = std::mem::take(&mut self.services[i].start_after_hook);
        let name = self.services[i].config.name.clone();
        let key = kind.key();
        let failure = match result {
            Ok(out) => {
                let lines = out.lines();
                self.log_hook_output(i, key, &lines);
                let last = lines
                    .iter()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map_or_else(String::new, |l| format!(": {}", l.trim()));
                (out.code != Some(0)).then(|| format!("{}{last}", out.ended()))
            }
            Err(why) => Some(why.clone()),
        };
        let message = match &failure {
            Some(f) => format!("{name}: {key} failed ({f})"),
            None => format!("{name}: {key} done"),
        };
        self.event(Some(&name), EventKind::Hook, message);
        match kind {
            HookKind::PreStart => match failure {
                None => {
                    self.services[i].pre_start_passed = true;
                    if self.services[i].state() == backstop_api::ServiceState::Starting
                        && self.services[i].main.is_none()
                    {
                        self.spawn(i, now);
                        self.announce(i, now);
                    }
                }
                Some(f) => self.feed(i, Input::PreStartFailed(f), now),
            },
            HookKind::PostStop => {
                if start_waits {
                    self.spawn(i, now);
                    self.announce(i, now);
                }
            }
            HookKind::Stop => {
                // It could not stop the service: the signal does.
                if failure.is_some() && self.services[i].main.as_ref().is_some_and(|m| m.alive) {
                    let signal = self.services[i].config.stop.signal.number;
                    self.signal_service(i, signal);
                }
            }
        }
    }

    /// A hook's output in the service's log, each line marked with the hook.
    fn log_hook_output(&mut self, i: usize, key: &str, lines: &[String]) {
        if lines.is_empty() {
            return;
        }
        let settings = self.services[i].config.logs.clone();
        let name = self.services[i].config.name.clone();
        let sender = self.logs.sender(&name, Stream::Stdout, &settings);
        let stamp = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let mut batch = Vec::new();
        for line in lines {
            if settings.format == backstop_config::LogFormat::Timestamped {
                let _ = write!(batch, "{stamp} stdout ");
            }
            let _ = writeln!(batch, "[{key}] {line}");
        }
        sender.send(batch, lines.len() as u64);
    }
}
