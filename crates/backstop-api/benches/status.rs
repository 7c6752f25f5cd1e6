//! Status rendering with 1,000 services: the JSON answer of
//! `GET /api/v1/services` (what `backstop status` reads) and the `/metrics`
//! exposition, both per request.
#![allow(missing_docs)]

use std::hint::black_box;

use backstop_api::StatusReport;
use backstop_api::metrics::{EventCounters, ProbeLatency};
use criterion::{Criterion, criterion_group, criterion_main};

fn report(n: usize) -> StatusReport {
    let services: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "name": format!("svc-{i}"), "state": "running", "health": "healthy",
                "pid": 10_000 + i, "uptime_s": 3600, "restarts": i % 3,
                "rss_bytes": 12_000_000, "cpu_seconds": 1.5,
                "output": {"lines": 1000, "errors": 2, "errors_last_minute": 0},
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({
        "daemon": {"pid": 1, "config": "/srv/app/backstop.toml", "version": "0.1.0", "uptime_s": 3600, "tracking": "cgroup v2"},
        "services": services,
    }))
    .expect("a status report")
}

fn status(c: &mut Criterion) {
    let report = report(1000);
    let mut g = c.benchmark_group("status with 1,000 services");
    g.bench_function("JSON of GET /api/v1/services", |b| {
        b.iter(|| black_box(serde_json::to_vec(&report).unwrap().len()));
    });
    let counted = EventCounters::default();
    let latency = ProbeLatency::default();
    g.bench_function("/metrics exposition", |b| {
        b.iter(|| {
            black_box(backstop_api::metrics::render(&report, 20_000_000, &counted, &latency).len())
        });
    });
    g.finish();
}

criterion_group!(benches, status);
criterion_main!(benches);
