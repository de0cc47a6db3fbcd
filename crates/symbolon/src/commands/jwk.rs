//! `symbolon jwk generate`: a fresh signing key for development and for provisioning
//! software keys. The private JWK goes only to a new file readable by its owner (never
//! to stdout, where terminals and CI logs would keep it); the public JWK, with its
//! RFC 7638 thumbprint as `kid`, goes to stdout.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use jose::{Algorithm, PrivateJwk, Signer, SoftwareSigner};
use zeroize::Zeroizing;

/// `symbolon jwk …`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Generate a key pair: write the private JWK to a new file (mode 0600) and print the
    /// public JWK, with `kid` = RFC 7638 thumbprint, on stdout.
    Generate(GenerateArgs),
}

/// `symbolon jwk generate`.
#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// Signature algorithm: ES256, ES384 or Ed25519.
    #[arg(long, default_value = "ES256", value_parser = parse_alg)]
    alg: Algorithm,
    /// File to create for the private JWK (default `./<kid>.jwk`); an existing file is
    /// never overwritten.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

fn parse_alg(value: &str) -> Result<Algorithm, String> {
    Algorithm::ALL
        .into_iter()
        .find(|a| a.name() == value)
        .ok_or_else(|| {
            let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
            format!(
                "unsupported algorithm `{value}`; use one of {}",
                names.join(", ")
            )
        })
}

/// Runs `jwk …`.
pub(crate) fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Generate(args) => generate(&args),
    }
}

fn generate(args: &GenerateArgs) -> anyhow::Result<()> {
    let signer = SoftwareSigner::generate(args.alg).context("cannot generate a key")?;
    let kid = signer.public_jwk().thumbprint();
    let public = signer
        .public_jwk()
        .clone()
        .with_kid(kid)
        .with_alg(args.alg.name());
    let bare = signer.to_private_jwk().context("cannot export the key")?;
    let private = PrivateJwk::new(public.clone(), Zeroizing::new(bare.d().to_vec()))
        .context("cannot export the key")?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.jwk", public.thumbprint())));
    write_new_private_file(&out, private.to_json().as_bytes())?;
    eprintln!("private key written to {}", out.display());
    outln!("{}", serde_json::to_string(&public)?)?;
    Ok(())
}

/// Creates `path` (owner read/write only) and writes `bytes`, atomically. Refuses an
/// existing path, including a symlink, so a key is never overwritten or written through a
/// link.
pub(crate) fn write_new_private_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_new_file(path, bytes, keys::files::SECRET_MODE)
}

/// [`write_new_private_file`] with another mode (a certificate: 0644).
pub(crate) fn write_new_file(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    keys::files::create_new_with_mode(path, bytes, mode).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!("refusing to overwrite {}: the file exists", path.display())
        } else {
            anyhow::Error::new(e).context(format!("cannot create {}", path.display()))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_exactly_the_supported_algorithms() {
        assert_eq!(parse_alg("ES256"), Ok(Algorithm::Es256));
        assert_eq!(parse_alg("ES384"), Ok(Algorithm::Es384));
        assert_eq!(parse_alg("Ed25519"), Ok(Algorithm::Ed25519));
        let message = parse_alg("RS256").unwrap_err();
        assert!(message.contains("ES256, ES384, Ed25519"), "{message}");
    }

    #[test]
    fn generated_file_loads_back_as_the_printed_key() {
        let dir = tempfile::tempdir().unwrap();
        for alg in Algorithm::ALL {
            let out = dir.path().join(format!("{}.jwk", alg.name()));
            generate(&GenerateArgs {
                alg,
                out: Some(out.clone()),
            })
            .unwrap();
            let private = PrivateJwk::from_json(&std::fs::read(&out).unwrap()).unwrap();
            let signer = SoftwareSigner::from_private_jwk(&private).unwrap();
            assert_eq!(signer.algorithm(), alg);
            assert_eq!(
                private.public().kid(),
                Some(private.public().thumbprint().as_str())
            );
            assert_eq!(private.public().alg(), Some(alg.name()));
        }
    }

    #[test]
    fn rejects_an_existing_file_and_leaves_it_alone() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("key.jwk");
        std::fs::write(&out, b"keep me").unwrap();
        let err = write_new_private_file(&out, b"new").unwrap_err();
        assert!(err.to_string().contains("refusing to overwrite"), "{err}");
        assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    }

    #[cfg(unix)]
    #[test]
    fn rejects_a_symlink_in_place_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        let link = dir.path().join("key.jwk");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(write_new_private_file(&link, b"secret").is_err());
        assert!(!target.exists(), "nothing may be written through the link");
    }
}
