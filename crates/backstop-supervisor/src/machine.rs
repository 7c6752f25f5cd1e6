//! The service runner's brain: a pure state machine.
//!
//! [`Machine::handle`] takes an [`Input`] (a request, a process fact, a timer)
//! and the current time, changes state and returns the [`Action`]s the runtime
//! must carry out. It spawns nothing and reads no clock, so every restart,
//! backoff and crash-loop rule is unit-tested below without a process.
//!
//! ```text
//!  stopped ──Start──► pending ──Launch──► starting ──Spawned──► running
//!     ▲                  ▲                   │ SpawnFailed          │ MainExited
//!     │                  │                   ▼                      ▼
//!     │                  │                 failed       stopping (cleanup of leftovers)
//!     │                  │                                          │ TreeGone
//!     │                  └──Deadline── backoff ◄── restart? ────────┤
//!     │                                                             ├─► crash-loop (budget spent)
//!     └──────────────── stopping (Stop) ◄── Stop                    └─► exited / failed (no restart)
//! ```
//!
//! Restart bookkeeping: each restart after an exit waits
//! `backoff_initial × backoff_factor^n` (capped at `backoff_max`), where `n`
//! counts consecutive restarts and resets once a run lasted `reset_after`.
//! When `max_restarts` restarts already happened within `window`, the next
//! exit puts the service in `crash-loop` instead (so `max_restarts = 3`
//! allows 4 starts). Starts and restarts asked for by hand reset the budget.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use backstop_api::ServiceState;
use backstop_config::{RestartConfig, RestartPolicy, ServiceConfig, StopMode};

/// How long to wait for processes to vanish after `SIGKILL` before reporting them.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// How a main process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// It called `exit(code)`.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

impl ExitStatus {
    /// Exit code 0.
    pub fn success(self) -> bool {
        self == Self::Code(0)
    }
}

/// What happened, as far as the machine needs to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Asked to start (by `up`, `start`, or a reload that added it).
    Start,
    /// Asked to stop.
    Stop,
    /// Asked to restart.
    Restart,
    /// Its dependencies are satisfied: go.
    Launch,
    /// The main process exists.
    Spawned,
    /// The main process could not be created; the reason is for the operator.
    SpawnFailed(String),
    /// The `pre_start` hook failed: a failed start, under the restart
    /// policy (backoff, crash loop) like an exit.
    PreStartFailed(String),
    /// The main process ended.
    MainExited(ExitStatus),
    /// No process of the service is left.
    TreeGone,
    /// The time returned by [`Machine::deadline`] has come.
    Deadline,
    /// A health check passed (the service is ready, or ready again).
    ProbePassed,
    /// The running process must be replaced by a new one: a liveness
    /// check failed, or its memory passed `memory_max`.
    Replace(Why),
}

/// Why a process that still runs is stopped and started again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// A liveness check (`on_failure = "restart"`) failed `failures` times
    /// in a row, outside the startup grace period.
    Liveness,
    /// Its memory passed `memory_max` (the runtime reports the figures).
    MemoryMax,
    /// No check passed within `startup`, and it has a liveness check.
    StartupTimeout,
}

impl Why {
    /// What `status` says while the old process is being stopped.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Liveness => "restarting: a liveness check failed",
            Self::MemoryMax => "restarting: its memory passed memory_max",
            Self::StartupTimeout => "restarting: no health check passed within its startup period",
        }
    }
}

/// What the runtime must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Create the main process (then report `Spawned` or `SpawnFailed`).
    Spawn,
    /// Send the stop signal to the main process only.
    SignalMain(i32),
    /// Send the stop signal to the whole process group and its descendants.
    SignalAll(i32),
    /// `SIGKILL` every process of the service that is left.
    KillAll,
    /// Run `stop.command` (instead of sending the stop signal; the runtime
    /// sends the signal if the command cannot run or fails).
    StopCommand,
    /// Something worth an event.
    Notify(Notice),
}

/// Facts the machine reports for the event history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A restart will happen after `delay`.
    RestartScheduled {
        /// The wait.
        delay: Duration,
        /// Restarts so far, this one included.
        restarts: u32,
    },
    /// The restart budget is spent.
    CrashLoop {
        /// Restarts that happened within the window.
        restarts: u32,
        /// The window.
        window: Duration,
    },
    /// The stop timeout passed: `SIGKILL` was sent.
    KillEscalated,
    /// Processes survived `SIGKILL` for [`KILL_GRACE`].
    SurvivedKill,
    /// The service never became healthy within its `startup` period.
    StartupTimeout,
    /// A liveness check failed: the service is being restarted.
    LivenessRestart,
    /// It exited while a dependency was down: it waits for the dependency
    /// instead of being restarted (no restart is counted).
    WaitingForDependency,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Intent {
    Stop,
    Restart,
    /// The main process exited on its own; leftovers are being cleaned up
    /// before the restart decision.
    Cleanup(ExitStatus),
    /// The process is stopped to be replaced; the restart budget applies
    /// as if it had exited.
    Replace(Why),
}

#[derive(Clone, Debug, PartialEq)]
enum Phase {
    Stopped,
    Pending,
    Starting {
        has_main: bool,
    },
    Running,
    StartupTimeout,
    Backoff {
        until: Instant,
    },
    Stopping {
        intent: Intent,
        deadline: Instant,
        main_alive: bool,
        killed: bool,
    },
    CrashLoop,
    Exited,
    Failed {
        reason: String,
    },
}

