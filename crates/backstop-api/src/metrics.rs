//! `GET /metrics`: the Prometheus text exposition, built from a status
//! report at each scrape (prometheus-client does the encoding).
//!
//! Metric names are stable; every service metric has a `service` label.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::types::{Health, ServiceState, StatusReport};

type Labels = Vec<(String, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;

const STATES: &[ServiceState] = &[
    ServiceState::Pending,
    ServiceState::Starting,
    ServiceState::Running,
    ServiceState::Backoff,
    ServiceState::CrashLoop,
    ServiceState::StartupTimeout,
    ServiceState::Stopping,
    ServiceState::Stopped,
    ServiceState::Exited,
    ServiceState::Failed,
];
const HEALTHS: &[Health] = &[
    Health::Healthy,
    Health::Degraded,
    Health::Unhealthy,
    Health::Unknown,
];

fn service(name: &str) -> Labels {
    vec![("service".to_string(), name.to_string())]
}

fn with(mut labels: Labels, key: &str, value: &str) -> Labels {
    labels.push((key.to_string(), value.to_string()));
    labels
}

fn family<
    M: Default
        + prometheus_client::metrics::TypedMetric
        + prometheus_client::encoding::EncodeMetric
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
>(
    registry: &mut Registry,
    name: &str,
    help: &str,
) -> Family<Labels, M> {
    let f = Family::<Labels, M>::default();
    registry.register(name, help, f.clone());
    f
}

type HistogramFamily = Family<
    Labels,
    prometheus_client::metrics::histogram::Histogram,
    fn() -> prometheus_client::metrics::histogram::Histogram,
>;

/// Probe latencies, observed by the supervisor at each run (the status
/// only holds the last one). Clones share the same histograms.
#[derive(Clone, Debug)]
pub struct ProbeLatency(HistogramFamily);

impl Default for ProbeLatency {
    fn default() -> Self {
        // 1 ms to about 15 s.
        Self(Family::new_with_constructor(|| {
            prometheus_client::metrics::histogram::Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.001, 2.5, 11),
            )
        }))
    }
}

impl ProbeLatency {
    /// Records one run of `check` (of `service`, or a `[checks]` entry).
    pub fn observe(&self, service: Option<&str>, check: &str, seconds: f64) {
        let mut labels = Vec::with_capacity(2);
        if let Some(s) = service {
            labels.push(("service".to_string(), s.to_string()));
        }
        labels.push(("check".to_string(), check.to_string()));
        self.0.get_or_create(&labels).observe(seconds);
    }
}

/// Counts kept from the event bus, for what the status does not hold.
#[derive(Debug, Default)]
pub struct EventCounters {
    /// Alert notifications delivered.
    pub alerts_sent: std::sync::atomic::AtomicU64,
    /// Alert notifications given up on.
    pub alerts_failed: std::sync::atomic::AtomicU64,
    /// Incidents that started.
    pub alerts_fired: std::sync::atomic::AtomicU64,
    /// Times service output was lost (full disk, writer behind).
    pub log_losses: std::sync::atomic::AtomicU64,
    /// Playbooks run (not dry runs), by service, playbook and result.
    remediations: Family<Labels, Counter>,
}

