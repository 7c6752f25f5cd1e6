//! What a reload changes, service by service.
//!
//! A service whose program, arguments, environment, user, directory, port
//! or dependencies changed needs a new process: it is restarted. Anything
//! else a running service takes as it is, without a restart: log settings,
//! health checks (their runners are rebuilt), the startup grace, the restart
//! and stop policies. Services only in the new config are added (and
//! started), services only in the old one removed (and stopped).

use backstop_config::ServiceConfig;

/// What a reload does to each service, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReloadPlan {
    /// New services, to start.
    pub added: Vec<String>,
    /// Services no longer in the config, to stop and forget.
    pub removed: Vec<String>,
    /// Services whose process must be replaced.
    pub restart: Vec<String>,
    /// Services that take their new settings while running.
    pub updated: Vec<String>,
    /// Services (restarted or updated) whose health checks changed.
    pub checks_changed: Vec<String>,
}

/// Compares the running definitions with the new ones.
pub fn plan(old: &[ServiceConfig], new: &[ServiceConfig]) -> ReloadPlan {
    let mut plan = ReloadPlan::default();
    for n in new {
        let Some(o) = old.iter().find(|o| o.name == n.name) else {
            plan.added.push(n.name.clone());
            continue;
        };
        if !o.same_process(n) {
            plan.restart.push(n.name.clone());
        } else if o != n {
            plan.updated.push(n.name.clone());
        }
        if o.health != n.health {
            plan.checks_changed.push(n.name.clone());
        }
    }
    plan.removed = old
        .iter()
        .filter(|o| !new.iter().any(|n| n.name == o.name))
        .map(|o| o.name.clone())
        .collect();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::service;
    use std::time::Duration;

    #[test]
    fn a_new_command_restarts_a_new_check_does_not() {
        let old = vec![service("api"), service("worker"), service("gone")];
        let mut api = service("api");
        api.command = vec!["sleep".into(), "2".into()];
        let mut worker = service("worker");
        worker.health = vec![crate::rules::testing::exec_check("true")];
        worker.restart.max_restarts = 99;
        let new = vec![api, worker, service("added")];
        assert_eq!(
            plan(&old, &new),
            ReloadPlan {
                added: vec!["added".into()],
                removed: vec!["gone".into()],
                restart: vec!["api".into()],
                updated: vec!["worker".into()],
                checks_changed: vec!["worker".into()],
            }
        );
    }

    #[test]
    fn removing_a_check_is_a_check_change() {
        let mut old = service("api");
        old.health = vec![crate::rules::testing::exec_check("true")];
        let plan = plan(&[old], &[service("api")]);
        assert_eq!(plan.checks_changed, vec!["api".to_string()]);
        assert!(plan.restart.is_empty());
    }

    #[test]
    fn stop_and_startup_apply_in_place_env_restarts() {
        let mut stop = service("api");
        stop.stop.timeout = Duration::from_secs(99);
        stop.startup = Some(Duration::from_secs(60));
        let mut env = service("api");
        env.env.0.insert("MODE".into(), "fast".into());
        assert_eq!(plan(&[service("api")], &[stop]).updated, vec!["api"]);
        assert_eq!(plan(&[service("api")], &[env]).restart, vec!["api"]);
        assert_eq!(
            plan(&[service("api")], &[service("api")]),
            ReloadPlan::default()
        );
    }
}