/// The state machine of one service.
#[derive(Clone, Debug)]
pub struct Machine {
    restart: RestartConfig,
    /// The service has health checks: it is `starting` until one passes.
    has_probes: bool,
    /// Has a check with `on_failure = "restart"`.
    has_liveness: bool,
    startup: Option<Duration>,
    stop_signal: i32,
    stop_timeout: Duration,
    stop_mode: StopMode,
    /// `stop.command` is set: a stop runs it instead of the signal.
    stop_command: bool,
    phase: Phase,
    restarts: u32,
    recent_restarts: VecDeque<Instant>,
    consecutive: u32,
    /// A dependency's condition does not hold now (the runtime says so
    /// before each input): an exit is then the dependency's fault, and the
    /// service waits for it instead of spending its restart budget.
    dependencies_down: bool,
    started_at: Option<Instant>,
}

type Actions = Vec<Action>;

impl Machine {
    /// A stopped machine for `service`.
    pub fn new(service: &ServiceConfig) -> Self {
        Self {
            restart: service.restart.clone(),
            has_probes: service.health.iter().any(is_readiness_check),
            has_liveness: service
                .health
                .iter()
                .any(|h| h.on_failure == backstop_config::OnFailure::Restart),
            startup: service.startup,
            stop_signal: service.stop.signal.number,
            stop_timeout: service.stop.timeout,
            stop_mode: service.stop.mode,
            stop_command: service.stop.command.is_some(),
            phase: Phase::Stopped,
            restarts: 0,
            recent_restarts: VecDeque::new(),
            consecutive: 0,
            dependencies_down: false,
            started_at: None,
        }
    }

    /// Tells whether a dependency's condition fails to hold now.
    pub fn note_dependencies(&mut self, down: bool) {
        self.dependencies_down = down;
    }

    /// The public state name.
    pub fn state(&self) -> ServiceState {
        match self.phase {
            Phase::Stopped => ServiceState::Stopped,
            Phase::Pending => ServiceState::Pending,
            Phase::Starting { .. } => ServiceState::Starting,
            Phase::Running => ServiceState::Running,
            Phase::StartupTimeout => ServiceState::StartupTimeout,
            Phase::Backoff { .. } => ServiceState::Backoff,
            Phase::Stopping { .. } => ServiceState::Stopping,
            Phase::CrashLoop => ServiceState::CrashLoop,
            Phase::Exited => ServiceState::Exited,
            Phase::Failed { .. } => ServiceState::Failed,
        }
    }

    /// Why the service failed, in state `failed`.
    pub fn failure(&self) -> Option<&str> {
        match &self.phase {
            Phase::Failed { reason } => Some(reason),
            _ => None,
        }
    }

    /// Restarts since the last start by hand.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// When the main process started, while it runs.
    pub fn started_at(&self) -> Option<Instant> {
        self.started_at
    }

