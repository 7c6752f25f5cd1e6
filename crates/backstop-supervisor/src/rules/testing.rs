//! Plain service definitions for the rules' and the machine's unit tests.

use std::time::Duration;

use backstop_config::{
    HealthCheck, OnFailure, Probe, RestartConfig, ServiceConfig, StopConfig, StopMode, StopSignal,
};

/// A service running `true`, with every default.
pub(crate) fn service(name: &str) -> ServiceConfig {
    ServiceConfig {
        name: name.into(),
        command: vec!["true".into()],
        dir: "/".into(),
        env: backstop_config::EnvVars::default(),
        env_file: None,
        user: None,
        group: None,
        stop: StopConfig {
            signal: StopSignal::default(),
            timeout: Duration::from_secs(10),
            mode: StopMode::Group,
        },
        depends_on: vec![],
        restart: RestartConfig::default(),
        port: None,
        startup: None,
        health: vec![],
        logs: backstop_config::LogSettings::default(),
        preflight: vec![],
    }
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
