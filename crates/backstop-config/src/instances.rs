//! `instances = N`: one declared service run as N supervised copies,
//! `api.1` … `api.N`, each with its own process, log, checks and state.
//!
//! Each copy gets `BACKSTOP_INSTANCE` (1…N) in its environment and, when
//! the service declares `port`, the port `port + i - 1` (as `PORT` unless
//! its env sets one, and as `BACKSTOP_PORT`); a check aimed at the declared
//! port follows the copy's port. `${BACKSTOP_INSTANCE}` and
//! `${BACKSTOP_PORT}` in the command, env and checks are the copy's own.
//! A `depends_on` naming the service means every copy.
//!
//! The declared services stay in [`crate::Config::declared`]; expanding
//! them again with another count is how `backstop scale` works.

use crate::health::Probe;
use crate::model::{Dependency, ServiceConfig};

/// Which copy of a service with `instances` this is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// The declared service's name: `api`.
    pub group: String,
    /// 1 … N.
    pub index: u32,
}

/// The most copies one service may have.
pub const MAX_INSTANCES: u32 = 256;

/// The variables every service may use in its command, env and checks,
/// filled in per copy (not from backstop's environment).
pub const INSTANCE_VARIABLES: &[&str] = &["BACKSTOP_INSTANCE", "BACKSTOP_PORT"];

/// Whether `name` is `group` or one of its copies (`api.2`), whether the
/// file declares the copy or `backstop scale` made it (a copy's name may
/// not be another service's: the loader refuses that).
pub fn is_copy_of(name: &str, group: &str) -> bool {
    name == group
        || name
            .strip_prefix(group)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|n| n.parse::<u32>().is_ok())
}

/// The services to run for `declared`: each one as it is, or its copies.
pub(crate) fn expand(declared: &[ServiceConfig]) -> Vec<ServiceConfig> {
    let members = |name: &str| -> Vec<String> {
        declared
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| {
                s.instances
                    .map(|n| (1..=n).map(|i| format!("{name}.{i}")).collect())
            })
            .unwrap_or_else(|| vec![name.to_string()])
    };
    let mut out = Vec::new();
    for s in declared {
        let depends_on: Vec<Dependency> = s
            .depends_on
            .iter()
            .flat_map(|d| {
                members(&d.service).into_iter().map(|service| Dependency {
                    service,
                    condition: d.condition,
                })
            })
            .collect();
        match s.instances {
            None => {
                let mut one = s.clone();
                one.depends_on = depends_on;
                fill(&mut one, 1, s.port);
                out.push(one);
            }
            Some(n) => {
                for i in 1..=n {
                    let mut copy = s.clone();
                    copy.name = format!("{}.{i}", s.name);
                    copy.depends_on.clone_from(&depends_on);
                    copy.instance = Some(Instance {
                        group: s.name.clone(),
                        index: i,
                    });
                    let port = s
                        .port
                        .and_then(|p| p.checked_add(u16::try_from(i - 1).ok()?));
                    copy.port = port;
                    copy.env
                        .0
                        .insert("BACKSTOP_INSTANCE".to_string(), i.to_string());
                    if let Some(p) = port {
                        copy.env
                            .0
                            .entry("PORT".to_string())
                            .or_insert_with(|| p.to_string());
                        copy.env
                            .0
                            .insert("BACKSTOP_PORT".to_string(), p.to_string());
                    }
                    retarget_checks(&mut copy, s.port, port);
                    fill(&mut copy, i, port);
                    out.push(copy);
                }
            }
        }
    }
    out
}

/// `${BACKSTOP_INSTANCE}` and `${BACKSTOP_PORT}` in the command, env and
/// checks of copy `i`.
fn fill(s: &mut ServiceConfig, i: u32, port: Option<u16>) {
    let index = i.to_string();
    let port = port.map(|p| p.to_string());
    let put = |text: &mut String| {
        if !text.contains("${BACKSTOP_") {
            return;
        }
        let mut t = text.replace("${BACKSTOP_INSTANCE}", &index);
        if let Some(p) = &port {
            t = t.replace("${BACKSTOP_PORT}", p);
        }
        *text = t;
    };
    s.command.iter_mut().for_each(put);
    s.env.0.values_mut().for_each(put);
    s.preflight.iter_mut().for_each(put);
    for hook in [&mut s.pre_start, &mut s.post_stop].into_iter().flatten() {
        hook.command.iter_mut().for_each(put);
    }
    if let Some(c) = &mut s.stop.command {
        c.iter_mut().for_each(put);
    }
    for check in &mut s.health {
        match &mut check.probe {
            Probe::Http(h) => put(&mut h.url),
            Probe::Tcp { address } => put(address),
            Probe::Exec { command } => command.iter_mut().for_each(put),
            _ => {}
        }
    }
}