    /// While `stopping` on its own account (not asked to by anyone): why.
    pub fn stopping_because(&self) -> Option<&'static str> {
        match self.phase {
            Phase::Stopping {
                intent: Intent::Cleanup(_),
                ..
            } => Some("stopping what the exited process left behind"),
            Phase::Stopping {
                intent: Intent::Replace(why),
                ..
            } => Some(why.describe()),
            _ => None,
        }
    }

    /// When the runtime must feed [`Input::Deadline`].
    pub fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Backoff { until } => Some(until),
            Phase::Stopping { deadline, .. } => Some(deadline),
            Phase::Starting { has_main: true } => self.startup_deadline(),
            _ => None,
        }
    }

    fn startup_deadline(&self) -> Option<Instant> {
        Some(self.started_at? + self.startup?)
    }

    /// True while liveness failures must not count: before the first probe
    /// success, within `startup` of the start.
    pub fn in_startup_grace(&self, now: Instant) -> bool {
        matches!(self.phase, Phase::Starting { .. })
            && self.startup_deadline().is_some_and(|d| now < d)
    }

    /// The delay before the next restart, given how many came before it in a row.
    pub fn backoff_delay(&self, consecutive: u32) -> Duration {
        let r = &self.restart;
        let factor = r.backoff_factor.powi(consecutive.min(64) as i32);
        let secs = r.backoff_initial.as_secs_f64() * factor;
        if !secs.is_finite() || secs >= r.backoff_max.as_secs_f64() {
            r.backoff_max
        } else {
            Duration::from_secs_f64(secs)
        }
    }

    fn reset_budget(&mut self) {
        self.restarts = 0;
        self.recent_restarts.clear();
        self.consecutive = 0;
    }

    fn stop_signal_action(&self) -> Action {
        if self.stop_command {
            return Action::StopCommand;
        }
        match self.stop_mode {
            StopMode::Group => Action::SignalAll(self.stop_signal),
            StopMode::Main => Action::SignalMain(self.stop_signal),
        }
    }

    fn begin_stop(&mut self, intent: Intent, now: Instant) -> Actions {
        self.phase = Phase::Stopping {
            intent,
            deadline: now + self.stop_timeout,
            main_alive: true,
            killed: false,
        };
        vec![self.stop_signal_action()]
    }

    /// Feeds one input; returns what to do.
    pub fn handle(&mut self, input: Input, now: Instant) -> Actions {
        match input {
            Input::Start => self.on_start(),
            Input::Stop => self.on_stop(now),
            Input::Restart => self.on_restart(now),
            Input::Launch => {
                if self.phase == Phase::Pending {
                    self.phase = Phase::Starting { has_main: false };
                    vec![Action::Spawn]
                } else {
                    Vec::new()
                }
            }
            Input::Spawned => {
                if let Phase::Starting { .. } = self.phase {
                    self.started_at = Some(now);
                    // With health checks, a service is `starting` until the
                    // first one passes; without, it is running at once.
                    self.phase = if self.has_probes {
                        Phase::Starting { has_main: true }
                    } else {
                        Phase::Running
                    };
                }
                Vec::new()
            }
            Input::ProbePassed => {
                if matches!(
                    self.phase,
                    Phase::Starting { has_main: true } | Phase::StartupTimeout
                ) {
                    self.phase = Phase::Running;
                }
                Vec::new()
            }
            Input::Replace(why) => match self.phase {
                Phase::Running | Phase::Starting { has_main: true } | Phase::StartupTimeout => {
                    let mut actions = match why {
                        Why::Liveness => vec![Action::Notify(Notice::LivenessRestart)],
                        Why::MemoryMax | Why::StartupTimeout => Vec::new(),
                    };
                    actions.extend(self.begin_stop(Intent::Replace(why), now));
                    actions
                }
                _ => Vec::new(),
            },
            Input::SpawnFailed(reason) => {
                if let Phase::Starting { .. } = self.phase {
                    self.started_at = None;
                    self.phase = Phase::Failed { reason };
                }
                Vec::new()
            }
            Input::PreStartFailed(reason) => {
                if self.phase != (Phase::Starting { has_main: false }) {
                    return Vec::new();
                }
                self.started_at = None;
                // A failed start, as an exit with a failure would be.
                let actions = self.after_exit(ExitStatus::Code(1), now);
                if let Phase::Failed { reason: why } = &mut self.phase {
                    *why = format!("pre_start failed: {reason}");
                }
                actions
            }
            Input::MainExited(status) => self.on_main_exit(status, now),
            Input::TreeGone => self.on_tree_gone(now),
            Input::Deadline => self.on_deadline(now),
        }
    }

    fn on_start(&mut self) -> Actions {
        match &mut self.phase {
            Phase::Stopped | Phase::Exited | Phase::Failed { .. } | Phase::CrashLoop => {
                self.reset_budget();
                self.phase = Phase::Pending;
            }
            Phase::Backoff { .. } => self.phase = Phase::Pending,
            Phase::Stopping { intent, .. } => {
                if *intent == Intent::Stop {
                    *intent = Intent::Restart;
                }
            }
            Phase::Pending | Phase::Starting { .. } | Phase::Running | Phase::StartupTimeout => {}
        }
        Vec::new()
    }

    fn on_stop(&mut self, now: Instant) -> Actions {
        match &mut self.phase {
            Phase::Running | Phase::Starting { has_main: true } | Phase::StartupTimeout => {
                self.begin_stop(Intent::Stop, now)
            }
            Phase::Stopping { intent, .. } => {
                *intent = Intent::Stop;
                Vec::new()
            }
            Phase::Pending
            | Phase::Starting { has_main: false }
            | Phase::Backoff { .. }
            | Phase::CrashLoop
            | Phase::Exited
            | Phase::Failed { .. } => {
                self.phase = Phase::Stopped;
                Vec::new()
            }
            Phase::Stopped => Vec::new(),
        }
    }

    fn on_restart(&mut self, now: Instant) -> Actions {
        match &mut self.phase {
            Phase::Running | Phase::Starting { has_main: true } | Phase::StartupTimeout => {
                self.reset_budget();
                self.begin_stop(Intent::Restart, now)
            }
            Phase::Stopping { intent, .. } => {
                *intent = Intent::Restart;
                Vec::new()
            }
            _ => {
                self.reset_budget();
                self.phase = Phase::Pending;
                Vec::new()
            }
        }
    }

    fn on_main_exit(&mut self, status: ExitStatus, now: Instant) -> Actions {
        let uptime = self.started_at.map(|s| now.saturating_duration_since(s));
        self.started_at = None;
        if uptime.is_some_and(|u| u >= self.restart.reset_after) {
            self.consecutive = 0;
        }
        match &mut self.phase {
            Phase::Running | Phase::Starting { .. } | Phase::StartupTimeout => {
                // Whatever it left behind (workers in its group, descendants
                // that moved out of it) is stopped before any restart: they
                // may hold its port and answer its health checks.
                self.phase = Phase::Stopping {
                    intent: Intent::Cleanup(status),
                    deadline: now + self.stop_timeout,
                    main_alive: false,
                    killed: false,
                };
                vec![Action::SignalAll(self.stop_signal)]
            }
            Phase::Stopping {
                main_alive, killed, ..
            } => {
                *main_alive = false;
                // In `main` mode the main process had its chance to stop its
                // children; whatever is left now is killed.
                if self.stop_mode == StopMode::Main && !*killed {
                    *killed = true;
                    vec![Action::KillAll]
                } else {
                    Vec::new()
                }
            }
            _ => Vec::new(),
        }
    }

    fn on_tree_gone(&mut self, now: Instant) -> Actions {
        match self.phase {
            Phase::Stopping {
                intent,
                main_alive: false,
                ..
            } => self.finish(intent, now),
            _ => Vec::new(),
        }
    }

    fn on_deadline(&mut self, now: Instant) -> Actions {
        let startup_due = self.startup_deadline().is_some_and(|d| now >= d);
        match &mut self.phase {
            Phase::Backoff { until } if now >= *until => {
                self.phase = Phase::Pending;
                Vec::new()
            }
            Phase::Starting { has_main: true } if startup_due => {
                self.phase = Phase::StartupTimeout;
                let mut actions = vec![Action::Notify(Notice::StartupTimeout)];
                // A liveness check means "restart me when I do not work";
                // without one the service keeps running in `startup-timeout`
                // until a check passes.
                if self.has_liveness {
                    actions.extend(self.begin_stop(Intent::Replace(Why::StartupTimeout), now));
                }
                actions
            }
            Phase::Stopping {
                deadline, killed, ..
            } if now >= *deadline => {
                if *killed {
                    // Something survives SIGKILL (uninterruptible sleep in the
                    // kernel). Stop waiting for it; the runtime reports it.
                    let Phase::Stopping {
                        intent, main_alive, ..
                    } = self.phase
                    else {
                        unreachable!("UNWRAP: matched Stopping above")
                    };
                    let mut actions = vec![Action::Notify(Notice::SurvivedKill)];
                    if main_alive {
                        self.phase = Phase::Failed {
                            reason: "the main process did not die after SIGKILL".to_string(),
                        };
                    } else {
                        actions.extend(self.finish(intent, now));
                    }
                    actions
                } else {
                    *killed = true;
                    *deadline = now + KILL_GRACE;
                    vec![Action::Notify(Notice::KillEscalated), Action::KillAll]
                }
            }
            _ => Vec::new(),
        }
    }

    fn finish(&mut self, intent: Intent, now: Instant) -> Actions {
        match intent {
            Intent::Stop => {
                self.phase = Phase::Stopped;
                Vec::new()
            }
            Intent::Restart => {
                self.phase = Phase::Pending;
                Vec::new()
            }
            Intent::Cleanup(status) => self.after_exit(status, now),
            Intent::Replace(_) => self.after_exit(ExitStatus::Signal(self.stop_signal), now),
        }
    }

    fn after_exit(&mut self, status: ExitStatus, now: Instant) -> Actions {
        let restart = match self.restart.policy {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => !status.success(),
            RestartPolicy::Never => false,
        };
        if !restart {
            self.phase = if status.success() {
                Phase::Exited
            } else {
                Phase::Failed {
                    reason: format!(
                        "exited with {} (restart policy \"{}\")",
                        describe(status),
                        self.restart.policy.as_str()
                    ),
                }
            };
            return Vec::new();
        }
        if self.dependencies_down {
            // Restarting now would fail the same way and spend the budget:
            // wait in `pending` until the dependency holds again.
            self.phase = Phase::Pending;
            return vec![Action::Notify(Notice::WaitingForDependency)];
        }
        while self
            .recent_restarts
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.restart.window)
        {
            self.recent_restarts.pop_front();
        }
        if self.recent_restarts.len() >= self.restart.max_restarts as usize {
            self.phase = Phase::CrashLoop;
            return vec![Action::Notify(Notice::CrashLoop {
                restarts: self.recent_restarts.len() as u32,
                window: self.restart.window,
            })];
        }
        let delay = self.backoff_delay(self.consecutive);
        self.consecutive = self.consecutive.saturating_add(1);
        self.restarts = self.restarts.saturating_add(1);
        self.recent_restarts.push_back(now);
        self.phase = if delay.is_zero() {
            Phase::Pending
        } else {
            Phase::Backoff { until: now + delay }
        };
        vec![Action::Notify(Notice::RestartScheduled {
            delay,
            restarts: self.restarts,
        })]
    }

    /// Takes new restart, stop, startup and check settings (after a
    /// reload), keeping the state. A starting (or startup-timeout) service
    /// left without a readiness check is running: nothing could tell it is
    /// ready.
    pub fn reconfigure(&mut self, service: &ServiceConfig) {
        self.restart = service.restart.clone();
        self.has_probes = service.health.iter().any(is_readiness_check);
        self.has_liveness = service
            .health
            .iter()
            .any(|h| h.on_failure == backstop_config::OnFailure::Restart);
        self.startup = service.startup;
        self.stop_signal = service.stop.signal.number;
        self.stop_timeout = service.stop.timeout;
        self.stop_mode = service.stop.mode;
        self.stop_command = service.stop.command.is_some();
        if !self.has_probes
            && matches!(
                self.phase,
                Phase::Starting { has_main: true } | Phase::StartupTimeout
            )
        {
            self.phase = Phase::Running;
        }
    }

    /// Marks the main process as existing while in `starting`.
    ///
    /// Called by the runtime right after a successful spawn, before
    /// [`Input::Spawned`] when the two are separated by readiness.
    pub fn note_main_exists(&mut self) {
        if let Phase::Starting { has_main } = &mut self.phase {
            *has_main = true;
        }
    }
}

