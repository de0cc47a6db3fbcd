//! x5c chain validation with arbitrary certificates: must never panic. The input is split
//! into up to four DER blobs (separated by the byte string `--`) validated as a chain,
//! leaf first, against a fixed self-signed P-256 anchor; a second mode parses the input as
//! the anchor itself.
#![no_main]

use jose::x5c::{TrustAnchors, validate_chain};
use libfuzzer_sys::fuzz_target;

const ANCHOR: &str = "-----BEGIN CERTIFICATE-----
MIIBpDCCAUugAwIBAgIUeFepxl0u9mkaMNKsSI4gRGyRPFwwCgYIKoZIzj0EAwIw
HzEdMBsGA1UEAwwUU3ltYm9sb24gZnV6eiBhbmNob3IwIBcNMjYxMTIzMDE1OTI0
WhgPMjEyNjEwMzAwMTU5MjRaMB8xHTAbBgNVBAMMFFN5bWJvbG9uIGZ1enogYW5j
aG9yMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE3GwYfM6tBRlUGF1O7GvuCqYf
LOI4WSCJchIaWRbmmuQ6o36pMko++pell0vLHqDnqkVYRQiGW11n7n8LnpGKhKNj
MGEwHQYDVR0OBBYEFC3yE20b6L+6DNW6z2LU5nWyhZ48MB8GA1UdIwQYMBaAFC3y
E20b6L+6DNW6z2LU5nWyhZ48MA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQD
AgIEMAoGCCqGSM49BAMCA0cAMEQCIFq2RDC81NUr8fVGEbOxEKeVDF9a+IwMlF66
L69skFKLAiAw1ga7wlEgqrtLCcyXperCfPEPG4EaxM3ggHW2p0gWCg==
-----END CERTIFICATE-----
";

// 2030-01-01: inside the anchor's validity.
const NOW: i64 = 1_893_456_000;

fn split(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = data;
    while out.len() < 3 {
        match rest.windows(2).position(|w| w == b"--") {
            Some(i) => {
                out.push(rest.get(..i).unwrap_or_default().to_vec());
                rest = rest.get(i + 2..).unwrap_or_default();
            }
            None => break,
        }
    }
    out.push(rest.to_vec());
    out
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((0, rest)) => {
            let _ = TrustAnchors::from_der([rest.to_vec()]);
        }
        _ => {
            let Ok(anchors) = TrustAnchors::from_pem(ANCHOR) else {
                return;
            };
            if let Ok(leaf) = validate_chain(&split(data), &anchors, NOW) {
                let _ = (
                    leaf.public_jwk().thumbprint(),
                    leaf.dns_sans(),
                    leaf.x509_hash(),
                );
            }
        }
    }
});
