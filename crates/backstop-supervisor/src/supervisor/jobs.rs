//! Scheduled jobs (`[jobs.NAME]`, run as `job:NAME`): when each is due,
//! starting its runs, bounding them by `timeout`, skipping or queueing a
//! run due while the last one goes on, recording how each ended (with its
//! last output lines, once its pipes have ended) and raising `job-missed`
//! when no run succeeded within `missed_after` of being due.
//!
//! A run is a start of the job's service (which never restarts): its
//! dependencies, environment, user, process group and log are a service's.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use backstop_api::{EventKind, JobResult, JobRunReport, JobStatus, ServiceState};
use backstop_config::{Concurrency, JobSpec};
use tokio::time::Instant;

use crate::machine::Input;
use crate::output::OutputTail;

use super::{Internal, Supervisor};

/// How long a run's event waits for its output pipes to end (a process it
/// left behind may hold them open).
const OUTPUT_WAIT: Duration = Duration::from_secs(2);

/// What started a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Trigger {
    /// Its schedule.
    Schedule,
    /// `backstop run-job` or the API.
    Manual,
    /// It waited for the previous run (`concurrency = "queue"`).
    Queued,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Self::Schedule => "schedule",
            Self::Manual => "manual",
            Self::Queued => "queued",
        }
    }
}

/// The run under way.
#[derive(Debug)]
struct CurrentRun {
    number: u64,
    trigger: Trigger,
    started_wall: SystemTime,
    started: Instant,
    timed_out: bool,
    /// Set when its service came to rest: succeeded, and how it ended;
    /// the run is recorded once its output has been read to its end.
    ended: Option<(bool, String)>,
}

/// A job's schedule and record, kept by the supervisor.
#[derive(Debug)]
pub(super) struct JobRuntime {
    pub(super) spec: JobSpec,
    /// The run's last lines, filled by the capture thread.
    pub(super) tail: Arc<OutputTail>,
    next_due: Option<SystemTime>,
    due_at: Option<Instant>,
    queued: bool,
    current: Option<CurrentRun>,
    last: Option<JobRunReport>,
    last_success: Option<SystemTime>,
    /// Since when a successful run is expected (the first due time after
    /// the last success).
    expected_since: Option<SystemTime>,
    missed: bool,
    runs: u64,
    failures: u64,
    skipped: u64,
}

impl JobRuntime {
    pub(super) fn new(spec: JobSpec) -> Self {
        let mut job = Self {
            spec,
            tail: Arc::default(),
            next_due: None,
            due_at: None,
            queued: false,
            current: None,
            last: None,
            last_success: None,
            expected_since: None,
            missed: false,
            runs: 0,
            failures: 0,
            skipped: 0,
        };
        job.plan_next(SystemTime::now(), Instant::now());
        job.expected_since = job.next_due;
        job
    }

    /// A reload changed the job: the new schedule applies from now.
    pub(super) fn reconfigure(&mut self, spec: JobSpec) {
        if spec != self.spec {
            self.spec = spec;
            self.plan_next(SystemTime::now(), Instant::now());
        }
    }

    fn plan_next(&mut self, after: SystemTime, now: Instant) {
        self.next_due = self.spec.schedule.next_after(after);
        self.due_at = self.next_due.map(|due| {
            now + due
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        });
    }

    fn timeout_at(&self) -> Option<Instant> {
        let run = self
            .current
            .as_ref()
            .filter(|r| !r.timed_out && r.ended.is_none())?;
        self.spec.timeout.map(|t| run.started + t)
    }

    fn missed_at(&self, now: Instant) -> Option<Instant> {
        if self.missed {
            return None;
        }
        let since = self.expected_since?;
        let at = since + self.spec.missed_after;
        Some(
            now + at
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO),
        )
    }

    /// Every time the loop must wake for this job.
    pub(super) fn deadlines(&self, now: Instant) -> impl Iterator<Item = Instant> {
        [self.due_at, self.timeout_at(), self.missed_at(now)]
            .into_iter()
            .flatten()
    }
}

