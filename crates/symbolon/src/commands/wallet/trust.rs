//! `symbolon wallet trust add|list|remove`: the verifier trust anchors, the certificates
//! a verifier's signed request (`x509_san_dns`, `x509_hash`) must chain to before the
//! wallet shows it to the holder.
//!
//! They live in `<wallet-dir>/verifier-anchors.pem`. The file is not sealed (certificates
//! are public), so these commands need no passphrase; each certificate is checked as
//! the wallet will use it before it is written. A wallet without anchors still receives
//! credentials; it refuses signed presentation requests with a message saying how to add
//! one.

use std::path::Path;

use anyhow::Context;
use jose::TrustAnchors;
use serde_json::{Value, json};

use super::store;

/// `symbolon wallet trust`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Trust the CA (or pinned) certificates in a PEM file for verifiers' signed requests.
    Add {
        /// PEM file with one or more CERTIFICATE blocks.
        file: std::path::PathBuf,
    },
    /// List the verifier trust anchors.
    List,
    /// Stop trusting an anchor, named by its SHA-256 fingerprint (or a unique prefix of
    /// at least 8 hex digits, as `list` prints it).
    Remove {
        /// The fingerprint.
        fingerprint: String,
    },
}

/// One anchor as `list` shows it.
struct Described {
    fingerprint: String,
    subject: String,
    not_after: String,
}

fn fingerprint(der: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn describe(der: &[u8]) -> Described {
    let (subject, not_after) = match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => (
            cert.subject().to_string(),
            cert.validity()
                .not_after
                .to_rfc2822()
                .unwrap_or_else(|_| cert.validity().not_after.timestamp().to_string()),
        ),
        Err(_) => ("(unreadable)".into(), "-".into()),
    };
    Described {
        fingerprint: fingerprint(der),
        subject,
        not_after,
    }
}

/// The certificates of PEM text, each checked as a trust anchor.
pub(crate) fn certificates_of(pem: &str) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut ders = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.context("the PEM text does not parse")?;
        if block.label != "CERTIFICATE" {
            anyhow::bail!(
                "the PEM text holds a {} block; only CERTIFICATE blocks are trust anchors",
                block.label
            );
        }
        ders.push(block.contents);
    }
    if ders.is_empty() {
        anyhow::bail!("the PEM text holds no CERTIFICATE block");
    }
    // The same parser the wallet uses when it checks a request.
    TrustAnchors::from_der(ders.clone()).context("not usable as a trust anchor")?;
    Ok(ders)
}

fn print_json(v: &Value) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(v)?)
}

/// Runs `symbolon wallet trust …` on the wallet in `dir`.
pub(crate) fn run(dir: &Path, command: Command, json_out: bool) -> anyhow::Result<()> {
    store::require_wallet(dir)?;
    let mut anchors = store::read_anchors(dir)?;
    match command {
        Command::Add { file } => {
            let pem = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let added = certificates_of(&pem)
                .with_context(|| format!("{} is not a usable trust anchor", file.display()))?;
            let mut new = Vec::new();
            for der in added {
                if !anchors.contains(&der) {
                    anchors.push(der.clone());
                    new.push(der);
                }
            }
            store::write_anchors(dir, &anchors)?;
            let described: Vec<Described> = new.iter().map(|d| describe(d)).collect();
            if json_out {
                print_json(
                    &json!({"added": described.iter().map(to_json).collect::<Vec<_>>(),
                    "anchors": anchors.len()}),
                )
            } else if described.is_empty() {
                outln!("Already trusted; nothing added.")
            } else {
                for d in &described {
                    outln!("Trusted {}  {}", d.fingerprint, d.subject)?;
                }
                Ok(())
            }
        }
        Command::List => {
            let described: Vec<Described> = anchors.iter().map(|d| describe(d)).collect();
            if json_out {
                print_json(&json!({"anchors": described.iter().map(to_json).collect::<Vec<_>>()}))
            } else if described.is_empty() {
                outln!(
                    "No verifier trust anchors: signed presentation requests are refused. Add one with `symbolon wallet trust add FILE.pem`."
                )
            } else {
                for d in &described {
                    outln!("{}  {}  (until {})", d.fingerprint, d.subject, d.not_after)?;
                }
                Ok(())
            }
        }
        Command::Remove {
            fingerprint: wanted,
        } => {
            let wanted = wanted.trim().to_ascii_lowercase();
            if wanted.len() < 8 || !wanted.bytes().all(|b| b.is_ascii_hexdigit()) {
                anyhow::bail!(
                    "name the anchor by its SHA-256 fingerprint (at least 8 hex digits, see `symbolon wallet trust list`)"
                );
            }
            let matching: Vec<usize> = anchors
                .iter()
                .enumerate()
                .filter(|(_, d)| fingerprint(d).starts_with(&wanted))
                .map(|(i, _)| i)
                .collect();
            let index = match matching.as_slice() {
                [one] => *one,
                [] => anyhow::bail!("no verifier trust anchor has the fingerprint {wanted}"),
                _ => anyhow::bail!("{wanted} names several anchors; give more digits"),
            };
            let removed = anchors.remove(index);
            store::write_anchors(dir, &anchors)?;
            let d = describe(&removed);
            if json_out {
                print_json(&json!({"removed": to_json(&d), "anchors": anchors.len()}))
            } else {
                outln!("No longer trusted: {}  {}", d.fingerprint, d.subject)
            }
        }
    }
}

fn to_json(d: &Described) -> Value {
    json!({"fingerprint": d.fingerprint, "subject": d.subject, "not_after": d.not_after})
}
