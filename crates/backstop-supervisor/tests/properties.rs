//! Property tests of the supervision rules over random histories.
//!
//! A small world runs the pure parts exactly as the supervisor composes
//! them — each service's [`Machine`], dependency scheduling
//! ([`rules::dependencies`]), the liveness decision ([`rules::health`]) and
//! the shutdown order ([`rules::shutdown`]) — against simulated processes
//! that crash, ignore SIGTERM, pass and fail checks, while operators start,
//! stop and restart services and time passes. After every step it checks
//! what backstop promises:
//! - no service is spawned while a process of it is alive;
//! - no service restarts past its budget (`max_restarts` within `window`);
//! - no dependent is spawned before its dependency condition holds;
//! - a service that comes to rest (stopped, exited, failed, crash-loop)
//!   has no process left, and a shutdown ends with none at all.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use backstop_api::{Health, ServiceState};
use backstop_config::{
    Dependency, DependencyCondition, HealthCheck, OnFailure, Probe, RestartConfig, RestartPolicy,
    ServiceConfig,
};
use backstop_probe::CheckState;
use backstop_supervisor::machine::{Action, ExitStatus, Input, Machine, Notice};
use backstop_supervisor::rules::{self, dependencies::Target};
use proptest::prelude::*;

const SIGKILL: i32 = 9;

/// A simulated service: its machine and its (one) process.
struct Sim {
    config: ServiceConfig,
    machine: Machine,
    /// The main process runs.
    alive: bool,
    /// The process ignores the stop signal (only SIGKILL ends it).
    stubborn: bool,
    /// Its check's state (when it has one).
    check: CheckState,
    /// Automatic restarts since the budget was last reset by hand.
    restarts: VecDeque<Instant>,
}

struct World {
    services: Vec<Sim>,
    now: Instant,
    shutting_down: bool,
    /// Inputs produced by the processes, fed in order.
    pending: VecDeque<(usize, Input)>,
}

/// What can happen, chosen at random.
#[derive(Clone, Debug)]
enum Op {
    Start(usize),
    Stop(usize),
    Restart(usize),
    Crash(usize, i32),
    CheckPasses(usize),
    CheckFails(usize),
    Advance(u64),
}

fn op(n: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..n).prop_map(Op::Start),
        (0..n).prop_map(Op::Stop),
        (0..n).prop_map(Op::Restart),
        ((0..n), prop_oneof![Just(0), Just(1), Just(137)]).prop_map(|(i, c)| Op::Crash(i, c)),
        (0..n).prop_map(Op::CheckPasses),
        (0..n).prop_map(Op::CheckFails),
        (1u64..3000).prop_map(Op::Advance),
    ]
}

/// How one service is set up, at random.
#[derive(Clone, Debug)]
struct Shape {
    max_restarts: u32,
    backoff_ms: u64,
    policy: RestartPolicy,
    has_check: bool,
    liveness: bool,
    stubborn: bool,
    /// For each earlier service: no dependency, `started` or `healthy`.
    deps: Vec<u8>,
}

fn shape(index: usize) -> impl Strategy<Value = Shape> {
    (
        0u32..4,
        0u64..500,
        prop_oneof![
            Just(RestartPolicy::Always),
            Just(RestartPolicy::OnFailure),
            Just(RestartPolicy::Never)
        ],
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(0u8..3, index),
    )
        .prop_map(
            |(max_restarts, backoff_ms, policy, has_check, liveness, stubborn, deps)| Shape {
                max_restarts,
                backoff_ms,
                policy,
                has_check,
                liveness,
                stubborn,
                deps,
            },
        )
}