fn stamp(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

impl Supervisor {
    /// Starts the runs that are due, stops the runs past their timeout,
    /// raises `job-missed`.
    pub(super) fn on_job_deadlines(&mut self, now: Instant) {
        for i in 0..self.services.len() {
            let Some(job) = self.services[i].job.as_mut() else {
                continue;
            };
            if job.due_at.is_some_and(|d| d <= now) {
                let due = job.next_due.unwrap_or_else(SystemTime::now);
                job.plan_next(due.max(SystemTime::now()), now);
                self.trigger_job(i, Trigger::Schedule, now);
            }
            let job = self.services[i].job.as_mut().expect("UNWRAP: a job");
            if job.timeout_at().is_some_and(|t| t <= now) {
                if let Some(run) = job.current.as_mut() {
                    run.timed_out = true;
                }
                self.feed(i, Input::Stop, now);
            }
            let job = self.services[i].job.as_mut().expect("UNWRAP: a job");
            if job.missed_at(now).is_some_and(|t| t <= now) {
                job.missed = true;
                let since = job.expected_since.map(stamp).unwrap_or_default();
                let after = humantime::format_duration(job.spec.missed_after);
                let last = job
                    .last_success
                    .map_or_else(|| "never since the daemon started".to_string(), stamp);
                let name = self.services[i].config.name.clone();
                self.event(
                    Some(&name),
                    EventKind::JobMissed,
                    format!(
                        "{name}: no successful run within {after} of being due at {since} (last success: {last})"
                    ),
                );
            }
        }
    }

    /// Starts a run of job `i` now, unless one goes on: then the run is
    /// skipped or queued (`concurrency`). Returns what happened, in words.
    pub(super) fn trigger_job(&mut self, i: usize, trigger: Trigger, now: Instant) -> String {
        let name = self.services[i].config.name.clone();
        let busy = self.services[i]
            .job
            .as_ref()
            .is_some_and(|j| j.current.is_some())
            || self.services[i].state().is_active()
            || self.services[i].state() == ServiceState::Pending;
        let job = self.services[i].job.as_mut().expect("UNWRAP: a job");
        if busy {
            let since = job.current.as_ref().map_or_else(String::new, |r| {
                format!(
                    " (run #{} started {} ago)",
                    r.number,
                    humantime::format_duration(Duration::from_secs(r.started.elapsed().as_secs()))
                )
            });
            let message = match (job.spec.concurrency, trigger) {
                (Concurrency::Queue, _) | (_, Trigger::Manual) => {
                    job.queued = true;
                    format!(
                        "{name}: a run is due while the previous one goes on{since}; it starts when that one ends"
                    )
                }
                (Concurrency::Skip, _) => {
                    job.skipped += 1;
                    format!(
                        "{name}: run skipped: the previous one still goes on{since} (concurrency = \"skip\")"
                    )
                }
            };
            self.event(Some(&name), EventKind::JobSkipped, message.clone());
            return message;
        }
        job.runs += 1;
        let number = job.runs;
        // No lines, no pipes yet: a run that cannot start quotes nothing
        // of the run before it (the spawn opens its two pipes).
        job.tail.begin(0);
        job.current = Some(CurrentRun {
            number,
            trigger,
            started_wall: SystemTime::now(),
            started: now,
            timed_out: false,
            ended: None,
        });
        let message = format!("{name}: run #{number} started ({})", trigger.as_str());
        self.event(Some(&name), EventKind::JobStarted, message.clone());
        self.feed(i, Input::Start, now);
        message
    }

    /// Job `i`'s service came to rest in `state`: the run under way ended.
    /// Its record waits for the end of its output.
    pub(super) fn job_settled(&mut self, i: usize, state: ServiceState) {
        let s = &self.services[i];
        let Some(run) = s.job.as_ref().and_then(|j| j.current.as_ref()) else {
            return;
        };
        if run.ended.is_some() {
            return;
        }
        let spawned_this_run = s.exits.back().filter(|e| {
            humantime::parse_rfc3339_weak(&e.at)
                .is_ok_and(|at| at + Duration::from_secs(1) >= run.started_wall)
        });
        let timeout = s
            .job
            .as_ref()
            .and_then(|j| j.spec.timeout)
            .unwrap_or_default();
        let ended = if run.timed_out {
            (
                false,
                format!("timed out after {}", humantime::format_duration(timeout)),
            )
        } else {
            match state {
                ServiceState::Exited => (true, "exit 0".to_string()),
                ServiceState::Stopped => (false, "stopped before it ended".to_string()),
                _ => match (spawned_this_run, s.machine.failure()) {
                    (Some(exit), _) => (false, exit.describe().replace("code ", "exit ")),
                    (None, Some(why)) => (false, format!("could not start: {why}")),
                    (None, None) => (false, format!("ended as {state}")),
                },
            }
        };
        let number = run.number;
        let tail = s.job.as_ref().expect("UNWRAP: a job").tail.clone();
        if let Some(run) = self.services[i]
            .job
            .as_mut()
            .and_then(|j| j.current.as_mut())
        {
            run.ended = Some(ended);
        }
        let service = self.services[i].config.name.clone();
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let lines = tail.finished(OUTPUT_WAIT).await;
            let _ = tx.send(Internal::JobOutput {
                service,
                run: number,
                lines,
            });
        });
    }

    /// The output of run `number` of job `i` has ended: record the run.
    pub(super) fn job_recorded(&mut self, i: usize, number: u64, lines: &[String], now: Instant) {
        let redacted: Vec<String> = lines.iter().map(|l| self.events.redact(l)).collect();
        let name = self.services[i].config.name.clone();
        let Some(job) = self.services[i].job.as_mut() else {
            return;
        };
        let Some(run) = job
            .current
            .take_if(|r| r.number == number && r.ended.is_some())
        else {
            return;
        };
        let (succeeded, ended) = run.ended.expect("UNWRAP: checked above");
        let took = run.started.elapsed();
        let took_words = humantime::format_duration(Duration::from_millis(took.as_millis() as u64));
        job.last = Some(JobRunReport {
            result: if succeeded {
                JobResult::Succeeded
            } else {
                JobResult::Failed
            },
            trigger: run.trigger.as_str().to_string(),
            started: stamp(run.started_wall),
            duration_ms: took.as_millis() as u64,
            ended: ended.clone(),
            output: redacted,
        });
        let (kind, message) = if succeeded {
            let was_missed = std::mem::take(&mut job.missed);
            job.last_success = Some(SystemTime::now());
            job.expected_since = job.next_due;
            let again = if was_missed {
                " (no longer missed)"
            } else {
                ""
            };
            (
                EventKind::JobSucceeded,
                format!("{name}: run #{number} succeeded in {took_words}{again}"),
            )
        } else {
            job.failures += 1;
            let last = lines
                .last()
                .map_or_else(String::new, |l| format!("; last output: {}", l.trim()));
            (
                EventKind::JobFailed,
                format!("{name}: run #{number} failed after {took_words} ({ended}){last}"),
            )
        };
        self.event(Some(&name), kind, message);
        let job = self.services[i].job.as_mut().expect("UNWRAP: a job");
        if std::mem::take(&mut job.queued) && !self.shutting_down {
            self.trigger_job(i, Trigger::Queued, now);
        }
    }

    /// What `status` and `backstop jobs` show of job `i`.
    pub(super) fn job_status(&self, i: usize) -> Option<JobStatus> {
        let s = &self.services[i];
        let job = s.job.as_ref()?;
        let live = s.main.as_ref().filter(|m| m.alive);
        Some(JobStatus {
            name: s
                .config
                .name
                .strip_prefix(backstop_config::JOB_PREFIX)
                .unwrap_or(&s.config.name)
                .to_string(),
            runs_as: s.config.name.clone(),
            schedule: job.spec.schedule.describe(),
            state: s.state(),
            pid: live.map(|m| m.pid as u32),
            running_since: job.current.as_ref().map(|r| stamp(r.started_wall)),
            next_run: job.next_due.map(stamp),
            last_run: job.last.clone(),
            last_success: job.last_success.map(stamp),
            runs: job.runs,
            failures: job.failures,
            skipped: job.skipped,
            queued: job.queued,
            missed: job.missed,
        })
    }
}