/// A check aimed at the declared port (`http://127.0.0.1:8000/health`)
/// aims at the copy's port instead.
fn retarget_checks(s: &mut ServiceConfig, declared: Option<u16>, port: Option<u16>) {
    let (Some(from), Some(to)) = (declared, port) else {
        return;
    };
    if from == to {
        return;
    }
    let retarget = |text: &mut String| {
        let needle = format!(":{from}");
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(at) = rest.find(&needle) {
            let after = &rest[at + needle.len()..];
            out.push_str(&rest[..at]);
            // `:8000` itself, not the start of `:80001` or of a path.
            if after.starts_with(|c: char| c.is_ascii_digit()) {
                out.push_str(&needle);
            } else {
                out.push(':');
                out.push_str(&to.to_string());
            }
            rest = after;
        }
        out.push_str(rest);
        *text = out;
    };
    for check in &mut s.health {
        match &mut check.probe {
            Probe::Http(h) => retarget(&mut h.url),
            Probe::Tcp { address } => retarget(address),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DependencyCondition;

    fn service(name: &str, command: &str) -> ServiceConfig {
        ServiceConfig::new(
            name,
            command.split(' ').map(str::to_string).collect(),
            "/srv".into(),
        )
    }

    #[test]
    fn copies_are_named_numbered_and_given_their_port() {
        let mut api = service(
            "api",
            "serve --port ${BACKSTOP_PORT} --id ${BACKSTOP_INSTANCE}",
        );
        api.instances = Some(3);
        api.port = Some(8000);
        api.health.push(crate::health::HealthCheck {
            name: "tcp".into(),
            probe: Probe::Tcp {
                address: "127.0.0.1:8000".into(),
            },
            interval: std::time::Duration::from_secs(1),
            timeout: std::time::Duration::from_secs(1),
            failures: 1,
            successes: 1,
            on_failure: crate::health::OnFailure::Report,
        });
        let mut web = service("web", "nginx");
        web.depends_on.push(Dependency {
            service: "api".into(),
            condition: DependencyCondition::Healthy,
        });
        let out = expand(&[api, web]);
        let names: Vec<&str> = out.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["api.1", "api.2", "api.3", "web"]);
        let third = &out[2];
        assert_eq!(third.port, Some(8002));
        assert_eq!(third.command, ["serve", "--port", "8002", "--id", "3"]);
        assert_eq!(third.env.0["BACKSTOP_INSTANCE"], "3");
        assert_eq!(third.env.0["PORT"], "8002");
        assert_eq!(
            third.health[0].probe,
            Probe::Tcp {
                address: "127.0.0.1:8002".into()
            }
        );
        assert_eq!(
            third.instance,
            Some(Instance {
                group: "api".into(),
                index: 3
            })
        );
        let deps: Vec<&str> = out[3]
            .depends_on
            .iter()
            .map(|d| d.service.as_str())
            .collect();
        assert_eq!(deps, ["api.1", "api.2", "api.3"]);
    }

    #[test]
    fn a_service_without_instances_is_itself() {
        let mut one = service("worker", "run ${BACKSTOP_INSTANCE}");
        one.env.0.insert("X".into(), "a".into());
        let out = expand(std::slice::from_ref(&one));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].name, "worker");
        assert_eq!(out[0].command, ["run", "1"]);
        assert_eq!(out[0].instance, None);
    }

    #[test]
    fn a_copy_is_named_after_its_service() {
        assert!(is_copy_of("api", "api") && is_copy_of("api.12", "api"));
        assert!(!is_copy_of("api.x", "api") && !is_copy_of("apis.1", "api"));
        assert!(!is_copy_of("api", "api.1"));
    }

    #[test]
    fn an_env_port_is_the_users_own() {
        let mut api = service("api", "serve");
        api.instances = Some(2);
        api.port = Some(9000);
        api.env.0.insert("PORT".into(), "1234".into());
        let out = expand(&[api]);
        assert_eq!(out[1].env.0["PORT"], "1234");
        assert_eq!(out[1].env.0["BACKSTOP_PORT"], "9001");
    }
}
