//! The holder core links no server: `cargo tree` of this crate's normal dependencies names
//! neither the attester service nor any other role, nor the roles' HTTP server plumbing,
//! nor the server-side store, database, cache or PKCS#11 crates they pull in. A wallet
//! instance (the command-line wallet, a future mobile or web wallet) must build without
//! them; this test fails as soon as a dependency brings one back.
//!
//! It runs the cargo that built it (`env!("CARGO")`), offline and with the lock file as it
//! is, from the workspace root: the build that produced this test already resolved and
//! fetched everything `cargo tree` reads.
#![allow(clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

/// Crates a wallet must not link, and why. A name also matches its `-suffixed` family
/// (`sqlx` matches `sqlx-core`, `cryptoki` matches `cryptoki-sys`).
const FORBIDDEN: &[(&str, &str)] = &[
    ("symbolon-attester", "the attestation service"),
    ("symbolon-issuer", "the issuer role"),
    ("symbolon-verifier", "the verifier role"),
    ("symbolon-service", "the roles' server plumbing"),
    ("axum", "an HTTP server framework"),
    ("metrics-exporter-prometheus", "a metrics endpoint"),
    ("symbolon-store", "the server-side store"),
    ("symbolon-keys", "server key custody (PKCS#11, sealed keys)"),
    ("sqlx", "a database driver"),
    ("redis", "a cache client"),
    ("cryptoki", "PKCS#11"),
];

/// The crate names `cargo tree --prefix none` lists for `package` (one `name vX.Y.Z …`
/// per line).
fn normal_dependencies(package: &str) -> Vec<String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = Command::new(env!("CARGO"))
        .current_dir(&workspace)
        .args([
            "tree",
            "-p",
            package,
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
            "--locked",
        ])
        .output()
        .expect("run cargo tree");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut crates: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    // A crate reached along several paths is listed once per path.
    crates.sort();
    crates.dedup();
    crates
}

/// The server-side crates among `crates`, with why each is one.
fn server_side(crates: &[String]) -> Vec<String> {
    crates
        .iter()
        .filter_map(|c| {
            FORBIDDEN
                .iter()
                .find(|(name, _)| {
                    c == name
                        || c.strip_prefix(name)
                            .is_some_and(|rest| rest.starts_with('-'))
                })
                .map(|(_, why)| format!("{c} ({why})"))
        })
        .collect()
}

#[test]
fn issue11_wallet_links_no_role_server_store_database_cache_or_pkcs11_crate() {
    let crates = normal_dependencies("symbolon-wallet");
    // The listing is real: the crate itself and what it is built on appear in it.
    for expected in ["symbolon-wallet", "symbolon-client-attestation", "reqwest"] {
        assert!(
            crates.iter().any(|c| c == expected),
            "`cargo tree` does not list {expected}: {crates:?}"
        );
    }
    let linked = server_side(&crates);
    assert!(
        linked.is_empty(),
        "symbolon-wallet links server-side crates: {}",
        linked.join(", ")
    );
}

#[test]
fn issue12_the_api_v2_client_library_links_no_server_crate() {
    let crates = normal_dependencies("symbolon-wallet-client");
    for expected in [
        "symbolon-wallet-client",
        "symbolon-wallet-protocol",
        "tokio-tungstenite",
    ] {
        assert!(
            crates.iter().any(|c| c == expected),
            "`cargo tree` does not list {expected}: {crates:?}"
        );
    }
    let mut linked = server_side(&crates);
    // Nor the engine it talks to.
    linked.extend(
        crates
            .iter()
            .filter(|c| *c == "symbolon-engine")
            .map(|c| format!("{c} (the wallet engine role)")),
    );
    assert!(
        linked.is_empty(),
        "symbolon-wallet-client links server-side crates: {}",
        linked.join(", ")
    );
}
