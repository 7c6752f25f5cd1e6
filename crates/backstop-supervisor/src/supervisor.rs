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

use backstop_api::{
    ActError, ActionOutcome, Control, DaemonInfo, Event, EventKind, ExitInfo, Health,
    ReloadOutcome, ServiceAction, ServiceState, ServiceStatus, StatusReport,
};
use backstop_config::{Config, OnFailure, ServiceConfig};
use backstop_probe::{CheckState, ChildExit, ExecContext, Outcome, ProbeReaper};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::capture::CaptureThread;
use crate::checks::{CheckRun, own_health};
use crate::machine::{Action, ExitStatus, Input, Machine, Notice, Why, describe, signal_name};
use crate::output::{Capture, Echo, Stream, Terminal};
use crate::rules::dependencies::{self, Check, Peer, Target};
use crate::rules::port::{Gate, Holder};
use crate::rules::{health, shutdown};
use crate::spawn::{self, SERVICE_ENV, STATE_DIR_ENV};
use crate::state_file::{RecordedProcess, StateFile};
use crate::{ports, procs, tree};
use backstop_logs::{ErrorPatterns, LogStats, LogWriter};

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
    /// A stop of leftovers holding its port is under way (its number): the
    /// start waits for it, and no second one begins.
    clearing_port: Option<u64>,
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
            config,
            main: None,
            orphans: HashSet::new(),
            exits: VecDeque::new(),
            exit_counts: std::collections::BTreeMap::new(),
            detail: None,
            clearing_port: None,
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
    PortCleared {
        service: String,
        /// Which clearing this is ([`Service::clearing_port`]).
        clearing: u64,
        survivors: Vec<i32>,
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
    /// Numbers port clearings, so that each result finds its own.
    next_clearing: u64,
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
            config.services.iter().map(|s| s.name.clone()).collect()
        } else {
            config
                .with_dependencies(&options.services)
                .unwrap_or_default()
        };
        let events = backstop_api::EventBus::new();
        events.set_redact(redact_for(&config));
        let logs = LogWriter::start(
            config.daemon.state_dir.join("logs"),
            log_notices(events.clone()),
        )?;
        for s in &config.services {
            logs.configure(&s.name, &s.logs);
        }
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
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
            started: Instant::now(),
            last_exited: None,
            unowned: HashSet::new(),
            wanted,
            probe_reaper: ProbeReaper::default(),
            probe_latency: options.probe_latency.clone(),
            checks: Vec::new(),
            reloads: 0,
            next_clearing: 0,
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
        for name in self.wanted.clone() {
            if let Some(i) = self.index(&name) {
                self.feed(i, Input::Start, now);
            }
        }
        loop {
            self.schedule(Instant::now());
            if self.shutting_down && self.all_quiet() {
                break;
            }
            let deadline = self.next_deadline();
            tokio::select! {
                _ = sigchld.recv() => self.reap(Instant::now()),
                Some(msg) = control.recv() => self.on_control(msg),
                Some(msg) = self.internal_rx.recv() => self.on_internal(msg),
                _ = sigterm.recv() => self.begin_shutdown("SIGTERM"),
                _ = sigint.recv() => self.begin_shutdown("SIGINT"),
                _ = sighup.recv() => {
                    if let Err(e) = self.reload() {
                        self.event(None, EventKind::ReloadFailed, format!("config not reloaded; the old one stays in force:\n{e}"));
                    }
                }
                () = sleep_until(deadline) => self.on_deadlines(Instant::now()),
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

    /// Starts the capture of a freshly spawned service's output.
    fn capture(&mut self, i: usize, stdout: std::os::fd::OwnedFd, stderr: std::os::fd::OwnedFd) {
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

    fn error_patterns_for(
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

    fn index(&self, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s.config.name == name)
    }

    fn event(&self, service: Option<&str>, kind: EventKind, message: String) {
        self.events.publish(Event::now(service, kind, message));
    }

    // ── feeding the machines ────────────────────────────────────────────

    fn feed(&mut self, i: usize, input: Input, now: Instant) {
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
            self.save_state();
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
            ServiceState::Starting if s.clearing_port.is_some() => s.detail.take(),
            _ => None,
        };
        let name = s.config.name.clone();
        let message = match &s.detail {
            Some(d) => format!("{name}: {before} → {after} ({d})"),
            None => format!("{name}: {before} → {after}"),
        };
        self.event(Some(&name), EventKind::State, message);
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
                };
                self.event(Some(&name), kind, message);
            }
        }
    }

    fn signal_service(&mut self, i: usize, sig: i32) {
        self.attribute_orphans();
        let s = &self.services[i];
        let main_alive = s.main.as_ref().is_some_and(|m| m.alive);
        // The respawn hot path: a process that exited alone leaves an empty
        // group and no orphans (descendants of dead members would be ours
        // now), so there is nothing to scan /proc for.
        if !main_alive && s.orphans.is_empty() && !s.pgid().is_some_and(tree::group_alive) {
            return;
        }
        tree::signal_all(&s.roots(), s.pgid(), sig);
    }

    // ── spawning ────────────────────────────────────────────────────────

    fn spawn(&mut self, i: usize, now: Instant) {
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

    fn spawn_failed(&mut self, i: usize, reason: String, now: Instant) {
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
    fn port_is_free(&mut self, i: usize, port: u16) -> bool {
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
            Internal::PortCleared {
                service,
                clearing,
                survivors,
            } => {
                let Some(i) = self.index(&service) else {
                    return;
                };
                let s = &mut self.services[i];
                if s.clearing_port != Some(clearing) {
                    return; // a clearing this service no longer waits for
                }
                s.clearing_port = None;
                // Still waiting to spawn: not stopped meanwhile, and not
                // spawned by anything else.
                if s.state() != ServiceState::Starting || s.main.as_ref().is_some_and(|m| m.alive) {
                    return;
                }
                let now = Instant::now();
                if survivors.is_empty() {
                    self.spawn(i, now);
                } else {
                    self.spawn_failed(
                        i,
                        format!("a leftover instance (pids {survivors:?}) survived SIGKILL and still holds the port"),
                        now,
                    );
                }
            }
        }
    }

    // ── reaping ─────────────────────────────────────────────────────────

    fn reap(&mut self, now: Instant) {
        loop {
            let (pid, status) = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid.as_raw(), ExitStatus::Code(code)),
                Ok(WaitStatus::Signaled(pid, sig, _)) => {
                    (pid.as_raw(), ExitStatus::Signal(sig as i32))
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            };
            self.on_exit(pid, status, now);
        }
        self.check_trees(now);
    }

    fn on_exit(&mut self, pid: i32, status: ExitStatus, now: Instant) {
        let exit = match status {
            ExitStatus::Code(c) => ChildExit::Code(c),
            ExitStatus::Signal(s) => ChildExit::Signal(s),
        };
        if self.probe_reaper.deliver(pid, exit) {
            return;
        }
        let owner = self
            .services
            .iter()
            .position(|s| s.main.as_ref().is_some_and(|m| m.alive && m.pid == pid));
        let Some(i) = owner else {
            for s in &mut self.services {
                s.orphans.remove(&pid);
            }
            self.unowned.remove(&pid);
            return;
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
        };
        *s.exit_counts.entry(exit.describe()).or_default() += 1;
        s.exits.push_back(exit);
        let name = s.config.name.clone();
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
        self.feed(i, Input::MainExited(status), now);
    }

    /// Gives every new child of backstop (an orphan of some service) an owner.
    fn attribute_orphans(&mut self) {
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
    fn check_trees(&mut self, now: Instant) {
        let waiting: Vec<usize> = (0..self.services.len())
            .filter(|&i| {
                let s = &self.services[i];
                s.state() == ServiceState::Stopping && !s.main.as_ref().is_some_and(|m| m.alive)
            })
            .collect();
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
            if !group && !orphans {
                self.feed(i, Input::TreeGone, now);
            }
        }
    }

    // ── timers and scheduling ──────────────────────────────────────────

    fn next_deadline(&self) -> Option<Instant> {
        let machines = self
            .services
            .iter()
            .filter_map(|s| s.machine.deadline())
            .map(Instant::from_std);
        let checks = self
            .services
            .iter()
            .flat_map(|s| s.checks.iter().filter_map(CheckRun::next_at));
        let own = self.checks.iter().filter_map(|(c, _)| c.next_at());
        machines.chain(checks).chain(own).min()
    }

    fn on_deadlines(&mut self, now: Instant) {
        self.start_due_probes(now);
        self.sample_process_checks(now);
        for i in 0..self.services.len() {
            if self.services[i]
                .machine
                .deadline()
                .is_some_and(|d| d <= now.into_std())
            {
                self.feed(i, Input::Deadline, now);
            }
        }
        self.check_trees(now);
    }

    fn schedule(&mut self, now: Instant) {
        if self.shutting_down {
            return self.schedule_shutdown(now);
        }
        // A launch can satisfy another service's dependency at once.
        let mut progress = true;
        while progress {
            progress = false;
            for i in 0..self.services.len() {
                if self.services[i].state() != ServiceState::Pending {
                    continue;
                }
                match self.waiting_for(i) {
                    None => {
                        self.feed(i, Input::Launch, now);
                        progress = true;
                    }
                    Some(reason) => self.services[i].detail = Some(reason),
                }
            }
        }
        self.services
            .retain(|s| !s.removed || s.state().is_active());
    }

    /// What a dependency's name refers to, for the rules.
    fn target(&self, name: &str) -> Target<'_> {
        if let Some(d) = self.index(name) {
            let s = &self.services[d];
            return Target::Service(Peer {
                state: s.state(),
                spawned: s.main.is_some(),
                own_health: own_health(&s.checks),
            });
        }
        match self.check_named(name) {
            Some(check) => Target::Check(Check {
                state: check.state(),
                detail: check.last_detail(),
            }),
            None => Target::Unknown,
        }
    }

    /// What a pending service waits for, or `None` when it may start.
    fn waiting_for(&self, i: usize) -> Option<String> {
        dependencies::waiting_for(&self.services[i].config.depends_on, |n| self.target(n))
    }

    fn schedule_shutdown(&mut self, now: Instant) {
        let services: Vec<shutdown::Stopping<'_>> = self
            .services
            .iter()
            .map(|s| shutdown::Stopping {
                name: &s.config.name,
                state: s.state(),
                depends_on: s
                    .config
                    .depends_on
                    .iter()
                    .map(|d| d.service.as_str())
                    .collect(),
            })
            .collect();
        for i in shutdown::to_stop(&services) {
            self.feed(i, Input::Stop, now);
        }
    }

    fn all_quiet(&self) -> bool {
        self.services.iter().all(|s| {
            !s.state().is_active()
                && !matches!(s.state(), ServiceState::Pending | ServiceState::Backoff)
        })
    }

    fn begin_shutdown(&mut self, why: &str) {
        if self.shutting_down {
            self.event(
                None,
                EventKind::ShutdownForced,
                format!("{why} again: killing every service now"),
            );
            let now = Instant::now();
            for i in 0..self.services.len() {
                if self.services[i].state().is_active() {
                    self.apply(i, Action::KillAll, now);
                }
            }
            return;
        }
        self.shutting_down = true;
        self.event(
            None,
            EventKind::Shutdown,
            format!("{why}: stopping every service"),
        );
    }

    /// Stops what is left that backstop still parents (orphans nobody
    /// claimed), reaps it, and clears the state file.
    async fn final_sweep(&mut self) {
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
    }

    fn save_state(&self) {
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

    // ── control requests ───────────────────────────────────────────────

    fn on_control(&mut self, msg: Control) {
        match msg {
            Control::Status { reply } => {
                let (mut report, trees) = (self.report(), self.trees());
                measured(trees, move |usage| {
                    add_usage(&mut report.services, &usage);
                    let _ = reply.send(report);
                });
            }
            Control::Brief { reply } => {
                let _ = reply.send(self.report());
            }
            Control::Service { name, reply } => {
                let Some(i) = self.index(&name) else {
                    let _ = reply.send(None);
                    return;
                };
                let mut status = [self.status_of(i, true)];
                let trees = self
                    .trees()
                    .into_iter()
                    .filter(|(n, _)| *n == name)
                    .collect();
                measured(trees, move |usage| {
                    add_usage(&mut status, &usage);
                    let [status] = status;
                    let _ = reply.send(Some(status));
                });
            }
            Control::Act {
                name,
                action,
                reply,
            } => {
                let _ = reply.send(self.act(&name, action));
            }
            Control::Reload { reply } => {
                let result = self.reload();
                if let Err(e) = &result {
                    self.event(
                        None,
                        EventKind::ReloadFailed,
                        format!("config not reloaded; the old one stays in force:\n{e}"),
                    );
                }
                let _ = reply.send(result);
            }
            Control::Diagnosed { service, verdict } => {
                if let Some(i) = self.index(&service) {
                    self.services[i].diagnosis = Some(verdict);
                }
            }
            Control::Shutdown { reply } => {
                self.begin_shutdown("shutdown requested");
                let _ = reply.send(());
            }
        }
    }

    fn act(&mut self, name: &str, action: ServiceAction) -> Result<ActionOutcome, ActError> {
        let Some(i) = self.index(name) else {
            return Err(ActError::NoSuchService {
                name: name.to_string(),
                known: self
                    .services
                    .iter()
                    .map(|s| s.config.name.clone())
                    .collect(),
            });
        };
        if self.shutting_down {
            return Err(ActError::ShuttingDown);
        }
        let now = Instant::now();
        match action {
            ServiceAction::Stop => self.feed(i, Input::Stop, now),
            ServiceAction::Start | ServiceAction::Restart => {
                // What it depends on must run too; a completed one-shot job stays completed.
                let deps = self
                    .config
                    .with_dependencies(&[name.to_string()])
                    .unwrap_or_default();
                for dep in deps.iter().filter(|d| d.as_str() != name) {
                    if let Some(d) = self.index(dep)
                        && matches!(
                            self.services[d].state(),
                            ServiceState::Stopped | ServiceState::Failed | ServiceState::CrashLoop
                        )
                    {
                        self.feed(d, Input::Start, now);
                    }
                }
                let input = if action == ServiceAction::Start {
                    Input::Start
                } else {
                    Input::Restart
                };
                self.feed(i, input, now);
            }
        }
        self.event(
            Some(name),
            EventKind::Request,
            format!("{name}: {} requested", action.as_str()),
        );
        Ok(ActionOutcome {
            service: name.to_string(),
            state: self.services[i].state(),
        })
    }

    fn reload(&mut self) -> Result<ReloadOutcome, String> {
        let loaded = backstop_config::load(&self.config.path).map_err(|e| e.render(false))?;
        let new = loaded.config;
        let plan = crate::rules::reload::plan(&self.config.services, &new.services);
        let now = Instant::now();
        for service in &new.services {
            let name = &service.name;
            let Some(i) = self.index(name) else {
                let color = self.services.len();
                self.services.push(Service::new(service.clone(), color));
                if !self.shutting_down {
                    self.feed(self.services.len() - 1, Input::Start, now);
                }
                continue;
            };
            let s = &mut self.services[i];
            s.removed = false;
            s.config = service.clone();
            s.machine.reconfigure(service);
            if plan.checks_changed.contains(name) {
                s.rebuild_checks(now);
            }
            if plan.added.contains(name) {
                // Removed by an earlier reload and still stopping: back again.
                self.feed(i, Input::Start, now);
            } else if plan.restart.contains(name)
                && (s.state().is_active()
                    || matches!(s.state(), ServiceState::Pending | ServiceState::Backoff))
            {
                self.feed(i, Input::Restart, now);
            } else {
                // Without readiness checks left, a starting service is running.
                self.announce(i, now);
            }
        }
        for name in &plan.removed {
            if let Some(i) = self.index(name) {
                self.services[i].removed = true;
                self.feed(i, Input::Stop, now);
            }
        }
        let outcome = ReloadOutcome {
            added: plan.added,
            removed: plan.removed,
            changed: plan.restart,
            updated: plan.updated,
        };
        // Keep config order for status output.
        self.services.sort_by_key(|s| {
            new.services
                .iter()
                .position(|n| n.name == s.config.name)
                .unwrap_or(usize::MAX)
        });
        if new.daemon.state_dir != self.config.daemon.state_dir {
            self.event(
                None,
                EventKind::Reload,
                "`daemon.state_dir` changed: it takes effect when the daemon restarts".to_string(),
            );
        }
        for s in &new.services {
            self.logs.configure(&s.name, &s.logs);
        }
        self.events.set_redact(redact_for(&new));
        self.error_patterns.clear();
        self.config = new;
        self.reloads += 1;
        self.arm_checks(Instant::now());
        self.event(
            None,
            EventKind::Reload,
            format!(
                "config reloaded: added {:?}, removed {:?}, restarted {:?}, updated in place {:?}",
                outcome.added, outcome.removed, outcome.changed, outcome.updated
            ),
        );
        Ok(outcome)
    }

    // ── reporting ──────────────────────────────────────────────────────

    /// The report, without the memory and CPU figures of the process trees
    /// (read off the runtime: see [`measured`]).
    fn report(&self) -> StatusReport {
        StatusReport {
            daemon: DaemonInfo {
                pid: std::process::id(),
                config: self.config.path.display().to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                uptime_s: self.started.elapsed().as_secs(),
            },
            checks: self
                .checks
                .iter()
                .map(|(c, _)| self.redacted_check(c.result()))
                .collect(),
            services: (0..self.services.len())
                .filter(|&i| !self.services[i].removed)
                .map(|i| self.status_of(i, false))
                .collect(),
        }
    }

    /// Each service with processes, and the roots of its trees.
    fn trees(&self) -> Vec<(String, Vec<i32>)> {
        self.services
            .iter()
            .filter(|s| !s.removed && s.main.is_some())
            .map(|s| (s.config.name.clone(), s.roots()))
            .collect()
    }

    fn status_of(&self, i: usize, with_exits: bool) -> ServiceStatus {
        let s = &self.services[i];
        let live = s.main.as_ref().filter(|m| m.alive);
        let (rss_bytes, cpu_seconds) = (None, None);
        let now = std::time::Instant::now();
        ServiceStatus {
            name: s.config.name.clone(),
            state: s.state(),
            health: self.health_of(i),
            pid: live.map(|m| m.pid as u32),
            uptime_s: live.map(|m| {
                SystemTime::now()
                    .duration_since(m.started_wall)
                    .unwrap_or_default()
                    .as_secs()
            }),
            restarts: s.machine.restarts(),
            last_exit: s.exits.back().cloned(),
            rss_bytes,
            detail: s
                .detail
                .clone()
                .or_else(|| self.health_note(i))
                .map(|d| self.events.redact(&d)),
            restart_in_s: (s.state() == ServiceState::Backoff)
                .then(|| s.machine.deadline())
                .flatten()
                .map(|d| d.saturating_duration_since(now).as_secs_f64()),
            exits: if with_exits {
                s.exits.iter().cloned().collect()
            } else {
                Vec::new()
            },
            checks: s
                .checks
                .iter()
                .map(|c| self.redacted_check(c.result()))
                .collect(),
            exit_counts: s.exit_counts.clone(),
            cpu_seconds,
            diagnosis: s.diagnosis.as_deref().map(|d| self.events.redact(d)),
            output: {
                let o = s.log_stats.snapshot(SystemTime::now());
                backstop_api::OutputStats {
                    lines: o.lines,
                    errors: o.errors,
                    errors_last_minute: o.errors_last_minute,
                    last_error: o.last_error.map(|(at, line)| backstop_api::ErrorLine {
                        at: humantime::format_rfc3339_millis(at).to_string(),
                        line: self.events.redact(&line),
                    }),
                }
            },
        }
    }

    /// A check result as the API shows it: its detail redacted.
    fn redacted_check(&self, mut result: backstop_api::CheckResult) -> backstop_api::CheckResult {
        result.detail = result.detail.map(|d| self.events.redact(&d));
        result
    }

    /// Own checks first, then lost dependencies ([`crate::rules::health`]).
    fn health_of(&self, i: usize) -> Health {
        let s = &self.services[i];
        if !s.state().is_active() {
            return Health::Unknown;
        }
        let own = own_health(&s.checks);
        let lost = own != Health::Unhealthy && self.lost_dependency(i).is_some();
        health::of_service(s.state(), own, lost)
    }

    /// Why a running service is not healthy: its failing check, or a lost dependency.
    fn health_note(&self, i: usize) -> Option<String> {
        let s = &self.services[i];
        if !s.state().is_active() {
            return None;
        }
        s.checks
            .iter()
            .find(|c| c.state() == CheckState::Failing)
            .map(|c| {
                format!(
                    "check {} fails: {}",
                    c.config.name,
                    c.last_detail().unwrap_or("")
                )
            })
            .or_else(|| self.lost_dependency(i))
    }

    /// A dependency that is not up (or fails its checks), with why.
    fn lost_dependency(&self, i: usize) -> Option<String> {
        dependencies::lost(&self.services[i].config.depends_on, |n| self.target(n))
    }

    // ── health checks ──────────────────────────────────────────────────

    /// (Re)starts the `[checks]` entries of the current config.
    fn arm_checks(&mut self, now: Instant) {
        let reaper = self.probe_reaper.clone();
        self.checks = self
            .config
            .checks
            .iter()
            .map(|c| {
                let mut run = CheckRun::new(c.check.clone());
                run.severity = Some(c.severity);
                run.arm(now);
                let mut env = spawn::inherited_environment();
                env.extend(c.env.0.clone());
                let context = ExecContext {
                    dir: c.dir.clone(),
                    env,
                    ids: None,
                    reaper: Some(reaper.clone()),
                };
                (run, context)
            })
            .collect();
    }

    fn check_named(&self, name: &str) -> Option<&CheckRun> {
        self.config
            .checks
            .iter()
            .position(|c| c.name == name)
            .and_then(|i| self.checks.get(i))
            .map(|(run, _)| run)
    }

    fn on_check_done(&mut self, index: usize, generation: u64, outcome: Outcome) {
        // The generation of [checks] is the number of reloads.
        if generation != self.checks_generation() {
            return;
        }
        let now = Instant::now();
        let detail = outcome.detail.clone();
        if let Some(c) = self.config.checks.get(index) {
            self.probe_latency
                .observe(None, &c.name, outcome.latency.as_secs_f64());
        }
        let Some((run, _)) = self.checks.get_mut(index) else {
            return;
        };
        if let Some(new) = run.record(outcome, now, false) {
            let name = self.config.checks[index].name.clone();
            let verb = match new {
                CheckState::Passing => "passes",
                CheckState::Failing => "fails",
                CheckState::Unknown => "is unknown",
            };
            self.event(
                None,
                EventKind::Check,
                format!("check {name} {verb}: {detail}"),
            );
        }
    }

    fn checks_generation(&self) -> u64 {
        self.reloads
    }

    fn start_due_probes(&mut self, now: Instant) {
        let generation = self.checks_generation();
        if !self.shutting_down {
            for (index, (run, context)) in self.checks.iter_mut().enumerate() {
                if run.next_at().is_none_or(|at| at > now) {
                    continue;
                }
                run.start();
                let config = run.config.clone();
                let context = context.clone();
                let tx = self.internal_tx.clone();
                tokio::spawn(async move {
                    let outcome = backstop_probe::run(&config, &context).await;
                    let _ = tx.send(Internal::ProbeDone {
                        service: None,
                        check: index,
                        generation,
                        outcome,
                    });
                });
            }
        }
        for s in &mut self.services {
            if !s.state().is_active() || s.state() == ServiceState::Stopping {
                continue;
            }
            let Some(context) = s.probe_context.clone() else {
                continue;
            };
            for (index, check) in s.checks.iter_mut().enumerate() {
                if check.is_process() || check.next_at().is_none_or(|at| at > now) {
                    continue;
                }
                check.start();
                let config = check.config.clone();
                let context = context.clone();
                let tx = self.internal_tx.clone();
                let service = Some(s.config.name.clone());
                let generation = s.generation;
                tokio::spawn(async move {
                    let outcome = backstop_probe::run(&config, &context).await;
                    let _ = tx.send(Internal::ProbeDone {
                        service,
                        check: index,
                        generation,
                        outcome,
                    });
                });
            }
        }
    }

    /// Measures the due `process` checks: one /proc scan for all of them.
    fn sample_process_checks(&mut self, now: Instant) {
        let due: Vec<(usize, usize)> = self
            .services
            .iter()
            .enumerate()
            .filter(|(_, s)| s.state().is_active() && s.state() != ServiceState::Stopping)
            .flat_map(|(i, s)| {
                s.checks
                    .iter()
                    .enumerate()
                    .filter(move |(_, c)| c.is_process() && c.next_at().is_some_and(|at| at <= now))
                    .map(move |(c, _)| (i, c))
            })
            .collect();
        if due.is_empty() {
            return;
        }
        self.attribute_orphans();
        let page_size = procs::page_size();
        for (i, c) in due {
            let s = &mut self.services[i];
            let members = procs::tree(&s.roots());
            let Some(sampler) = s.checks[c].sampler.as_mut() else {
                continue;
            };
            let verdict = sampler.sample(&members, page_size, now);
            let (name, generation) = (s.config.name.clone(), s.generation);
            let outcome = Outcome {
                passed: verdict.passed,
                warning: verdict.warning,
                latency: Duration::ZERO,
                detail: verdict.detail.clone(),
            };
            // Like PM2's max_memory_restart: at once, whatever `failures`
            // says; first, so that the check's own failure (recorded next)
            // finds the service already being replaced, for this reason.
            if verdict.over_max.is_some()
                && self.services[i].state().is_active()
                && self.services[i].state() != ServiceState::Stopping
            {
                self.event(
                    Some(&name),
                    EventKind::MemoryMax,
                    format!("{name}: {}; restarting", verdict.detail),
                );
                self.services[i].checks[c].reset_tracker();
                self.feed(i, Input::Replace(Why::MemoryMax), now);
            }
            self.on_probe_done(&name, c, generation, outcome);
        }
    }

    fn on_probe_done(&mut self, service: &str, check: usize, generation: u64, outcome: Outcome) {
        let Some(i) = self.index(service) else { return };
        let now = Instant::now();
        let s = &mut self.services[i];
        if s.generation != generation || check >= s.checks.len() {
            return; // about an earlier process
        }
        let starting = matches!(
            s.state(),
            ServiceState::Starting | ServiceState::StartupTimeout
        );
        let passed = outcome.passed;
        let detail = outcome.detail.clone();
        let latency = outcome.latency.as_secs_f64();
        let changed = s.checks[check].record(outcome, now, starting);
        let check_name = s.checks[check].config.name.clone();
        self.probe_latency
            .observe(Some(service), &check_name, latency);
        let s = &mut self.services[i];
        let liveness = s.checks[check].config.on_failure == OnFailure::Restart;
        let failing = s.checks[check].state() == CheckState::Failing;
        let grace = s.machine.in_startup_grace(now.into_std());
        if let Some(new) = changed {
            let (kind, verb) = match new {
                CheckState::Passing => (EventKind::CheckPassing, "passes"),
                CheckState::Failing => (EventKind::CheckFailing, "fails"),
                CheckState::Unknown => (EventKind::CheckUnknown, "is unknown"),
            };
            self.event(
                Some(service),
                kind,
                format!("{service}: check {check_name} {verb}: {detail}"),
            );
        }
        let result = health::Result {
            passed,
            failing,
            readiness: !self.services[i].checks[check].is_process(),
            liveness,
        };
        if let Some(input) = health::after_result(result, starting, grace) {
            if matches!(input, Input::Replace(_)) {
                // The next process starts with a clean streak.
                self.services[i].checks[check].reset_tracker();
            }
            self.feed(i, input, now);
        }
    }
}

