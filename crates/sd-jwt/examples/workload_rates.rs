//! Runs the standard SD-JWT VC workload and prints, for issue, present and verify, the
//! operations per CPU-second of this thread in the peers' format:
//! `RESULT <impl> <op> <median ops/CPU-s> <median ops/wall-s> <per-run ops/CPU-s>`.
//! Pin it to one core: `taskset -c 1 target/release/examples/workload_rates`.
//! `BENCH_SECS` (CPU seconds per run, default 2) and `BENCH_RUNS` (default 5) as the peers;
//! `BENCH_OPS` picks operations (`issue,present,verify`; `verify` adds the `es256_verify`
//! calibration line).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../benches/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Instant;

/// CPU time of this thread in seconds.
fn thread_cpu_secs() -> f64 {
    measure::thread_cpu().unwrap().as_secs_f64()
}

fn bench(name: &str, secs: f64, runs: usize, mut f: impl FnMut()) {
    let warm = Instant::now();
    while warm.elapsed().as_millis() < 300 {
        f();
    }
    let (mut cpu, mut wall) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let start = Instant::now();
        let c0 = thread_cpu_secs();
        let mut n = 0u64;
        loop {
            for _ in 0..16 {
                f();
            }
            n += 16;
            if thread_cpu_secs() - c0 >= secs {
                break;
            }
        }
        cpu.push(n as f64 / (thread_cpu_secs() - c0));
        wall.push(n as f64 / start.elapsed().as_secs_f64());
    }
    cpu.sort_by(f64::total_cmp);
    wall.sort_by(f64::total_cmp);
    let per_run: Vec<String> = cpu.iter().map(|r| format!("{r:.0}")).collect();
    println!(
        "RESULT\tsymbolon-sd-jwt\t{name}\t{:.0}\t{:.0}\t{}",
        cpu[runs / 2],
        wall[runs / 2],
        per_run.join(" ")
    );
}

fn main() {
    let secs: f64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .max(1);
    let w = common::Workload::new();
    let (issued, presentation) = w.sanity();
    // `BENCH_OPS=verify` (comma-separated) runs a subset, e.g. for profiling one operation.
    let ops = std::env::var("BENCH_OPS").unwrap_or_else(|_| "issue,present,verify".into());
    let ops: Vec<&str> = ops.split(',').collect();
    if ops.contains(&"issue") {
        bench("issue", secs, runs, || {
            black_box(w.issue());
        });
    }
    if ops.contains(&"present") {
        bench("present", secs, runs, || {
            black_box(w.present(black_box(&issued)));
        });
    }
    if ops.contains(&"verify") {
        bench("verify", secs, runs, || {
            black_box(w.verify(black_box(&presentation)));
        });
    }
    // Calibration on the same core, in the same process: one ES256 verification with a
    // pre-parsed key over 700 bytes, as the peers' crypto anchor measures it. The verify
    // target is 0.85 × (this rate / 2).
    if ops.contains(&"es256_verify") || ops.contains(&"verify") {
        let (msg, sig, key) = w.es256_sample();
        bench("es256_verify", secs, runs, || {
            key.verify(jose::Algorithm::Es256, black_box(&msg), black_box(&sig))
                .unwrap();
        });
    }
}