fn config(index: usize, shape: &Shape) -> ServiceConfig {
    let check = HealthCheck {
        name: "ready".into(),
        probe: Probe::Tcp {
            address: "127.0.0.1:1".into(),
        },
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        failures: 1,
        successes: 1,
        on_failure: if shape.liveness {
            OnFailure::Restart
        } else {
            OnFailure::Report
        },
    };
    let mut service = ServiceConfig::new(&format!("s{index}"), vec!["true".into()], "/".into());
    service.stop.timeout = Duration::from_secs(2);
    service.depends_on = shape
        .deps
        .iter()
        .enumerate()
        .filter_map(|(d, kind)| {
            let condition = match kind {
                1 => DependencyCondition::Started,
                2 => DependencyCondition::Healthy,
                _ => return None,
            };
            Some(Dependency {
                service: format!("s{d}"),
                condition,
            })
        })
        .collect();
    service.restart = RestartConfig {
        policy: shape.policy,
        backoff_initial: Duration::from_millis(shape.backoff_ms),
        backoff_max: Duration::from_secs(5),
        backoff_factor: 2.0,
        max_restarts: shape.max_restarts,
        window: Duration::from_secs(60),
        reset_after: Duration::from_secs(600),
    };
    service.startup = Some(Duration::from_secs(3));
    if shape.has_check {
        service.health = vec![check];
    }
    service
}

impl World {
    fn new(shapes: &[Shape]) -> Self {
        let services = shapes
            .iter()
            .enumerate()
            .map(|(i, shape)| {
                let config = config(i, shape);
                Sim {
                    machine: Machine::new(&config),
                    config,
                    alive: false,
                    stubborn: shape.stubborn,
                    check: CheckState::Unknown,
                    restarts: VecDeque::new(),
                }
            })
            .collect();
        Self {
            services,
            now: Instant::now(),
            shutting_down: false,
            pending: VecDeque::new(),
        }
    }

    fn own_health(&self, i: usize) -> Health {
        let s = &self.services[i];
        if s.config.health.is_empty() {
            return Health::Unknown;
        }
        rules::health::own(&[rules::health::CheckHealth {
            state: s.check,
            warning: false,
        }])
    }

