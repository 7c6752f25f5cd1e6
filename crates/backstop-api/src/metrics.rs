//! `GET /metrics`: the Prometheus text exposition, built from a status
//! report at each scrape (prometheus-client does the encoding).
//!
//! Metric names are stable; every service metric has a `service` label.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::types::{Health, ServiceState, ServiceStatus, StatusReport};

type Labels = Vec<(String, String)>;

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
    let mut out = to_text_format(&open_metrics);
    per_service(&mut out, report);
    out
}

/// A service's value in a family of one series per service, if it has one.
type ServiceValue = fn(&ServiceStatus) -> Option<String>;

/// The series of each service and check, written straight in the text
/// format: about 22 per service, which a registry built per request made
/// cost 37 ms with 1,000 services (`benches/status.rs`).
fn per_service(out: &mut String, report: &StatusReport) {
    use std::fmt::Write as _;
    let services = &report.services;
    let head = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP backstop_{name} {help}");
        let _ = writeln!(out, "# TYPE backstop_{name} {kind}");
    };
    // One value per service, when it has one.
    let single: [(&str, &str, &str, ServiceValue); 8] = [
        (
            "service_up",
            "gauge",
            "1 while the service's main process runs.",
            |s| Some(i64::from(s.pid.is_some()).to_string()),
        ),
        (
            "service_restarts_total",
            "counter",
            "Restarts since the service was last started by hand.",
            |s| Some(s.restarts.to_string()),
        ),
        (
            "service_uptime_seconds",
            "gauge",
            "Seconds since the current process started.",
            |s| s.uptime_s.map(|u| u.to_string()),
        ),
        (
            "service_memory_bytes",
            "gauge",
            "Resident memory of the service's whole process tree.",
            |s| s.rss_bytes.map(|b| b.to_string()),
        ),
        (
            "service_cpu_seconds",
            "gauge",
            "CPU seconds used: by the service's cgroup since backstop made it (cgroup mode), or by the live processes of its tree.",
            |s| s.cpu_seconds.map(|c| format!("{c:?}")),
        ),
        (
            "service_log_lines_total",
            "counter",
            "Output lines captured since the daemon started.",
            |s| Some(s.output.lines.to_string()),
        ),
        (
            "service_error_lines_total",
            "counter",
            "Error incidents in the output (a stack trace counts once).",
            |s| Some(s.output.errors.to_string()),
        ),
        (
            "service_error_lines_last_minute",
            "gauge",
            "Error incidents in the last 60 seconds.",
            |s| Some(s.output.errors_last_minute.to_string()),
        ),
    ];
    for (name, kind, help, value) in single {
        head(out, name, kind, help);
        for s in services {
            if let Some(v) = value(s) {
                sample(out, name, &[("service", &s.name)], v);
            }
        }
    }
    // One series per state, health and exit reason.
    head(
        out,
        "service_state",
        "gauge",
        "1 for the service's current state, 0 for the others.",
    );
    for s in services {
        for st in STATES {
            let labels = [("service", s.name.as_str()), ("state", st.as_str())];
            sample(out, "service_state", &labels, i64::from(*st == s.state));
        }
    }
    head(
        out,
        "service_health",
        "gauge",
        "1 for the service's current health, 0 for the others.",
    );
    for s in services {
        for h in HEALTHS {
            let labels = [("service", s.name.as_str()), ("health", h.as_str())];
            sample(out, "service_health", &labels, i64::from(*h == s.health));
        }
    }
    head(
        out,
        "service_exits_total",
        "counter",
        "Exits since the daemon started, by reason (code N or the signal).",
    );
    for s in services {
        for (reason, n) in &s.exit_counts {
            let reason = reason.replace(' ', "_");
            let labels = [("service", s.name.as_str()), ("reason", reason.as_str())];
            sample(out, "service_exits_total", &labels, n);
        }
    }
    // Checks of services first, then `[checks]` entries (no service label).
    let checks: Vec<(Option<&str>, &crate::types::CheckResult)> = services
        .iter()
        .flat_map(|s| s.checks.iter().map(move |c| (Some(s.name.as_str()), c)))
        .chain(report.checks.iter().map(|c| (None, c)))
        .collect();
    head(
        out,
        "check_passing",
        "gauge",
        "1 when the check's last state is passing, 0 when failing.",
    );
    for (owner, c) in &checks {
        let passing = match c.state.as_str() {
            "passing" | "warning" => 1,
            "failing" => 0,
            _ => continue,
        };
        sample(
            out,
            "check_passing",
            &check_labels(*owner, &c.name),
            passing,
        );
    }
    head(
        out,
        "check_latency_seconds",
        "gauge",
        "Latency of the check's last run.",
    );
    for (owner, c) in &checks {
        if let Some(ms) = c.latency_ms {
            let seconds = ms as f64 / 1000.0;
            sample(
                out,
                "check_latency_seconds",
                &check_labels(*owner, &c.name),
                format_args!("{seconds:?}"),
            );
        }
    }
}

fn check_labels<'a>(owner: Option<&'a str>, check: &'a str) -> Vec<(&'static str, &'a str)> {
    match owner {
        Some(service) => vec![("service", service), ("check", check)],
        None => vec![("check", check)],
    }
}

/// One line: `backstop_NAME{k="v",…} VALUE`, label values escaped.
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    use std::fmt::Write as _;
    out.push_str("backstop_");
    out.push_str(name);
    out.push('{');
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        for ch in v.chars() {
            match ch {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    let _ = writeln!(out, "}} {value}");
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

/// backstop's own resident size, from /proc.
pub fn own_rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}
