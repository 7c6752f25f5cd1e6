//! The supervision loop: the thin runtime around the [`Machine`]s.
//!
//! One task owns every service. It waits for exactly four things: SIGCHLD
//! (a child or an adopted orphan ended; reaped with `waitpid(-1)`), a
//! control request from the API, the earliest timer any machine asked for,
//! and the daemon's own signals (TERM/INT: stop everything; HUP: reload).
//! Nothing polls while services run: an idle backstop sleeps in `epoll`.
//!
//! backstop is a child subreaper (`PR_SET_CHILD_SUBREAPER`): when a
//! service's process dies, its orphans become backstop's children instead of
//! init's, so they can still be attributed to their service, signalled on
//! stop, and reaped. A service's processes are its process group (every
//! service is a session leader), the descendants of its main process, and
//! those orphans with their own descendants.

use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use backstop_api::{Control, Event, EventKind, ExitInfo, ServiceState};
use backstop_config::{Config, ServiceConfig};
use backstop_probe::{ExecContext, Outcome, ProbeReaper};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::capture::CaptureThread;
use crate::checks::CheckRun;
use crate::machine::{Action, Input, Machine, Notice};
use crate::output::{Echo, Terminal};
use crate::tree;
use backstop_diagnose::redact::Redactor;
use backstop_logs::{ErrorPatterns, LogStats, LogWriter};

mod control;
mod hooks;
mod jobs;
mod probes;
mod processes;
mod reporting;
mod scheduling;
mod spawning;
mod usage;
mod watching;

/// How many exits of each service are remembered.
const EXIT_HISTORY: usize = 32;

/// How the supervisor runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Echo service output to the terminal as well as the log files.
    pub echo: Echo,
    /// The services to start (with their dependencies); empty means all.
    pub services: Vec<String>,
    /// Where each probe run's latency is recorded (for `/metrics`).
    pub probe_latency: backstop_api::metrics::ProbeLatency,
    /// The dashboard's charts, fed from the usage samples (only a daemon
    /// with a dashboard keeps them).
    pub usage_history: Option<backstop_api::usage::UsageHistory>,
}

#[derive(Debug)]
struct MainProcess {
    pid: i32,
    start_time: u64,
    started_wall: SystemTime,
    started: Instant,
    alive: bool,
}

#[derive(Debug)]
struct Service {
    config: ServiceConfig,
    machine: Machine,
    main: Option<MainProcess>,
    orphans: HashSet<i32>,
    exits: VecDeque<ExitInfo>,
    /// Exits since the daemon started, by reason (`code 1`, `SIGKILL`).
    exit_counts: std::collections::BTreeMap<String, u64>,
    detail: Option<String>,
    /// A check of its port (and maybe a stop of leftovers holding it) is
    /// under way, with this number: the start waits for it, and no second
    /// one begins.
    port_gate: Option<u64>,
    removed: bool,
    color: usize,
    /// The state last announced on the event bus (transitions nested in
    /// one request, such as pending → starting → running, are announced once).
    reported: ServiceState,
    checks: Vec<CheckRun>,
    /// Counts spawns, so that a probe result of an earlier process is ignored.
    generation: u64,
    probe_context: Option<ExecContext>,
    /// Lines and error signals of its output; kept across restarts.
    log_stats: Arc<LogStats>,
    /// The automatic diagnosis of its last failure, until it starts again.
    diagnosis: Option<String>,
    /// The playbook running on it, and its step.
    fixing: Option<String>,
    /// Its cgroups, once made (cgroup mode).
    cgroup: Option<crate::cgroup::ServiceCgroup>,
    /// The kernel's OOM kills in its cgroup when the current process started.
    oom_kills_at_start: u64,
    /// The hook that runs now (`pre_start`, `post_stop`, `stop.command`),
    /// by its number: its end is expected only once.
    hook: Option<(u64, hooks::HookKind)>,
    /// `pre_start` passed for the start under way.
    pre_start_passed: bool,
    /// A start waits for `post_stop` to end.
    start_after_hook: bool,
    /// A scheduled job's schedule and record (`[jobs.NAME]`).
    job: Option<jobs::JobRuntime>,
}

