//! The capture hot path per byte of output: framing what one read brought
//! as records (as the capture thread does), decoding them back (`backstop
//! logs`), and the error scan.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use backstop_logs::{ErrorDetector, ErrorPatterns, Stream, record};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// 64 KiB of typical log lines (an access log with an occasional warning).
fn output() -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while out.len() < 64 * 1024 {
        let line = if i % 50 == 0 {
            format!("WARNING slow request id={i} took 1234 ms\n")
        } else {
            format!(
                "127.0.0.1 - - \"GET /api/v1/orders/{i} HTTP/1.1\" 200 512 \"-\" \"curl/8.0\"\n"
            )
        };
        out.extend_from_slice(line.as_bytes());
        i += 1;
    }
    out
}

fn framing(c: &mut Criterion) {
    let region = output();
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000);
    let mut g = c.benchmark_group("log framing");
    g.throughput(Throughput::Bytes(region.len() as u64));
    // As the capture thread does: into a buffer that goes round.
    let mut batch = Vec::new();
    g.bench_function("frame 64 KiB read at once, timestamped", |b| {
        b.iter(|| {
            batch.clear();
            black_box(record::frame_into(&mut batch, &region, at, Stream::Stdout).records)
        });
    });
    // Raw output is not copied: the read buffer is the batch; its lines are counted.
    g.bench_function("frame 64 KiB read at once, raw", |b| {
        b.iter(|| black_box(record::Framed::raw(&region).records));
    });
    let mut framed = Vec::new();
    for line in region.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        record::encode(&mut framed, at, Stream::Stdout, line);
    }
    g.bench_function("decode 64 KiB of records", |b| {
        b.iter(|| {
            framed
                .split(|&b| b == b'\n')
                .filter_map(record::decode)
                .count()
        });
    });
    let patterns = ErrorPatterns::new(&backstop_config::LogSettings::default()).unwrap();
    g.bench_function("error scan of 64 KiB", |b| {
        let mut detector = ErrorDetector::default();
        b.iter(|| {
            let mut found = 0;
            detector.scan(&patterns, &region, Instant::now(), |_| found += 1);
            black_box(found)
        });
    });
    g.finish();
}

criterion_group!(benches, framing);
criterion_main!(benches);