impl EventCounters {
    /// Counts `kind` if it is one of ours.
    pub fn count(&self, kind: &crate::EventKind) {
        use crate::EventKind;
        let counter = match kind {
            EventKind::AlertSent => &self.alerts_sent,
            EventKind::AlertFailed => &self.alerts_failed,
            EventKind::AlertFired => &self.alerts_fired,
            EventKind::LogDropped => &self.log_losses,
            _ => return,
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Counts one run of `playbook` on `service`: `ok` when every step
    /// (verification included) passed.
    pub fn count_remediation(&self, name: &str, playbook: &str, ok: bool) {
        let labels = with(
            with(service(name), "playbook", playbook),
            "result",
            if ok { "ok" } else { "failed" },
        );
        self.remediations.get_or_create(&labels).inc();
    }
}

/// The exposition for `report`; `own_rss` is backstop's own resident size.
pub fn render(
    report: &StatusReport,
    own_rss: u64,
    counted: &EventCounters,
    latency: &ProbeLatency,
) -> String {
    let mut r = Registry::with_prefix("backstop");
    r.register(
        "remediations",
        "Remediation playbooks run, by service, playbook and result (ok: every step and the verification passed)",
        counted.remediations.clone(),
    );
    r.register(
        "check_duration_seconds",
        "How long each check run took",
        latency.0.clone(),
    );
    let up: Family<Labels, Gauge> = family(
        &mut r,
        "service_up",
        "1 while the service's main process runs",
    );
    let state: Family<Labels, Gauge> = family(
        &mut r,
        "service_state",
        "1 for the service's current state, 0 for the others",
    );
    let health: Family<Labels, Gauge> = family(
        &mut r,
        "service_health",
        "1 for the service's current health, 0 for the others",
    );
    let restarts: Family<Labels, Counter> = family(
        &mut r,
        "service_restarts",
        "Restarts since the service was last started by hand",
    );
    let uptime: Family<Labels, Gauge> = family(
        &mut r,
        "service_uptime_seconds",
        "Seconds since the current process started",
    );
    let memory: Family<Labels, Gauge> = family(
        &mut r,
        "service_memory_bytes",
        "Resident memory of the service's whole process tree",
    );
    let exits: Family<Labels, Counter> = family(
        &mut r,
        "service_exits",
        "Exits since the daemon started, by reason (code N or the signal)",
    );
    let cpu: Family<Labels, FloatGauge> = family(
        &mut r,
        "service_cpu_seconds",
        "CPU seconds used: by the service's cgroup since backstop made it (cgroup mode), or by the live processes of its tree",
    );
    let lines: Family<Labels, Counter> = family(
        &mut r,
        "service_log_lines",
        "Output lines captured since the daemon started",
    );
    let errors: Family<Labels, Counter> = family(
        &mut r,
        "service_error_lines",
        "Error incidents in the output (a stack trace counts once)",
    );
    let errors_minute: Family<Labels, Gauge> = family(
        &mut r,
        "service_error_lines_last_minute",
        "Error incidents in the last 60 seconds",
    );
    let check_up: Family<Labels, Gauge> = family(
        &mut r,
        "check_passing",
        "1 when the check's last state is passing, 0 when failing",
    );
    let check_latency: Family<Labels, FloatGauge> = family(
        &mut r,
        "check_latency_seconds",
        "Latency of the check's last run",
    );
    for (name, help, value) in [
        (
            "alerts_fired",
            "Alert incidents that started",
            &counted.alerts_fired,
        ),
        (
            "alerts_sent",
            "Alert notifications delivered",
            &counted.alerts_sent,
        ),
        (
            "alerts_failed",
            "Alert notifications given up on after every retry",
            &counted.alerts_failed,
        ),
        (
            "log_losses",
            "Times service output could not be written and was counted as lost",
            &counted.log_losses,
        ),
    ] {
        let c: Counter = Counter::default();
        c.inc_by(value.load(std::sync::atomic::Ordering::Relaxed));
        r.register(name, help, c);
    }
    let healthy: Gauge = Gauge::default();
    r.register(
        "healthy",
        "1 when /health would answer 200",
        healthy.clone(),
    );

    for s in &report.services {
        let l = service(&s.name);
        up.get_or_create(&l).set(i64::from(s.pid.is_some()));
        for st in STATES {
            state
                .get_or_create(&with(l.clone(), "state", st.as_str()))
                .set(i64::from(*st == s.state));
        }
        for h in HEALTHS {
            health
                .get_or_create(&with(l.clone(), "health", h.as_str()))
                .set(i64::from(*h == s.health));
        }
        restarts.get_or_create(&l).inc_by(u64::from(s.restarts));
        if let Some(u) = s.uptime_s {
            uptime.get_or_create(&l).set(u as i64);
        }
        if let Some(b) = s.rss_bytes {
            memory.get_or_create(&l).set(b as i64);
        }
        if let Some(c) = s.cpu_seconds {
            cpu.get_or_create(&l).set(c);
        }
        for (reason, n) in &s.exit_counts {
            let reason = reason.replace(' ', "_");
            exits
                .get_or_create(&with(l.clone(), "reason", &reason))
                .inc_by(*n);
        }
        lines.get_or_create(&l).inc_by(s.output.lines);
        errors.get_or_create(&l).inc_by(s.output.errors);
        errors_minute
            .get_or_create(&l)
            .set(i64::from(s.output.errors_last_minute));
        for c in &s.checks {
            let cl = with(l.clone(), "check", &c.name);
            export_check(&check_up, &check_latency, &cl, c);
        }
    }
    for c in &report.checks {
        export_check(
            &check_up,
            &check_latency,
            &vec![("check".to_string(), c.name.clone())],
            c,
        );
    }
    let summary = crate::types::HealthReport::from_status(report);
    healthy.set(i64::from(summary.status == Health::Healthy));
    // How services are tracked: by cgroup (exact, kernel limits) or by
    // process tree (the fallback), so a dashboard can tell the two apart.
    let tracking: Family<Labels, Gauge> = family(
        &mut r,
        "process_tracking",
        "1 for how services are tracked: mode=\"cgroup\" (exact membership, kernel limits) or mode=\"tree\" (process tree, no kernel limits)",
    );
    let mode = if report.daemon.tracking.starts_with("cgroup") {
        "cgroup"
    } else {
        "tree"
    };
    tracking
        .get_or_create(&vec![("mode".to_string(), mode.to_string())])
        .set(1);
    let mut process = Registry::default();
    let rss: Gauge = Gauge::default();
    rss.set(own_rss as i64);
    process.register(
        "process_resident_memory_bytes",
        "backstop's own resident memory",
        rss,
    );

    let mut open_metrics = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut open_metrics, &r);
    let _ = encode(&mut open_metrics, &process);
    to_text_format(&open_metrics)
}

/// The classic Prometheus text format (0.0.4), which every scraper and
/// `promtool check metrics` read: OpenMetrics names a counter family
/// without its `_total` suffix and ends with `# EOF`; this format names it
/// with the suffix and has no end marker.
fn to_text_format(open_metrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = open_metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(open_metrics.len());
    for line in open_metrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// The content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

fn export_check(
    passing: &Family<Labels, Gauge>,
    latency: &Family<Labels, FloatGauge>,
    labels: &Labels,
    c: &crate::types::CheckResult,
) {
    match c.state.as_str() {
        "passing" | "warning" => {
            passing.get_or_create(labels).set(1);
        }
        "failing" => {
            passing.get_or_create(labels).set(0);
        }
        _ => {}
    }
    if let Some(ms) = c.latency_ms {
        latency.get_or_create(labels).set(ms as f64 / 1000.0);
    }
}

/// backstop's own resident size, from /proc.
pub fn own_rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}