/// Memory (bytes) and CPU (seconds) of each service's process tree.
type Usage = std::collections::HashMap<String, (u64, f64)>;

/// Measures `trees` on a blocking thread, never on the runtime (reading
/// /proc can be slow on a loaded host), walking each service's tree only,
/// then hands the figures to `done`.
fn measured(trees: Vec<(String, Vec<i32>)>, done: impl FnOnce(Usage) + Send + 'static) {
    tokio::task::spawn_blocking(move || {
        let (page, ticks) = (procs::page_size(), procs::ticks_per_second() as f64);
        let usage = trees
            .into_iter()
            .map(|(name, roots)| {
                let members = procs::tree(&roots);
                let rss = members.iter().map(|p| p.rss_pages).sum::<u64>() * page;
                let cpu = members.iter().map(|p| p.cpu_ticks).sum::<u64>() as f64 / ticks;
                (name, (rss, cpu))
            })
            .collect();
        done(usage);
    });
}

/// Fills in the measured figures.
fn add_usage(services: &mut [ServiceStatus], usage: &Usage) {
    for service in services {
        if let Some(&(rss, cpu)) = usage.get(&service.name) {
            service.rss_bytes = Some(rss);
            service.cpu_seconds = Some(cpu);
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// How the daemon's outward texts are redacted under `config`.
fn redact_for(config: &Config) -> backstop_api::Redact {
    let redactor = backstop_diagnose::redact::Redactor::for_config(config);
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
        };
        tracing::warn!("{}", events.redact(&message));
        events.publish(Event::now(Some(&service), kind, message));
    })
}
