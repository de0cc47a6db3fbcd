//! Criterion bench of the standard SD-JWT VC workload (issue, present, verify).
//! `cargo bench -p symbolon-sd-jwt --bench workload`. For ops per CPU-second next to the
//! peer implementations, run the `workload_rates` example (see docs/performance.md).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn workload(c: &mut Criterion) {
    let w = common::Workload::new();
    let (issued, presentation) = w.sanity();
    let mut g = c.benchmark_group("sd_jwt_vc_workload");
    g.bench_function("issue", |b| b.iter(|| black_box(w.issue())));
    g.bench_function("present", |b| {
        b.iter(|| black_box(w.present(black_box(&issued))))
    });
    g.bench_function("verify", |b| {
        b.iter(|| black_box(w.verify(black_box(&presentation))))
    });
    g.finish();
}

criterion_group!(benches, workload);
criterion_main!(benches);
