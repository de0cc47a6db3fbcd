//! Criterion bench of ES256 signing with a key inside SoftHSM2: one thread; two threads
//! sharing one signer (so its session pool); two threads with a key each on the same pool;
//! and the software signer for scale.
//!
//! ```text
//! eval "$(scripts/softhsm-setup.sh /tmp/symbolon-softhsm)"
//! cargo bench -p symbolon-keys --bench pkcs11_sign
//! ```
//!
//! Criterion reports time per signature; for the threaded case the time is wall-clock per
//! signature with both threads busy, so signatures/s = 1 / time.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jose::{Algorithm, Signer, SoftwareSigner};
use keys::SecretString;
use keys::pkcs11::{Pkcs11Signer, Pkcs11Token};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MESSAGE: &[u8] =
    b"eyJhbGciOiJFUzI1NiIsInR5cCI6ImRjK3NkLWp3dCJ9.eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIn0";

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run `eval \"$(scripts/softhsm-setup.sh /tmp/x)\"` first")
    })
}

fn token() -> Pkcs11Token {
    var("SOFTHSM2_CONF");
    Pkcs11Token::open_with_pin(
        &PathBuf::from(var("TEST_PKCS11_MODULE")),
        &var("TEST_PKCS11_TOKEN"),
        SecretString::from(var("TEST_PKCS11_PIN")),
        4,
    )
    .unwrap()
}

/// Signs `iters` messages spread over one thread per signer; returns the wall-clock time.
fn sign_on_threads(signers: &[Arc<Pkcs11Signer>], iters: u64) -> Duration {
    let threads = signers.len() as u64;
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .zip(signers)
        .map(|(t, signer)| {
            let signer = Arc::clone(signer);
            // Spread the remainder so exactly `iters` signatures are made.
            let n = iters / threads + u64::from(t < iters % threads);
            std::thread::spawn(move || {
                for _ in 0..n {
                    black_box(signer.sign(black_box(MESSAGE)).unwrap());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    start.elapsed()
}

fn es256_sign(c: &mut Criterion) {
    let token = token();
    let label = format!("bench-{}", std::process::id());
    let other_label = format!("{label}-2");
    let signer = Arc::new(token.generate_key(&label).unwrap());
    let other = Arc::new(token.generate_key(&other_label).unwrap());
    let software = SoftwareSigner::generate(Algorithm::Es256).unwrap();

    let mut g = c.benchmark_group("es256_sign");
    g.throughput(Throughput::Elements(1));
    g.bench_function("softhsm_1_thread", |b| {
        b.iter(|| black_box(signer.sign(black_box(MESSAGE)).unwrap()))
    });
    g.bench_function("softhsm_pool_2_threads", |b| {
        b.iter_custom(|iters| sign_on_threads(&[Arc::clone(&signer), Arc::clone(&signer)], iters))
    });
    // Two keys, one per thread: shows whether the token serializes on the key object.
    g.bench_function("softhsm_pool_2_threads_2_keys", |b| {
        b.iter_custom(|iters| sign_on_threads(&[Arc::clone(&signer), Arc::clone(&other)], iters))
    });
    g.bench_function("software_1_thread", |b| {
        b.iter(|| black_box(software.sign(black_box(MESSAGE)).unwrap()))
    });
    g.finish();

    token.destroy_key(&label).unwrap();
    token.destroy_key(&other_label).unwrap();
}

criterion_group!(benches, es256_sign);
criterion_main!(benches);