/// Whether a check can tell that the service is ready: a `process` check
/// only says its processes exist.
fn is_readiness_check(check: &backstop_config::HealthCheck) -> bool {
    !matches!(check.probe, backstop_config::Probe::Process(_))
}

/// `code 1` or `signal 9 (SIGKILL)`.
pub fn describe(status: ExitStatus) -> String {
    match status {
        ExitStatus::Code(c) => format!("code {c}"),
        ExitStatus::Signal(s) => format!("signal {}", signal_name(s)),
    }
}

/// `SIGKILL` for 9, `signal 99` for unknown numbers.
pub fn signal_name(number: i32) -> String {
    nix::sys::signal::Signal::try_from(number)
        .map_or_else(|_| format!("signal {number}"), |s| s.as_str().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(restart: RestartConfig, mode: StopMode) -> ServiceConfig {
        let mut s = crate::rules::testing::service("api");
        s.restart = restart;
        s.stop.mode = mode;
        s
    }

    fn restart_cfg(max_restarts: u32) -> RestartConfig {
        RestartConfig {
            max_restarts,
            ..RestartConfig::default()
        }
    }

    fn machine(max_restarts: u32) -> Machine {
        Machine::new(&service(restart_cfg(max_restarts), StopMode::Group))
    }

    fn running(m: &mut Machine, now: Instant) {
        m.handle(Input::Start, now);
        assert_eq!(m.handle(Input::Launch, now), vec![Action::Spawn]);
        m.note_main_exists();
        m.handle(Input::Spawned, now);
        assert_eq!(m.state(), ServiceState::Running);
    }

    /// Exit, leftovers gone, return the restart notice if any.
    fn crash(m: &mut Machine, status: ExitStatus, now: Instant) -> Actions {
        assert_eq!(
            m.handle(Input::MainExited(status), now),
            vec![Action::SignalAll(15)]
        );
        assert_eq!(m.state(), ServiceState::Stopping);
        m.handle(Input::TreeGone, now)
    }

    #[test]
    fn a_failed_pre_start_is_a_failed_start_under_the_restart_policy() {
        let t = Instant::now();
        let mut m = machine(1);
        m.handle(Input::Start, t);
        m.handle(Input::Launch, t);
        let actions = m.handle(Input::PreStartFailed("exit 1".into()), t);
        assert!(matches!(
            actions[..],
            [Action::Notify(Notice::RestartScheduled { restarts: 1, .. })]
        ));
        assert_eq!(m.state(), ServiceState::Backoff);
        m.handle(Input::Deadline, t + Duration::from_secs(60));
        m.handle(Input::Launch, t + Duration::from_secs(60));
        m.handle(
            Input::PreStartFailed("exit 1".into()),
            t + Duration::from_secs(60),
        );
        assert_eq!(m.state(), ServiceState::CrashLoop);
        // Without restarts, the reason says it was the hook.
        let mut never = Machine::new(&service(
            RestartConfig {
                policy: RestartPolicy::Never,
                ..RestartConfig::default()
            },
            StopMode::Group,
        ));
        never.handle(Input::Start, t);
        never.handle(Input::Launch, t);
        never.handle(Input::PreStartFailed("timed out after 1m".into()), t);
        assert_eq!(
            never.failure(),
            Some("pre_start failed: timed out after 1m")
        );
    }

    #[test]
    fn a_stop_command_replaces_the_signal_and_the_timeout_still_kills() {
        let t = Instant::now();
        let mut s = service(restart_cfg(3), StopMode::Group);
        s.stop.command = Some(vec!["nginx".into(), "-s".into(), "quit".into()]);
        let mut m = Machine::new(&s);
        running(&mut m, t);
        assert_eq!(m.handle(Input::Stop, t), vec![Action::StopCommand]);
        let later = t + s.stop.timeout;
        assert_eq!(
            m.handle(Input::Deadline, later),
            vec![Action::Notify(Notice::KillEscalated), Action::KillAll]
        );
    }

    #[test]
    fn start_launch_spawn_runs() {
        let t = Instant::now();
        let mut m = machine(3);
        assert_eq!(m.state(), ServiceState::Stopped);
        m.handle(Input::Start, t);
        assert_eq!(m.state(), ServiceState::Pending);
        assert_eq!(m.handle(Input::Launch, t), vec![Action::Spawn]);
        assert_eq!(m.state(), ServiceState::Starting);
        m.handle(Input::Spawned, t);
        assert_eq!(m.state(), ServiceState::Running);
        assert_eq!(m.started_at(), Some(t));
    }

    #[test]
    fn launch_only_from_pending() {
        let t = Instant::now();
        let mut m = machine(3);
        assert!(m.handle(Input::Launch, t).is_empty());
        assert_eq!(m.state(), ServiceState::Stopped);
    }

    #[test]
    fn spawn_failure_is_failed_with_reason_and_no_restart() {
        let t = Instant::now();
        let mut m = machine(3);
        m.handle(Input::Start, t);
        m.handle(Input::Launch, t);
        m.handle(Input::SpawnFailed("command not found: nope".into()), t);
        assert_eq!(m.state(), ServiceState::Failed);
        assert_eq!(m.failure(), Some("command not found: nope"));
        assert_eq!(m.deadline(), None);
    }

    #[test]
    fn crash_waits_for_leftovers_then_backs_off() {
        let t = Instant::now();
        let mut m = machine(3);
        running(&mut m, t);
        assert_eq!(
            m.handle(Input::MainExited(ExitStatus::Signal(9)), t),
            vec![Action::SignalAll(15)]
        );
        // Leftovers still alive: no restart decision yet.
        assert_eq!(m.state(), ServiceState::Stopping);
        assert_eq!(
            m.stopping_because(),
            Some("stopping what the exited process left behind")
        );
        let actions = m.handle(Input::TreeGone, t);
        assert_eq!(
            actions,
            vec![Action::Notify(Notice::RestartScheduled {
                delay: Duration::from_secs(1),
                restarts: 1
            })]
        );
        assert_eq!(m.state(), ServiceState::Backoff);
        assert_eq!(m.deadline(), Some(t + Duration::from_secs(1)));
    }

    #[test]
    fn backoff_grows_exponentially_and_caps() {
        let m = Machine::new(&service(
            RestartConfig {
                backoff_initial: Duration::from_secs(1),
                backoff_max: Duration::from_secs(300),
                backoff_factor: 2.0,
                ..RestartConfig::default()
            },
            StopMode::Group,
        ));
        let delays: Vec<u64> = (0..11).map(|n| m.backoff_delay(n).as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(m.backoff_delay(u32::MAX), Duration::from_secs(300));
    }

    #[test]
    fn backoff_deadline_returns_to_pending_not_before() {
        let t = Instant::now();
        let mut m = machine(3);
        running(&mut m, t);
        crash(&mut m, ExitStatus::Code(1), t);
        m.handle(Input::Deadline, t + Duration::from_millis(500));
        assert_eq!(m.state(), ServiceState::Backoff, "too early");
        m.handle(Input::Deadline, t + Duration::from_secs(1));
        assert_eq!(m.state(), ServiceState::Pending);
        assert_eq!(m.restarts(), 1);
    }

    #[test]
    fn crash_loop_after_max_restarts_within_window() {
        // max_restarts = 3 allows 4 starts; the 4th exit is a crash loop.
        let mut t = Instant::now();
        let mut m = machine(3);
        running(&mut m, t);
        for n in 1..=3 {
            let actions = crash(&mut m, ExitStatus::Code(1), t);
            assert!(
                matches!(actions[0], Action::Notify(Notice::RestartScheduled { restarts, .. }) if restarts == n)
            );
            t = m.deadline().unwrap();
            m.handle(Input::Deadline, t);
            m.handle(Input::Launch, t);
            m.handle(Input::Spawned, t);
            assert_eq!(m.state(), ServiceState::Running);
        }
        let actions = crash(&mut m, ExitStatus::Code(1), t);
        assert_eq!(
            actions,
            vec![Action::Notify(Notice::CrashLoop {
                restarts: 3,
                window: Duration::from_secs(3600)
            })]
        );
        assert_eq!(m.state(), ServiceState::CrashLoop);
        assert_eq!(m.deadline(), None);
        // A start by hand resets the budget.
        m.handle(Input::Start, t);
        assert_eq!(m.state(), ServiceState::Pending);
        assert_eq!(m.restarts(), 0);
    }

    #[test]
    fn max_restarts_zero_means_no_restart() {
        let t = Instant::now();
        let mut m = machine(0);
        running(&mut m, t);
        crash(&mut m, ExitStatus::Code(1), t);
        assert_eq!(m.state(), ServiceState::CrashLoop);
    }

    #[test]
    fn restarts_outside_the_window_do_not_count() {
        let mut m = Machine::new(&service(
            RestartConfig {
                max_restarts: 2,
                window: Duration::from_secs(60),
                backoff_initial: Duration::from_secs(1),
                backoff_max: Duration::from_secs(1),
                ..RestartConfig::default()
            },
            StopMode::Group,
        ));
        let mut t = Instant::now();
        running(&mut m, t);
        for _ in 0..10 {
            crash(&mut m, ExitStatus::Code(1), t);
            assert_eq!(m.state(), ServiceState::Backoff);
            t += Duration::from_secs(31);
            m.handle(Input::Deadline, t);
            m.handle(Input::Launch, t);
            m.handle(Input::Spawned, t);
        }
        assert_eq!(m.restarts(), 10);
    }

    #[test]
    fn long_uptime_resets_the_backoff() {
        let mut m = machine(100);
        let mut t = Instant::now();
        running(&mut m, t);
        for _ in 0..3 {
            crash(&mut m, ExitStatus::Code(1), t);
            t = m.deadline().unwrap();
            m.handle(Input::Deadline, t);
            m.handle(Input::Launch, t);
            m.handle(Input::Spawned, t);
        }
        // Fourth consecutive restart would wait 8 s; after a long run it is 1 s again.
        t += Duration::from_secs(601);
        crash(&mut m, ExitStatus::Code(1), t);
        assert_eq!(m.deadline(), Some(t + Duration::from_secs(1)));
    }

    #[test]
    fn policies_decide_on_exit_status() {
        let t = Instant::now();
        for (policy, status, expected) in [
            (
                RestartPolicy::Always,
                ExitStatus::Code(0),
                ServiceState::Backoff,
            ),
            (
                RestartPolicy::Always,
                ExitStatus::Code(3),
                ServiceState::Backoff,
            ),
            (
                RestartPolicy::OnFailure,
                ExitStatus::Code(0),
                ServiceState::Exited,
            ),
            (
                RestartPolicy::OnFailure,
                ExitStatus::Code(3),
                ServiceState::Backoff,
            ),
            (
                RestartPolicy::OnFailure,
                ExitStatus::Signal(9),
                ServiceState::Backoff,
            ),
            (
                RestartPolicy::Never,
                ExitStatus::Code(0),
                ServiceState::Exited,
            ),
            (
                RestartPolicy::Never,
                ExitStatus::Code(3),
                ServiceState::Failed,
            ),
        ] {
            let mut m = Machine::new(&service(
                RestartConfig {
                    policy,
                    ..RestartConfig::default()
                },
                StopMode::Group,
            ));
            running(&mut m, t);
            crash(&mut m, status, t);
            assert_eq!(m.state(), expected, "{policy:?} {status:?}");
        }
    }

    #[test]
    fn failed_exit_reason_names_code_and_policy() {
        let t = Instant::now();
        let mut m = Machine::new(&service(
            RestartConfig {
                policy: RestartPolicy::Never,
                ..RestartConfig::default()
            },
            StopMode::Group,
        ));
        running(&mut m, t);
        crash(&mut m, ExitStatus::Code(3), t);
        assert_eq!(
            m.failure(),
            Some("exited with code 3 (restart policy \"never\")")
        );
    }

    #[test]
    fn zero_backoff_restarts_at_once() {
        let t = Instant::now();
        let mut m = Machine::new(&service(
            RestartConfig {
                backoff_initial: Duration::ZERO,
                ..RestartConfig::default()
            },
            StopMode::Group,
        ));
        running(&mut m, t);
        crash(&mut m, ExitStatus::Code(1), t);
        assert_eq!(m.state(), ServiceState::Pending);
    }

    #[test]
    fn stop_signals_group_waits_for_main_and_tree() {
        let t = Instant::now();
        let mut m = machine(3);
        running(&mut m, t);
        assert_eq!(m.handle(Input::Stop, t), vec![Action::SignalAll(15)]);
        assert_eq!(m.state(), ServiceState::Stopping);
        // The tree cannot be gone while the main process lives.
        m.handle(Input::TreeGone, t);
        assert_eq!(m.state(), ServiceState::Stopping);
        assert!(
            m.handle(Input::MainExited(ExitStatus::Signal(15)), t)
                .is_empty()
        );
        m.handle(Input::TreeGone, t);
        assert_eq!(m.state(), ServiceState::Stopped);
        assert_eq!(m.restarts(), 0, "a stop is not a restart");
    }

    #[test]
    fn main_mode_signals_main_then_kills_the_rest() {
        let t = Instant::now();
        let mut m = Machine::new(&service(RestartConfig::default(), StopMode::Main));
        running(&mut m, t);
        assert_eq!(m.handle(Input::Stop, t), vec![Action::SignalMain(15)]);
        assert_eq!(
            m.handle(Input::MainExited(ExitStatus::Code(0)), t),
            vec![Action::KillAll]
        );
        m.handle(Input::TreeGone, t);
        assert_eq!(m.state(), ServiceState::Stopped);
    }

    #[test]
    fn stop_timeout_escalates_to_sigkill_then_gives_up() {
        let t = Instant::now();
        let mut m = machine(3);
        running(&mut m, t);
        m.handle(Input::Stop, t);
        assert_eq!(m.deadline(), Some(t + Duration::from_secs(10)));
        assert!(
            m.handle(Input::Deadline, t + Duration::from_secs(9))
                .is_empty()
        );
        let t2 = t + Duration::from_secs(10);
        assert_eq!(
            m.handle(Input::Deadline, t2),
            vec![Action::Notify(Notice::KillEscalated), Action::KillAll]
        );
        m.handle(Input::MainExited(ExitStatus::Signal(9)), t2);
        // A grandchild stuck in the kernel never goes away.
        let actions = m.handle(Input::Deadline, t2 + KILL_GRACE);
        assert_eq!(actions, vec![Action::Notify(Notice::SurvivedKill)]);
        assert_eq!(m.state(), ServiceState::Stopped);
    }

    #[test]
    fn restart_by_hand_goes_back_to_pending_without_counting() {
        let t = Instant::now();
        let mut m = machine(3);
        running(&mut m, t);
        assert_eq!(m.handle(Input::Restart, t), vec![Action::SignalAll(15)]);
        m.handle(Input::MainExited(ExitStatus::Signal(15)), t);
        m.handle(Input::TreeGone, t);
        assert_eq!(m.state(), ServiceState::Pending);
        assert_eq!(m.restarts(), 0);
    }

    #[test]
    fn stop_during_cleanup_cancels_the_restart() {
        let t = Instant::now();
        let mut m = machine(3);
        running(&mut m, t);
        m.handle(Input::MainExited(ExitStatus::Code(1)), t);
        m.handle(Input::Stop, t);
        m.handle(Input::TreeGone, t);
        assert_eq!(m.state(), ServiceState::Stopped);
    }

    #[test]
    fn stop_in_backoff_or_pending_is_immediate() {
        let t = Instant::now();
        let mut m = machine(3);
        running(&mut m, t);
        crash(&mut m, ExitStatus::Code(1), t);
        assert_eq!(m.state(), ServiceState::Backoff);
        assert!(m.handle(Input::Stop, t).is_empty());
        assert_eq!(m.state(), ServiceState::Stopped);
        m.handle(Input::Start, t);
        m.handle(Input::Stop, t);
        assert_eq!(m.state(), ServiceState::Stopped);
    }

    #[test]
    fn start_in_backoff_skips_the_wait() {
        let t = Instant::now();
        let mut m = machine(3);
        running(&mut m, t);
        crash(&mut m, ExitStatus::Code(1), t);
        m.handle(Input::Start, t);
        assert_eq!(m.state(), ServiceState::Pending);
        assert_eq!(m.restarts(), 1, "skipping the wait keeps the budget");
    }

    #[test]
    fn start_while_stopping_becomes_restart() {
        let t = Instant::now();
        let mut m = machine(3);
        running(&mut m, t);
        m.handle(Input::Stop, t);
        m.handle(Input::Start, t);
        m.handle(Input::MainExited(ExitStatus::Signal(15)), t);
        m.handle(Input::TreeGone, t);
        assert_eq!(m.state(), ServiceState::Pending);
    }

    #[test]
    fn stop_before_main_exists_is_immediate() {
        let t = Instant::now();
        let mut m = machine(3);
        m.handle(Input::Start, t);
        m.handle(Input::Launch, t);
        assert!(m.handle(Input::Stop, t).is_empty());
        assert_eq!(m.state(), ServiceState::Stopped);
    }

    #[test]
    fn stale_inputs_are_ignored() {
        let t = Instant::now();
        let mut m = machine(3);
        for input in [
            Input::Spawned,
            Input::MainExited(ExitStatus::Code(0)),
            Input::TreeGone,
            Input::Deadline,
            Input::SpawnFailed("x".into()),
        ] {
            assert!(m.handle(input, t).is_empty());
            assert_eq!(m.state(), ServiceState::Stopped);
        }
    }

    fn probed(liveness: bool, startup: Option<Duration>) -> Machine {
        let mut svc = service(RestartConfig::default(), StopMode::Group);
        svc.startup = startup;
        svc.health = vec![backstop_config::HealthCheck {
            name: "http".into(),
            probe: backstop_config::Probe::Tcp {
                address: "127.0.0.1:1".into(),
            },
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            failures: 3,
            successes: 1,
            on_failure: if liveness {
                backstop_config::OnFailure::Restart
            } else {
                backstop_config::OnFailure::Report
            },
        }];
        Machine::new(&svc)
    }

    fn spawned(m: &mut Machine, t: Instant) {
        m.handle(Input::Start, t);
        m.handle(Input::Launch, t);
        m.note_main_exists();
        m.handle(Input::Spawned, t);
    }

    #[test]
    fn with_probes_starting_until_first_pass() {
        let t = Instant::now();
        let mut m = probed(false, None);
        spawned(&mut m, t);
        assert_eq!(m.state(), ServiceState::Starting);
        assert_eq!(m.deadline(), None, "no startup period, no timeout");
        m.handle(Input::ProbePassed, t);
        assert_eq!(m.state(), ServiceState::Running);
    }

    #[test]
    fn startup_timeout_without_liveness_keeps_running() {
        let t = Instant::now();
        let mut m = probed(false, Some(Duration::from_secs(360)));
        spawned(&mut m, t);
        assert!(m.in_startup_grace(t + Duration::from_secs(359)));
        assert_eq!(m.deadline(), Some(t + Duration::from_secs(360)));
        let actions = m.handle(Input::Deadline, t + Duration::from_secs(360));
        assert_eq!(actions, vec![Action::Notify(Notice::StartupTimeout)]);
        assert_eq!(m.state(), ServiceState::StartupTimeout);
        assert!(!m.in_startup_grace(t + Duration::from_secs(361)));
        m.handle(Input::ProbePassed, t + Duration::from_secs(400));
        assert_eq!(m.state(), ServiceState::Running);
    }

    #[test]
    fn startup_timeout_with_liveness_restarts_under_the_policy() {
        let t = Instant::now();
        let mut m = probed(true, Some(Duration::from_secs(60)));
        spawned(&mut m, t);
        let t2 = t + Duration::from_secs(60);
        let actions = m.handle(Input::Deadline, t2);
        assert_eq!(
            actions,
            vec![
                Action::Notify(Notice::StartupTimeout),
                Action::SignalAll(15)
            ]
        );
        m.handle(Input::MainExited(ExitStatus::Signal(15)), t2);
        let actions = m.handle(Input::TreeGone, t2);
        assert!(matches!(
            actions[0],
            Action::Notify(Notice::RestartScheduled { restarts: 1, .. })
        ));
        assert_eq!(m.state(), ServiceState::Backoff);
    }

    #[test]
    fn liveness_failure_restarts_and_counts() {
        let t = Instant::now();
        let mut m = probed(true, None);
        spawned(&mut m, t);
        m.handle(Input::ProbePassed, t);
        let actions = m.handle(Input::Replace(Why::Liveness), t);
        assert_eq!(
            actions,
            vec![
                Action::Notify(Notice::LivenessRestart),
                Action::SignalAll(15)
            ]
        );
        assert_eq!(m.state(), ServiceState::Stopping);
        m.handle(Input::MainExited(ExitStatus::Signal(15)), t);
        m.handle(Input::TreeGone, t);
        assert_eq!(m.state(), ServiceState::Backoff);
        assert_eq!(m.restarts(), 1);
    }

    #[test]
    fn liveness_failure_is_ignored_when_not_running() {
        let t = Instant::now();
        let mut m = probed(true, None);
        assert!(m.handle(Input::Replace(Why::Liveness), t).is_empty());
        assert_eq!(m.state(), ServiceState::Stopped);
    }

    #[test]
    fn signal_names() {
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(describe(ExitStatus::Signal(15)), "signal SIGTERM");
        assert_eq!(describe(ExitStatus::Code(2)), "code 2");
    }

    #[test]
    fn a_starting_service_whose_checks_are_removed_by_reload_is_running() {
        let t = Instant::now();
        let mut config = service(restart_cfg(3), StopMode::Group);
        config.health = vec![crate::rules::testing::exec_check("false")];
        let mut m = Machine::new(&config);
        m.handle(Input::Start, t);
        m.handle(Input::Launch, t);
        m.note_main_exists();
        m.handle(Input::Spawned, t);
        assert_eq!(m.state(), ServiceState::Starting);
        config.health.clear();
        m.reconfigure(&config);
        assert_eq!(m.state(), ServiceState::Running);
    }

    #[test]
    fn a_running_service_given_its_first_check_stays_running() {
        let t = Instant::now();
        let mut config = service(restart_cfg(3), StopMode::Group);
        let mut m = Machine::new(&config);
        running(&mut m, t);
        config.health = vec![crate::rules::testing::exec_check("true")];
        m.reconfigure(&config);
        assert_eq!(m.state(), ServiceState::Running);
    }

    #[test]
    fn a_memory_max_replacement_is_said_once_and_spends_the_budget() {
        let t = Instant::now();
        let mut m = machine(3);
        running(&mut m, t);
        assert_eq!(
            m.handle(Input::Replace(Why::MemoryMax), t),
            vec![Action::SignalAll(15)],
            "no liveness notice: the runtime reports the figures"
        );
        assert_eq!(
            m.stopping_because(),
            Some("restarting: its memory passed memory_max")
        );
        m.handle(Input::MainExited(ExitStatus::Signal(15)), t);
        let actions = m.handle(Input::TreeGone, t);
        assert!(
            matches!(
                actions.as_slice(),
                [Action::Notify(Notice::RestartScheduled { restarts: 1, .. })]
            ),
            "{actions:?}"
        );
    }

    #[test]
    fn a_startup_timeout_whose_checks_are_removed_by_reload_is_running() {
        let t = Instant::now();
        let mut config = service(restart_cfg(3), StopMode::Group);
        config.health = vec![crate::rules::testing::exec_check("false")];
        config.startup = Some(Duration::from_secs(1));
        let mut m = Machine::new(&config);
        m.handle(Input::Start, t);
        m.handle(Input::Launch, t);
        m.note_main_exists();
        m.handle(Input::Spawned, t);
        m.handle(Input::Deadline, t + Duration::from_secs(2));
        assert_eq!(m.state(), ServiceState::StartupTimeout);
        config.health.clear();
        m.reconfigure(&config);
        assert_eq!(m.state(), ServiceState::Running);
    }

    #[test]
    fn an_exit_while_a_dependency_is_down_waits_instead_of_spending_the_budget() {
        let t = Instant::now();
        let mut m = machine(0);
        running(&mut m, t);
        m.note_dependencies(true);
        assert_eq!(
            crash(&mut m, ExitStatus::Code(1), t),
            vec![Action::Notify(Notice::WaitingForDependency)]
        );
        assert_eq!(m.state(), ServiceState::Pending);
        assert_eq!(m.restarts(), 0, "no restart counted");
        // With max_restarts = 0, an exit with the dependency up is a crash loop.
        m.note_dependencies(false);
        assert_eq!(m.handle(Input::Launch, t), vec![Action::Spawn]);
        m.note_main_exists();
        m.handle(Input::Spawned, t);
        crash(&mut m, ExitStatus::Code(1), t);
        assert_eq!(m.state(), ServiceState::CrashLoop);
    }
}
