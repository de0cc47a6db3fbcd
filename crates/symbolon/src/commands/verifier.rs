//! `symbolon verifier gen-cert`: a request signing key and a self-signed certificate for
//! the verifier's `x509_san_dns` / `x509_hash` client identifiers, for development. The
//! private JWK goes only to a new file readable by its owner; the certificate to a PEM
//! file; the two client identifiers it yields are printed as JSON.
//!
//! Production verifiers use a certificate from a CA the wallets trust.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use jose::Signer;

use crate::commands::jwk::{write_new_file, write_new_private_file};

/// `symbolon verifier …`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Generate an ES256 request signing key and a self-signed certificate (development).
    GenCert(GenCertArgs),
}

/// `symbolon verifier gen-cert`.
#[derive(Debug, Args)]
pub(crate) struct GenCertArgs {
    /// DNS name for the certificate's dNSName SAN (the x509_san_dns client identifier and
    /// the host of the verifier's response URI); repeat for several.
    #[arg(long = "dns", value_name = "NAME", required = true)]
    dns: Vec<String>,
    /// Validity in days.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
    days: u32,
    /// File to create for the private JWK (never overwritten).
    #[arg(long, value_name = "FILE", default_value = "verifier-key.jwk")]
    key_out: PathBuf,
    /// File to create for the PEM certificate (never overwritten).
    #[arg(long, value_name = "FILE", default_value = "verifier-cert.pem")]
    cert_out: PathBuf,
}

/// Runs `verifier …`.
pub(crate) fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::GenCert(args) => gen_cert(&args),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn gen_cert(args: &GenCertArgs) -> anyhow::Result<()> {
    for name in &args.dns {
        oid4vp::ClientId::x509_san_dns(name)
            .map_err(|_| anyhow::anyhow!("`{name}` is not a DNS name"))?;
    }
    if args.cert_out.exists() {
        anyhow::bail!(
            "refusing to overwrite {}: the file exists",
            args.cert_out.display()
        );
    }
    let cert = verifier::keyfiles::generate_self_signed(&args.dns, now(), args.days)
        .context("cannot generate the certificate")?;
    write_new_private_file(&args.key_out, cert.private_jwk.to_json().as_bytes())?;
    write_new_file(&args.cert_out, cert.pem.as_bytes(), 0o644)?;
    let out = serde_json::json!({
        "key": args.key_out.display().to_string(),
        "certificate": args.cert_out.display().to_string(),
        "kid": cert.signer.key_id(),
        "client_ids": {
            "x509_san_dns": args.dns.iter().map(|d| format!("x509_san_dns:{d}")).collect::<Vec<_>>(),
            "x509_hash": oid4vp::ClientId::x509_hash_of(&cert.der).as_str(),
        }
    });
    outln!("{}", serde_json::to_string_pretty(&out)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_key_and_a_certificate_that_belong_together() {
        let dir = tempfile::tempdir().unwrap();
        let args = GenCertArgs {
            dns: vec!["verifier.example".into()],
            days: 30,
            key_out: dir.path().join("k.jwk"),
            cert_out: dir.path().join("c.pem"),
        };
        gen_cert(&args).unwrap();
        let signer = verifier::keyfiles::read_signer(&args.key_out).unwrap();
        let chain = verifier::keyfiles::read_chain(&args.cert_out).unwrap();
        let anchors = jose::TrustAnchors::from_der(chain.clone()).unwrap();
        let leaf = jose::x5c::validate_chain(&chain, &anchors, now()).unwrap();
        assert!(leaf.public_jwk().same_key(signer.public_jwk()));
        assert_eq!(leaf.dns_sans(), ["verifier.example"]);
        // Never overwrites.
        assert!(gen_cert(&args).is_err());
    }

    #[test]
    fn rejects_a_name_that_is_not_dns() {
        let dir = tempfile::tempdir().unwrap();
        let args = GenCertArgs {
            dns: vec!["not a name".into()],
            days: 30,
            key_out: dir.path().join("k.jwk"),
            cert_out: dir.path().join("c.pem"),
        };
        assert!(gen_cert(&args).is_err());
        assert!(!args.key_out.exists());
    }
}