impl Service {
    fn new(config: ServiceConfig, color: usize) -> Self {
        Self {
            machine: Machine::new(&config),
            checks: config.health.iter().cloned().map(CheckRun::new).collect(),
            generation: 0,
            probe_context: None,
            log_stats: Arc::default(),
            diagnosis: None,
            fixing: None,
            cgroup: None,
            oom_kills_at_start: 0,
            hook: None,
            pre_start_passed: false,
            start_after_hook: false,
            job: config.job.clone().map(jobs::JobRuntime::new),
            config,
            main: None,
            orphans: HashSet::new(),
            exits: VecDeque::new(),
            exit_counts: std::collections::BTreeMap::new(),
            detail: None,
            port_gate: None,
            removed: false,
            color,
            reported: ServiceState::Stopped,
        }
    }

    fn state(&self) -> ServiceState {
        self.machine.state()
    }

    /// New check runners for the current config's checks, running at once
    /// when the service runs. Results of runs under way belong to the old
    /// checks and are ignored.
    fn rebuild_checks(&mut self, now: Instant) {
        self.checks = self
            .config
            .health
            .iter()
            .cloned()
            .map(CheckRun::new)
            .collect();
        self.generation += 1;
        let running = self.main.as_ref().is_some_and(|m| m.alive)
            && self.state().is_active()
            && self.state() != ServiceState::Stopping;
        if running {
            self.checks.iter_mut().for_each(|c| c.arm(now));
        }
    }

    fn pgid(&self) -> Option<i32> {
        self.main.as_ref().map(|m| m.pid)
    }

    fn roots(&self) -> Vec<i32> {
        let mut roots: Vec<i32> = self.orphans.iter().copied().collect();
        if let Some(m) = self.main.as_ref().filter(|m| m.alive) {
            roots.push(m.pid);
        }
        roots
    }
}

/// Messages from tasks the loop started.
#[derive(Debug)]
enum Internal {
    /// A leftover holding the service's port was stopped (or not).
    PortChecked {
        service: String,
        /// Which gate this is ([`Service::port_gate`]).
        gate: u64,
        port: u16,
        holders: Vec<crate::rules::port::Holder>,
    },
    /// Leftovers holding the port were stopped (or survived SIGKILL).
    PortCleared {
        service: String,
        gate: u64,
        survivors: Vec<i32>,
    },
    /// Files a service watches changed, and then were quiet.
    FilesChanged(crate::rules::watch::Due),
    /// The file watcher may miss changes (see [`crate::watch::News`]).
    WatchTrouble(String),
    /// A hook ended ([`hooks`]).
    HookDone {
        service: String,
        token: u64,
        kind: hooks::HookKind,
        result: hooks::HookResult,
    },
    /// The output of a job's run has ended ([`jobs`]).
    JobOutput {
        service: String,
        run: u64,
        lines: Vec<String>,
    },
    /// Memory and CPU readings: the sampler's (`whole`), or a request's.
    Usage {
        readings: Vec<usage::Reading>,
        whole: bool,
    },
    /// A health check run ended.
    ProbeDone {
        /// `None` for a `[checks]` entry.
        service: Option<String>,
        check: usize,
        generation: u64,
        outcome: Outcome,
    },
}

