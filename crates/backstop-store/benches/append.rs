//! Event append: one event, and the batches the recorder writes in one
//! transaction when events come in bursts.
#![allow(missing_docs)]

use backstop_api::{Event, EventKind};
use backstop_store::Store;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

fn events(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| {
            Event::now(
                Some("api"),
                EventKind::Exited,
                format!("api: pid {} exited with code 1 after 2.1s", 1000 + i),
            )
        })
        .collect()
}

fn append(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("events.db")).unwrap();
    let mut g = c.benchmark_group("event append");
    for n in [1usize, 64, 512] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("{n} events in one transaction"), |b| {
            b.iter_batched(
                || events(n),
                |batch| store.insert(&batch).unwrap(),
                BatchSize::SmallInput,
            );
        });
    }
    g.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
