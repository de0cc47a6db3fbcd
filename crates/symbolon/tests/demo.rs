//! `symbolon demo` end to end: the real binary starts the platform in-process and must
//! report every expected outcome (granted, refused after revocation, denied without an
//! essential claim) and exit 0.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::symbolon;

#[test]
fn the_demo_ends_with_every_expected_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let out = symbolon()
        .args(["demo", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "✔ classroom with the recommended claims: ACCESS GRANTED",
        "✔ classroom with a revoked pass: REFUSED",
        "✔ classroom without `course`: REFUSED",
        "All outcomes as expected",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    assert!(!stdout.contains('✘'), "{stdout}");
    // What crossed the wire is shown: attestation headers, the token and the response.
    assert!(stdout.contains("OAuth-Client-Attestation-PoP:"));
    // The demo issuer offers DPoP and the wallet uses it (issue 10).
    assert!(stdout.contains("DPoP:"), "{stdout}");
    assert!(stdout.contains("Authorization: DPoP "), "{stdout}");
    assert!(stdout.contains("POST http://localhost:"));
}