/// Owns and runs every service of one config.
pub struct Supervisor {
    config: Config,
    services: Vec<Service>,
    logs: LogWriter,
    /// Reads every service's output.
    capture: CaptureThread,
    /// Compiled error patterns, shared by services with equal settings.
    error_patterns: Vec<(backstop_config::LogSettings, Arc<ErrorPatterns>)>,
    events: backstop_api::EventBus,
    internal_tx: mpsc::UnboundedSender<Internal>,
    internal_rx: mpsc::UnboundedReceiver<Internal>,
    shutting_down: bool,
    /// The state file is behind: written once per turn of the loop, not
    /// once per change (1,000 services stopping made that quadratic).
    state_dirty: bool,
    /// `attribute_orphans` ran in this turn of the loop.
    orphans_attributed: bool,
    started: Instant,
    last_exited: Option<String>,
    unowned: HashSet<i32>,
    wanted: Vec<String>,
    probe_reaper: ProbeReaper,
    probe_latency: backstop_api::metrics::ProbeLatency,
    /// `[checks]` entries: probed all the time, owned by no service.
    checks: Vec<(CheckRun, ExecContext)>,
    /// Config reloads so far; tags `[checks]` results.
    reloads: u64,
    /// `backstop scale` counts by declared service, with the file's
    /// `instances` at the time (a change in the file ends the scale).
    scales: std::collections::BTreeMap<String, (Option<u32>, u32)>,
    /// The task that watches the files of services with `watch`.
    watching: Option<tokio::task::JoinHandle<()>>,
    /// Numbers port gates, so that each result finds its own.
    next_gate: u64,
    /// What outward texts must not show: the config's secrets, and those
    /// learnt from each spawn's environment (an env file edited since).
    redactor: Redactor,
    /// Whether services get cgroups, and where.
    cgroups: crate::cgroup::Cgroups,
    /// Memory and CPU samples of every service ([`usage`]).
    usage: usage::UsageSamples,
}

/// What ended a wait of the supervision loop.
enum Woke {
    Child,
    Control(Control),
    Internal(Internal),
    Stop(&'static str),
    Reload,
    Deadline,
}

impl Supervisor {
    /// A supervisor for `config`; nothing runs until [`Supervisor::run`].
    pub fn new(config: Config, options: &Options) -> std::io::Result<Self> {
        let names: Vec<&str> = config.services.iter().map(|s| s.name.as_str()).collect();
        let terminal = Arc::new(Terminal::new(options.echo, &names));
        let services = config
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| Service::new(s.clone(), i))
            .collect();
        let wanted = if options.services.is_empty() {
            // `disabled = true`: kept in the config, started only by name.
            config
                .services
                .iter()
                .filter(|s| !s.disabled)
                .map(|s| s.name.clone())
                .collect()
        } else {
            config
                .with_dependencies(&options.services)
                .unwrap_or_default()
        };
        let events = backstop_api::EventBus::new();
        let redactor = Redactor::for_config(&config);
        events.set_redact(redact_with(&redactor));
        let logs = LogWriter::start(
            config.daemon.state_dir.join("logs"),
            log_notices(events.clone()),
        )?;
        for s in &config.services {
            logs.configure(&s.name, &s.logs);
        }
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        let probe_reaper = ProbeReaper::with_ledger(crate::leftovers::helpers_dir(&config));
        let cgroups =
            crate::cgroup::Cgroups::detect(&config.daemon.state_dir, config.daemon.cgroups);
        Ok(Self {
            config,
            services,
            capture: CaptureThread::start(terminal)?,
            logs,
            error_patterns: Vec::new(),
            events,
            internal_tx,
            internal_rx,
            shutting_down: false,
            state_dirty: false,
            orphans_attributed: false,
            started: Instant::now(),
            last_exited: None,
            unowned: HashSet::new(),
            wanted,
            probe_reaper,
            probe_latency: options.probe_latency.clone(),
            checks: Vec::new(),
            reloads: 0,
            scales: std::collections::BTreeMap::new(),
            watching: None,
            next_gate: 0,
            redactor,
            cgroups,
            usage: usage::UsageSamples::new(Instant::now(), options.usage_history.clone()),
        })
    }

    /// The registry through which programs the daemon runs besides services
    /// (alert commands) get their exit status: tokio's own reaping would
    /// race the supervisor's `waitpid(-1)`.
    pub fn probe_reaper(&self) -> backstop_probe::ProbeReaper {
        self.probe_reaper.clone()
    }

    /// A handle to publish on the event bus (alerts report their deliveries there).
    pub fn publisher(&self) -> backstop_api::EventBus {
        self.events.clone()
    }