    fn target(&self, name: &str) -> Target<'static> {
        let i: usize = name[1..].parse().expect("sN");
        Target::Service(rules::dependencies::Peer {
            state: self.services[i].machine.state(),
            spawned: self.services[i].alive,
            own_health: self.own_health(i),
        })
    }

    /// What `depends_on` promises, stated independently of the rules: a
    /// `started` dependency has its process running; a `healthy` one also
    /// passed its readiness check (or has none) and does not fail it now.
    fn holds(&self, dep: &Dependency) -> bool {
        let d = &self.services[dep.service[1..].parse::<usize>().expect("sN")];
        match dep.condition {
            DependencyCondition::Started => d.alive,
            DependencyCondition::Healthy => {
                d.alive
                    && d.machine.state() == ServiceState::Running
                    && d.check != CheckState::Failing
            }
            DependencyCondition::Completed => d.machine.state() == ServiceState::Exited,
        }
    }

    fn feed(&mut self, i: usize, input: Input) -> Result<(), TestCaseError> {
        if matches!(input, Input::Start | Input::Restart) {
            self.services[i].restarts.clear(); // by hand: a new budget
        }
        // As the supervisor does before every input.
        let down = rules::dependencies::waiting_for(&self.services[i].config.depends_on, |n| {
            self.target(n)
        })
        .is_some();
        self.services[i].machine.note_dependencies(down);
        let actions = self.services[i].machine.handle(input, self.now);
        for action in &actions {
            self.apply(i, action)?;
        }
        let s = &self.services[i];
        if matches!(
            s.machine.state(),
            ServiceState::Stopped
                | ServiceState::Exited
                | ServiceState::Failed
                | ServiceState::CrashLoop
        ) {
            prop_assert!(
                !s.alive,
                "{} is {} with its process alive",
                s.config.name,
                s.machine.state()
            );
        }
        Ok(())
    }

    fn apply(&mut self, i: usize, action: &Action) -> Result<(), TestCaseError> {
        match *action {
            Action::Spawn => {
                let name = self.services[i].config.name.clone();
                prop_assert!(
                    !self.services[i].alive,
                    "{name} spawned while its process runs"
                );
                // Checked against the promise itself, not the rule that decides.
                for dep in &self.services[i].config.depends_on {
                    prop_assert!(
                        self.holds(dep),
                        "{name} spawned before {} was {}",
                        dep.service,
                        dep.condition.as_str()
                    );
                }
                self.services[i].alive = true;
                self.services[i].check = CheckState::Unknown;
                self.services[i].machine.note_main_exists();
                self.pending.push_back((i, Input::Spawned));
            }
            Action::SignalMain(sig) | Action::SignalAll(sig) => self.signal(i, sig),
            Action::KillAll => self.signal(i, SIGKILL),
            // The model's services stop on their signal (none has `stop.command`).
            Action::StopCommand => {
                let sig = self.services[i].config.stop.signal.number;
                self.signal(i, sig);
            }
            Action::Notify(Notice::RestartScheduled { .. }) => {
                let s = &mut self.services[i];
                let window = s.config.restart.window;
                let now = self.now;
                s.restarts.push_back(now);
                while s
                    .restarts
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= window)
                {
                    s.restarts.pop_front();
                }
                prop_assert!(
                    s.restarts.len() <= s.config.restart.max_restarts as usize,
                    "{} restarted {} times within {window:?}, budget {}",
                    s.config.name,
                    s.restarts.len(),
                    s.config.restart.max_restarts
                );
            }
            Action::Notify(_) => {}
        }
        Ok(())
    }

    fn signal(&mut self, i: usize, sig: i32) {
        let s = &mut self.services[i];
        if s.alive && (sig == SIGKILL || !s.stubborn) {
            s.alive = false;
            self.pending
                .push_back((i, Input::MainExited(ExitStatus::Signal(sig))));
            self.pending.push_back((i, Input::TreeGone));
        }
    }

    /// Feeds what the processes did, then launches what may start, as the
    /// supervisor's loop does after every wake-up.
    fn settle(&mut self) -> Result<(), TestCaseError> {
        for _ in 0..1000 {
            if let Some((i, input)) = self.pending.pop_front() {
                self.feed(i, input)?;
                continue;
            }
            if self.shutting_down {
                let views: Vec<rules::shutdown::Stopping<'_>> = self
                    .services
                    .iter()
                    .map(|s| rules::shutdown::Stopping::of(&s.config, s.machine.state()))
                    .collect();
                let stop = rules::shutdown::to_stop(&views);
                let mut progress = false;
                for i in stop {
                    let before = self.services[i].machine.state();
                    self.feed(i, Input::Stop)?;
                    progress |= self.services[i].machine.state() != before;
                }
                if !progress && self.pending.is_empty() {
                    return Ok(());
                }
                continue;
            }
            let ready = (0..self.services.len()).find(|&i| {
                self.services[i].machine.state() == ServiceState::Pending
                    && rules::dependencies::waiting_for(&self.services[i].config.depends_on, |n| {
                        self.target(n)
                    })
                    .is_none()
            });
            match ready {
                Some(i) => self.feed(i, Input::Launch)?,
                None => return Ok(()),
            }
        }
        Err(TestCaseError::fail("the world never settles"))
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Start(i) | Op::Restart(i) if !self.shutting_down => {
                // As the daemon does: what it depends on is started too.
                let deps: Vec<usize> = self.services[i]
                    .config
                    .depends_on
                    .iter()
                    .map(|d| d.service[1..].parse().expect("sN"))
                    .collect();
                for d in deps {
                    if matches!(
                        self.services[d].machine.state(),
                        ServiceState::Stopped | ServiceState::Failed | ServiceState::CrashLoop
                    ) {
                        self.feed(d, Input::Start)?;
                    }
                }
                let input = if matches!(op, Op::Start(_)) {
                    Input::Start
                } else {
                    Input::Restart
                };
                self.feed(i, input)?;
            }
            Op::Stop(i) if !self.shutting_down => self.feed(i, Input::Stop)?,
            Op::Crash(i, code) if self.services[i].alive => {
                self.services[i].alive = false;
                self.pending
                    .push_back((i, Input::MainExited(ExitStatus::Code(code))));
                self.pending.push_back((i, Input::TreeGone));
            }
            Op::CheckPasses(i) | Op::CheckFails(i)
                if self.services[i].alive && !self.services[i].config.health.is_empty() =>
            {
                let passed = matches!(op, Op::CheckPasses(_));
                let s = &mut self.services[i];
                s.check = if passed {
                    CheckState::Passing
                } else {
                    CheckState::Failing
                };
                let state = s.machine.state();
                let result = rules::health::Result {
                    passed,
                    failing: !passed,
                    readiness: true,
                    liveness: s.config.health[0].on_failure == OnFailure::Restart,
                };
                let starting =
                    matches!(state, ServiceState::Starting | ServiceState::StartupTimeout);
                let grace = s.machine.in_startup_grace(self.now);
                if let Some(input) = rules::health::after_result(result, starting, grace) {
                    self.feed(i, input)?;
                }
            }
            Op::Advance(ms) => {
                self.now += Duration::from_millis(ms);
                for i in 0..self.services.len() {
                    if self.services[i]
                        .machine
                        .deadline()
                        .is_some_and(|d| d <= self.now)
                    {
                        self.feed(i, Input::Deadline)?;
                    }
                }
            }
            _ => {}
        }
        self.settle()
    }

    /// Shuts everything down, letting time pass until every service rests.
    fn shutdown(&mut self) -> Result<(), TestCaseError> {
        self.shutting_down = true;
        self.settle()?;
        for _ in 0..100 {
            let quiet = self.services.iter().all(|s| {
                !s.machine.state().is_active()
                    && !matches!(
                        s.machine.state(),
                        ServiceState::Pending | ServiceState::Backoff
                    )
            });
            if quiet {
                for s in &self.services {
                    prop_assert!(!s.alive, "{} outlived the shutdown", s.config.name);
                }
                return Ok(());
            }
            self.step(&Op::Advance(1000))?;
        }
        Err(TestCaseError::fail("the shutdown never ends"))
    }
}

