//! `limits = { … }` on a service: the everyday form of resource limits.
//!
//! `memory_warn`, `memory_max`, `cpu_warn` and `cpu_for` are watched by
//! backstop's sampler of the service's process tree (the `process` health
//! check is the general form; `limits` adds one, named `limits`): above a
//! warning the service is `degraded` with the figure, above `memory_max`
//! it is restarted with the figure in the event. `nofile` is set as
//! `RLIMIT_NOFILE` at each spawn. In cgroup mode the kernel also holds
//! `memory_max` (the cgroup's hard limit), `cpu_max` (a CPU quota) and
//! `pids_max`; without cgroups `cpu_max` and `pids_max` are not enforced
//! (`status SERVICE` says so).

use std::time::Duration;

/// A service's `limits`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Limits {
    /// Resident memory of the whole tree (bytes) above which it is degraded.
    pub memory_warn: Option<u64>,
    /// Resident memory (bytes) above which it is restarted.
    pub memory_max: Option<u64>,
    /// CPU (percent of one core) above which, for `cpu_for`, it is degraded.
    pub cpu_warn: Option<f64>,
    /// How long `cpu_warn` must hold (default 1 min).
    pub cpu_for: Option<Duration>,
    /// A kernel CPU quota (percent of one core): cgroup mode only.
    pub cpu_max: Option<f64>,
    /// A kernel limit on the number of processes: cgroup mode only.
    pub pids_max: Option<u64>,
    /// `RLIMIT_NOFILE` of its processes (soft and hard).
    pub nofile: Option<u64>,
}

impl Limits {
    /// The sampler's thresholds, when any is set.
    pub fn sampled(&self) -> Option<crate::health::ProcessLimits> {
        (self.memory_warn.is_some() || self.memory_max.is_some() || self.cpu_warn.is_some()).then(
            || crate::health::ProcessLimits {
                memory_warn: self.memory_warn,
                memory_max: self.memory_max,
                cpu_warn: self.cpu_warn,
                cpu_for: self.cpu_for.unwrap_or(Duration::from_secs(60)),
                // Leak detection stays with the `process` check.
                leak_window: Duration::ZERO,
            },
        )
    }

    /// The health check that watches the sampled limits, named `limits`.
    pub fn check(&self) -> Option<crate::health::HealthCheck> {
        Some(crate::health::HealthCheck {
            name: "limits".to_string(),
            probe: crate::health::Probe::Process(self.sampled()?),
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
            failures: 1,
            successes: 1,
            on_failure: crate::health::OnFailure::Report,
        })
    }
}