    /// The event bus: every start, exit, restart decision and state change.
    pub fn subscribe(&self) -> backstop_api::Subscription {
        self.events.subscribe()
    }

    fn state_path(&self) -> PathBuf {
        self.config.daemon.state_dir.join("state.json")
    }

    /// Runs until every service is stopped after a shutdown request
    /// (SIGTERM, SIGINT or [`Control::Shutdown`]).
    pub async fn run(mut self, mut control: mpsc::Receiver<Control>) -> std::io::Result<()> {
        if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
            tracing::warn!(
                "cannot become a child subreaper ({e}); orphans of services will escape to init"
            );
        }
        // Handlers first, children second: no SIGCHLD may be missed.
        let mut sigchld = signal(SignalKind::child())?;
        let mut sigterm = signal(SignalKind::terminate())?;
        let mut sigint = signal(SignalKind::interrupt())?;
        let mut sighup = signal(SignalKind::hangup())?;

        let now = Instant::now();
        self.arm_checks(now);
        self.rewatch();
        for name in self.wanted.clone() {
            if let Some(i) = self.index(&name) {
                self.feed(i, Input::Start, now);
            }
        }
        loop {
            self.orphans_attributed = false;
            self.schedule(Instant::now());
            if self.shutting_down && self.all_quiet() {
                break;
            }
            // Before waiting: what this turn started or stopped is on disk.
            if std::mem::take(&mut self.state_dirty) {
                self.save_state();
            }
            let deadline = self.next_deadline();
            let woke = tokio::select! {
                _ = sigchld.recv() => Woke::Child,
                Some(msg) = control.recv() => Woke::Control(msg),
                Some(msg) = self.internal_rx.recv() => Woke::Internal(msg),
                _ = sigterm.recv() => Woke::Stop("SIGTERM"),
                _ = sigint.recv() => Woke::Stop("SIGINT"),
                _ = sighup.recv() => Woke::Reload,
                () = sleep_until(deadline) => Woke::Deadline,
            };
            // Time passed while waiting: new orphans may be there.
            self.orphans_attributed = false;
            match woke {
                Woke::Child => self.reap(Instant::now()),
                Woke::Control(msg) => self.on_control(msg),
                Woke::Internal(msg) => self.on_internal(msg),
                Woke::Stop(why) => self.begin_shutdown(why),
                Woke::Reload => {
                    if let Err(e) = self.reload() {
                        self.event(
                            None,
                            EventKind::ReloadFailed,
                            format!("config not reloaded; the old one stays in force:\n{e}"),
                        );
                    }
                }
                Woke::Deadline => self.on_deadlines(Instant::now()),
            }
        }
        self.final_sweep().await;
        // The children are gone, so their pipes end: let the capture thread
        // deliver the last lines, then let the writer put them on disk.
        self.capture.drained(Duration::from_secs(2)).await;
        if !self.logs.close(Duration::from_secs(5)) {
            tracing::warn!(
                "the log writer did not finish within 5 s; the last lines may be missing"
            );
        }
        Ok(())
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s.config.name == name)
    }

    fn event(&self, service: Option<&str>, kind: EventKind, message: String) {
        self.events.publish(Event::now(service, kind, message));
    }

    fn feed(&mut self, i: usize, input: Input, now: Instant) {
        // Whether an exit now is a dependency's fault (see `Machine::note_dependencies`).
        let down = self.waiting_for(i).is_some();
        self.services[i].machine.note_dependencies(down);
        let actions = self.services[i].machine.handle(input, now.into_std());
        for action in actions {
            self.apply(i, action, now);
        }
        // `apply` may have fed this service again (spawn → Spawned).
        self.announce(i, now);
    }

    /// Publishes a state change not yet announced.
    fn announce(&mut self, i: usize, now: Instant) {
        let (before, after) = (self.services[i].reported, self.services[i].state());
        if before != after {
            self.services[i].reported = after;
            self.on_transition(i, before, after, now);
        }
    }

    fn on_transition(&mut self, i: usize, before: ServiceState, after: ServiceState, now: Instant) {
        let s = &mut self.services[i];
        if !after.is_active() {
            s.checks.iter_mut().for_each(CheckRun::disarm);
        }
        if !after.is_active() && s.main.as_ref().is_some_and(|m| !m.alive) {
            s.main = None;
            s.orphans.clear();
            // Its process is gone: `post_stop` (the next start waits for it).
            if s.config.post_stop.is_some() {
                self.run_hook(i, hooks::HookKind::PostStop);
            }
            self.state_dirty = true;
        }
        // At rest and empty: no cgroup stays behind (a start makes it
        // again). One waiting to restart (pending after the exit's leftovers
        // were stopped, or in backoff) keeps it for the next run, until it
        // comes to rest (stopped while it waited, say).
        let s = &mut self.services[i];
        let restarting = matches!(after, ServiceState::Backoff | ServiceState::Pending);
        if !after.is_active()
            && !restarting
            && s.main.is_none()
            && s.cgroup.as_ref().is_some_and(|cg| !cg.populated())
            && let Some(cg) = s.cgroup.take()
        {
            cg.remove();
        }
        let s = &mut self.services[i];
        s.detail = match after {
            ServiceState::Failed => s.machine.failure().map(str::to_string),
            ServiceState::CrashLoop => Some(format!(
                "{} restarts within {}; last exit: {}. Run `backstop start {}` to try again",
                s.machine.restarts(),
                humantime::format_duration(s.config.restart.window),
                s.exits
                    .back()
                    .map_or_else(|| "unknown".to_string(), ExitInfo::describe),
                s.config.name
            )),
            ServiceState::Backoff => s.machine.deadline().map(|d| {
                format!(
                    "restarting in {:.1}s",
                    d.saturating_duration_since(now.into_std()).as_secs_f64()
                )
            }),
            ServiceState::Stopping => s.machine.stopping_because().map(str::to_string),
            // What the start waits for: leftovers holding its port.
            ServiceState::Starting if s.port_gate.is_some() => s.detail.take(),
            _ => None,
        };
        let name = s.config.name.clone();
        let message = match &s.detail {
            Some(d) => format!("{name}: {before} → {after} ({d})"),
            None => format!("{name}: {before} → {after}"),
        };
        // A job's runs are told by its own events (job-started, -succeeded,
        // -failed): its passage through the states would bury them.
        if s.job.is_none() {
            self.event(Some(&name), EventKind::State, message);
        }
        if matches!(
            after,
            ServiceState::Stopped
                | ServiceState::Exited
                | ServiceState::Failed
                | ServiceState::CrashLoop
        ) {
            self.job_settled(i, after);
        }
    }

    fn apply(&mut self, i: usize, action: Action, now: Instant) {
        match action {
            Action::Spawn => self.spawn(i, now),
            Action::SignalMain(sig) => {
                if let Some(m) = self.services[i].main.as_ref().filter(|m| m.alive) {
                    tree::signal_one(m.pid, sig);
                }
            }
            Action::SignalAll(sig) => self.signal_service(i, sig),
            Action::KillAll => self.signal_service(i, libc::SIGKILL),
            Action::StopCommand => {
                if !self.run_hook(i, hooks::HookKind::Stop) {
                    let signal = self.services[i].config.stop.signal.number;
                    self.signal_service(i, signal);
                }
            }
            Action::Notify(notice) => {
                let name = self.services[i].config.name.clone();
                let (kind, message) = match notice {
                    Notice::RestartScheduled { delay, restarts } => (
                        EventKind::RestartScheduled,
                        format!(
                            "{name}: restart #{restarts} in {}",
                            humantime::format_duration(round_ms(delay))
                        ),
                    ),
                    Notice::CrashLoop { restarts, window } => (
                        EventKind::CrashLoop,
                        format!(
                            "{name}: crash loop: {restarts} restarts within {}; no more restarts",
                            humantime::format_duration(window)
                        ),
                    ),
                    Notice::KillEscalated => (
                        EventKind::KillEscalated,
                        format!(
                            "{name}: still running {} after SIG{}; sending SIGKILL",
                            humantime::format_duration(self.services[i].config.stop.timeout),
                            self.services[i].config.stop.signal.name
                        ),
                    ),
                    Notice::StartupTimeout => (
                        EventKind::StartupTimeout,
                        format!(
                            "{name}: no health check passed within its startup period of {}",
                            humantime::format_duration(
                                self.services[i].config.startup.unwrap_or_default()
                            )
                        ),
                    ),
                    Notice::LivenessRestart => (
                        EventKind::LivenessRestart,
                        format!("{name}: a liveness check failed; restarting"),
                    ),
                    Notice::SurvivedKill => (
                        EventKind::SurvivedKill,
                        format!(
                            "{name}: processes survived SIGKILL (stuck in the kernel?); giving up on them"
                        ),
                    ),
                    Notice::WaitingForDependency => (
                        EventKind::DependencyWait,
                        format!(
                            "{name}: exited while a dependency is down; {} before it starts again (no restart counted)",
                            self.waiting_for(i).unwrap_or_default()
                        ),
                    ),
                };
                self.event(Some(&name), kind, message);
            }
        }
    }

    fn on_internal(&mut self, msg: Internal) {
        match msg {
            Internal::ProbeDone {
                service,
                check,
                generation,
                outcome,
            } => match service {
                Some(service) => self.on_probe_done(&service, check, generation, outcome),
                None => self.on_check_done(check, generation, outcome),
            },
            Internal::PortChecked {
                service,
                gate,
                port,
                holders,
            } => {
                if let Some(i) = self.index(&service) {
                    self.port_checked(i, gate, port, &holders);
                }
            }
            Internal::PortCleared {
                service,
                gate,
                survivors,
            } => {
                if let Some(i) = self.index(&service) {
                    self.port_cleared(i, gate, &survivors);
                }
            }
            Internal::JobOutput {
                service,
                run,
                lines,
            } => {
                if let Some(i) = self.index(&service) {
                    self.job_recorded(i, run, &lines, Instant::now());
                }
            }
            Internal::Usage { readings, whole } => self.usage_read(readings, whole),
            Internal::FilesChanged(due) => self.files_changed(&due, Instant::now()),
            Internal::WatchTrouble(why) => self.watch_trouble(&why),
            Internal::HookDone {
                service,
                token,
                kind,
                result,
            } => {
                if let Some(i) = self.index(&service) {
                    self.hook_done(i, token, kind, &result, Instant::now());
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The event bus's redaction by `redactor` (a copy: the supervisor goes on learning).
fn redact_with(redactor: &Redactor) -> backstop_api::Redact {
    let redactor = redactor.clone();
    Arc::new(move |text: &str| redactor.redact(text).into_owned())
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

/// Turns the log writer's notices into events (and lines in backstop's own log).
fn log_notices(events: backstop_api::EventBus) -> backstop_logs::Notify {
    Arc::new(move |notice: backstop_logs::Notice| {
        let (service, kind, message) = match notice {
            backstop_logs::Notice::Dropping { service, reason } => {
                let m = format!("{service}: output is being dropped: {reason}");
                (service, EventKind::LogDropping, m)
            }
            backstop_logs::Notice::Dropped {
                service,
                lines,
                bytes,
                reason,
            } => {
                let m = format!(
                    "{service}: {lines} lines ({bytes} bytes) of output were lost: {reason}"
                );
                (service, EventKind::LogDropped, m)
            }
            backstop_logs::Notice::Maintenance { service, message } => {
                let m = format!("{service}: {message}");
                (service, EventKind::LogMaintenance, m)
            }
            backstop_logs::Notice::Failed { message } => {
                (String::new(), EventKind::LogMaintenance, message)
            }
        };
        tracing::warn!("{}", events.redact(&message));
        let service = (!service.is_empty()).then_some(service.as_str());
        events.publish(Event::now(service, kind, message));
    })
}
