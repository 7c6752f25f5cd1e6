//! Requests from the API: status, start/stop/restart, reload, shutdown.

use super::reporting::measured;
use super::usage::add_readings;
use backstop_api::{
    ActError, ActionOutcome, Control, EventKind, ReloadOutcome, ScaleError, ServiceAction,
    ServiceState,
};
use tokio::time::Instant;

use crate::machine::Input;

use backstop_diagnose::redact::Redactor;

use super::{Service, Supervisor, redact_with};

impl Supervisor {
    pub(super) fn on_control(&mut self, msg: Control) {
        match msg {
            Control::Status { reply } => {
                let mut report = self.report();
                let missing = self.fill_usage(&mut report.services, Instant::now());
                if missing.is_empty() {
                    let _ = reply.send(report);
                    return;
                }
                let internal = self.internal_tx.clone();
                measured(missing, move |readings| {
                    add_readings(&mut report.services, &readings);
                    let _ = reply.send(report);
                    let _ = internal.send(super::Internal::Usage {
                        readings,
                        whole: false,
                    });
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
                // One service: measured now, its CPU % from the samples.
                let mut status = [self.status_of(i, true)];
                let trees: Vec<_> = self.services[i].tree().into_iter().collect();
                if let Some(t) = trees.first() {
                    status[0].cpu_percent = self.usage.cpu_percent(&name, t.process);
                }
                measured(trees, move |readings| {
                    add_readings(&mut status, &readings);
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
            Control::Scale {
                name,
                instances,
                reply,
            } => {
                let _ = reply.send(self.scale(&name, instances));
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
            Control::Diagnosed {
                service,
                verdict,
                reply,
            } => {
                if let Some(i) = self.index(&service) {
                    self.services[i].diagnosis = Some(verdict);
                }
                let _ = reply.send(());
            }
            Control::Fixing { service, doing } => {
                if let Some(i) = self.index(&service) {
                    self.services[i].fixing = doing;
                }
            }
            Control::RotateLogs {
                service,
                above,
                reply,
            } => self.logs.rotate_now(&service, above, reply),
            Control::Shutdown { reply } => {
                self.begin_shutdown("shutdown requested");
                let _ = reply.send(());
            }
        }
    }

    pub(super) fn act(
        &mut self,
        name: &str,
        action: ServiceAction,
    ) -> Result<ActionOutcome, ActError> {
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
        if self.services[i].job.is_some() && action != ServiceAction::Stop {
            // A job's start is a run, recorded as one.
            let said = self.trigger_job(i, super::jobs::Trigger::Manual, now);
            self.event(
                Some(name),
                EventKind::Request,
                format!("{name}: run requested: {said}"),
            );
            return Ok(ActionOutcome {
                service: name.to_string(),
                state: self.services[i].state(),
            });
        }
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

    /// `backstop scale NAME N`: the config with `NAME` run as N copies,
    /// applied as a reload would; kept over reloads until the file's
    /// `instances` of it changes.
    pub(super) fn scale(
        &mut self,
        name: &str,
        instances: u32,
    ) -> Result<ReloadOutcome, ScaleError> {
        if self.shutting_down {
            return Err(ScaleError::ShuttingDown);
        }
        if !(1..=backstop_config::MAX_INSTANCES).contains(&instances) {
            return Err(ScaleError::OutOfRange {
                instances,
                max: backstop_config::MAX_INSTANCES,
            });
        }
        let Some(declared) = self.config.declared.iter().find(|s| s.name == name) else {
            if let Some(group) = self
                .config
                .service(name)
                .and_then(|s| s.instance.as_ref())
                .map(|i| i.group.clone())
            {
                return Err(ScaleError::Copy {
                    name: name.to_string(),
                    group,
                });
            }
            return Err(ScaleError::NoSuchService {
                name: name.to_string(),
                known: self
                    .config
                    .declared
                    .iter()
                    .map(|s| s.name.clone())
                    .collect(),
            });
        };
        let in_file = declared.instances;
        let new = self
            .config
            .scaled(name, instances)
            .expect("UNWRAP: the service is declared");
        self.scales.insert(name.to_string(), (in_file, instances));
        Ok(self.run_config(new, &format!("{name} scaled to {instances}")))
    }

    pub(super) fn reload(&mut self) -> Result<ReloadOutcome, String> {
        let loaded = backstop_config::load(&self.config.path).map_err(|e| e.render(false))?;
        let mut new = loaded.config;
        // A `backstop scale` holds until the file says otherwise.
        self.scales.retain(|name, (in_file, _)| {
            new.declared
                .iter()
                .any(|s| s.name == *name && s.instances == *in_file)
        });
        for (name, (_, n)) in &self.scales {
            if let Some(scaled) = new.scaled(name, *n) {
                new = scaled;
            }
        }
        Ok(self.run_config(new, "config reloaded"))
    }

    /// Runs `new` in place of the current config: starts what was added,
    /// stops what was removed, restarts what changed; `what` begins the
    /// event that says so.
    fn run_config(&mut self, new: backstop_config::Config, what: &str) -> ReloadOutcome {
        // First, so that the events of this reload are masked with the new
        // config's secrets (and still the old config's).
        let mut redactor = Redactor::for_config(&new);
        redactor.absorb(&self.redactor);
        self.redactor = redactor;
        self.events.set_redact(redact_with(&self.redactor));
        let plan = crate::rules::reload::plan(&self.config.services, &new.services);
        let now = Instant::now();
        for service in &new.services {
            let name = &service.name;
            let Some(i) = self.index(name) else {
                let color = self.services.len();
                self.services.push(Service::new(service.clone(), color));
                // A job runs on its schedule, not at once.
                if !self.shutting_down && !service.is_job() {
                    self.feed(self.services.len() - 1, Input::Start, now);
                }
                continue;
            };
            let s = &mut self.services[i];
            s.removed = false;
            s.config = service.clone();
            s.machine.reconfigure(service);
            if let (Some(job), Some(spec)) = (s.job.as_mut(), &service.job) {
                // A run under way ends as it began; the next one is the new config's.
                job.reconfigure(spec.clone());
                continue;
            }
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
        self.error_patterns.clear();
        self.config = new;
        self.reloads += 1;
        self.arm_checks(Instant::now());
        self.rewatch();
        self.event(
            None,
            EventKind::Reload,
            format!(
                "{what}: added {:?}, removed {:?}, restarted {:?}, updated in place {:?}",
                outcome.added, outcome.removed, outcome.changed, outcome.updated
            ),
        );
        outcome
    }
}