fn world() -> impl Strategy<Value = (Vec<Shape>, Vec<Op>)> {
    (2usize..5)
        .prop_flat_map(|n| {
            let shapes: Vec<_> = (0..n).map(shape).collect();
            (shapes, proptest::collection::vec(op(n), 1..80))
        })
        .prop_map(|(shapes, ops)| (shapes, ops))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_histories_keep_every_promise((shapes, ops) in world()) {
        let mut w = World::new(&shapes);
        for i in 0..w.services.len() {
            w.feed(i, Input::Start)?;
        }
        w.settle()?;
        for op in &ops {
            w.step(op)?;
        }
        w.shutdown()?;
    }
}

#[test]
fn a_liveness_failure_while_stubborn_is_killed_and_restarted_once() {
    // A fixed history worth keeping as an example of the harness.
    let shape = Shape {
        max_restarts: 3,
        backoff_ms: 0,
        policy: RestartPolicy::Always,
        has_check: true,
        liveness: true,
        stubborn: true,
        deps: vec![],
    };
    let mut w = World::new(&[shape]);
    w.feed(0, Input::Start).unwrap();
    w.settle().unwrap();
    w.step(&Op::CheckPasses(0)).unwrap();
    assert_eq!(w.services[0].machine.state(), ServiceState::Running);
    w.step(&Op::CheckFails(0)).unwrap();
    assert_eq!(w.services[0].machine.state(), ServiceState::Stopping);
    assert!(w.services[0].alive, "it ignores SIGTERM");
    w.step(&Op::Advance(2500)).unwrap(); // past the stop timeout: SIGKILL
    assert_eq!(w.services[0].machine.state(), ServiceState::Starting);
    assert_eq!(w.services[0].machine.restarts(), 1);
}
