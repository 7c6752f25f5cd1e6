//! Plain service definitions for the rules' and the machine's unit tests.

use std::time::Duration;

use backstop_config::{HealthCheck, OnFailure, Probe, ServiceConfig};

/// A service running `true`, with every default.
pub(crate) fn service(name: &str) -> ServiceConfig {
    ServiceConfig::new(name, vec!["true".into()], "/".into())
}

/// An exec readiness check running `command` through `sh -c`.
pub(crate) fn exec_check(command: &str) -> HealthCheck {
    HealthCheck {
        name: "exec".into(),
        probe: Probe::Exec {
            command: vec!["sh".into(), "-c".into(), command.into()],
        },
        interval: Duration::from_secs(10),
        timeout: Duration::from_secs(2),
        failures: 3,
        successes: 1,
        on_failure: OnFailure::Report,
    }
}
