//! `symbolon attester …`: operator tools for the attestation service.
//!
//! - `init-key`: creates the A-Key pair inside the PKCS#11 token named by `[attester.pkcs11]`
//!   (P-256, token object, private, sensitive, not extractable, sign only) when no key has
//!   its label, and prints the public JWK on stdout. An existing key is never replaced: it
//!   is opened through the same attribute checks the service applies and its public JWK is
//!   printed, so the command is safe to run again (the SoftHSM init Job does).
//! - `gen-cert`: a self-signed X.509 certificate for the A-Key, signed by the A-Key where
//!   it lives (inside the PKCS#11 token, or the software key file): the file to set as
//!   `attester.certificate` (attestations then carry `x5c`) and to give issuers as an
//!   `x509_anchors` file. Never overwrites a file.
//! - `csr`: a PKCS#10 certificate signing request for the A-Key, signed by it, for the
//!   operator's CA; the chain the CA returns (leaf first) becomes `attester.certificate`.
//! - `audit verify`: reads the whole audit log and checks the hash chain; exit 1 names the
//!   first broken record. `--head SEQ:HASH` also requires a head recorded earlier (from the
//!   service's log or an earlier run) to still be in the log, which detects records removed
//!   from the end.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use attester::audit::{self, AuditStore, hex, parse_hash};
use attester::config::KeyConfig;
use clap::{Args, Subcommand};
use keys::KeySigner;

use crate::config;

/// `symbolon attester …`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create the A-Key in the PKCS#11 token when absent; print its public JWK.
    InitKey {
        /// Config file (TOML) with `[attester.pkcs11]`.
        #[arg(long, env = "SYMBOLON_CONFIG", value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Write a self-signed certificate for the A-Key, signed by the A-Key (for
    /// `attester.certificate` and the issuers' `x509_anchors`).
    GenCert(GenCertArgs),
    /// Write a certificate signing request (PKCS#10) for the A-Key, signed by the A-Key.
    Csr(CsrArgs),
    /// Audit log tools.
    #[command(subcommand)]
    Audit(AuditCommand),
}

/// Who the certificate or request names, and where the A-Key is.
#[derive(Debug, Args)]
pub(crate) struct SubjectArgs {
    /// Config file (TOML) with `[attester.pkcs11]` or `[attester.software_key]` (without
    /// either, the `--mode=all` key under `<data_dir>/attester/`).
    #[arg(long, env = "SYMBOLON_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Subject common name.
    #[arg(long, value_name = "NAME", default_value = "Symbolon attester")]
    cn: String,
    /// Subject organization.
    #[arg(long = "org", value_name = "NAME")]
    organization: Option<String>,
    /// A dNSName subject alternative name (the attester's host); repeat for several.
    #[arg(long = "dns", value_name = "NAME")]
    dns: Vec<String>,
}

impl SubjectArgs {
    fn subject(&self) -> attester::certificate::Subject {
        attester::certificate::Subject {
            common_name: self.cn.clone(),
            organization: self.organization.clone(),
            dns: self.dns.clone(),
        }
    }
}

/// `symbolon attester gen-cert`.
#[derive(Debug, Args)]
pub(crate) struct GenCertArgs {
    #[command(flatten)]
    subject: SubjectArgs,
    /// Validity in days.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
    days: u32,
    /// File to create for the PEM certificate (never overwritten).
    #[arg(long, value_name = "FILE", default_value = "attester-cert.pem")]
    out: PathBuf,
}

/// `symbolon attester csr`.
#[derive(Debug, Args)]
pub(crate) struct CsrArgs {
    #[command(flatten)]
    subject: SubjectArgs,
    /// File to create for the PEM request (never overwritten).
    #[arg(long, value_name = "FILE", default_value = "attester.csr")]
    out: PathBuf,
}

/// `symbolon attester audit …`.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check the audit log's hash chain (edits, deletions, reordering).
    Verify {
        /// Config file (TOML); the log is `attester.database_url`, else
        /// `<data_dir>/attester/audit.db`.
        #[arg(long, env = "SYMBOLON_CONFIG", value_name = "FILE")]
        config: Option<PathBuf>,
        /// A head recorded earlier, `SEQ:HASH`, that must still be in the log.
        #[arg(long, value_name = "SEQ:HASH")]
        head: Option<String>,
    },
}

/// Runs `attester …`.
pub(crate) fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::InitKey { config } => init_key(config),
        Command::GenCert(args) => gen_cert(&args),
        Command::Csr(args) => csr(&args),
        Command::Audit(AuditCommand::Verify { config, head }) => {
            let anchor = head.as_deref().map(parse_anchor).transpose()?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(verify(config, anchor))
        }
    }
}

fn parse_anchor(text: &str) -> anyhow::Result<(i64, audit::Hash)> {
    let (seq, hash) = text
        .split_once(':')
        .ok_or_else(|| anyhow::anyhow!("--head must be SEQ:HASH"))?;
    let seq: i64 = seq
        .parse()
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| anyhow::anyhow!("--head: `{seq}` is not a positive record number"))?;
    let hash = parse_hash(hash)
        .ok_or_else(|| anyhow::anyhow!("--head: the hash must be 64 lowercase hex digits"))?;
    Ok((seq, hash))
}

fn init_key(file: Option<PathBuf>) -> anyhow::Result<()> {
    let config = config::load(file.as_deref(), std::env::vars_os())?;
    let Some(KeyConfig::Pkcs11(p)) = config.attester.as_ref().and_then(|a| a.key()) else {
        anyhow::bail!(
            "`attester.pkcs11` is required: init-key creates the A-Key in a PKCS#11 token"
        );
    };
    let token = keys::pkcs11::Pkcs11Token::open(&p)
        .with_context(|| format!("cannot open PKCS#11 token `{}`", p.token_label))?;
    let outcome = attester::akey::init_pkcs11_key(&token, &p.key_label).with_context(|| {
        format!(
            "cannot create or use the A-Key `{}` in token `{}`",
            p.key_label, p.token_label
        )
    })?;
    match &outcome {
        attester::akey::InitOutcome::Created(_) => eprintln!(
            "created A-Key `{}` in token `{}`",
            p.key_label, p.token_label
        ),
        attester::akey::InitOutcome::Existing(_) => eprintln!(
            "A-Key `{}` already exists in token `{}`; not replaced",
            p.key_label, p.token_label
        ),
    }
    let value = outcome.published();
    outln!("{}", serde_json::to_string_pretty(&value)?)?;
    Ok(())
}

/// The A-Key as the attester would open it: in its PKCS#11 token, from its software key
/// file (created there if absent, as the attester does on first start), or the `--mode=all`
/// embedded key when it exists.
fn open_a_key(file: Option<&std::path::Path>) -> anyhow::Result<Arc<dyn KeySigner>> {
    let config = config::load(file, std::env::vars_os())?;
    match config.attester.as_ref().and_then(|a| a.key()) {
        Some(key) => crate::roles::attester::open_configured_key(&key),
        None => {
            let dir = config.data_dir.join("attester");
            let (key_file, kek_file) = (dir.join("a-key.sealed"), dir.join("kek"));
            if !key_file.exists() || !kek_file.exists() {
                anyhow::bail!(
                    "no A-Key: configure `attester.pkcs11` (or `attester.software_key`), or run `--mode=all` once to create {}",
                    key_file.display()
                );
            }
            let text = std::fs::read_to_string(&kek_file)
                .with_context(|| format!("cannot read {}", kek_file.display()))?;
            let kek = keys::Kek::from_base64(
                &keys::SecretString::from(text.trim().to_owned()),
                &keys::SecretSource::File(kek_file.clone()),
            )
            .with_context(|| format!("cannot use the KEK in {}", kek_file.display()))?;
            let signer = keys::key_file::load(&key_file, &kek)
                .with_context(|| format!("cannot load the A-Key {}", key_file.display()))?;
            Ok(Arc::new(signer))
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Creates `path` (never overwriting; a certificate or request, readable by others) with
/// `text`.
fn write_new(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    crate::commands::jwk::write_new_file(path, text.as_bytes(), 0o644)
}

/// What the command printed about the A-Key and the file it wrote (`file_key`).
fn key_summary(
    signer: &dyn KeySigner,
    file_key: &str,
    file: &std::path::Path,
) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    out.insert("kid".into(), signer.key_id().into());
    out.insert(
        "key_protection".into(),
        attester::akey::claim_protection(signer.protection())
            .as_str()
            .into(),
    );
    out.insert(file_key.into(), file.display().to_string().into());
    serde_json::Value::Object(out)
}

fn gen_cert(args: &GenCertArgs) -> anyhow::Result<()> {
    if args.out.exists() {
        anyhow::bail!(
            "refusing to overwrite {}: the file exists",
            args.out.display()
        );
    }
    let signer = open_a_key(args.subject.config.as_deref())?;
    let (_, pem) =
        attester::certificate::self_signed(&*signer, &args.subject.subject(), now(), args.days)
            .context("cannot make the A-Key certificate")?;
    write_new(&args.out, &pem)?;
    let out = key_summary(&*signer, "certificate", &args.out);
    outln!("{}", serde_json::to_string_pretty(&out)?)?;
    eprintln!(
        "set `attester.certificate = \"{}\"` (attestations then carry x5c); issuers trust it as `x509_anchors`",
        args.out.display()
    );
    Ok(())
}

fn csr(args: &CsrArgs) -> anyhow::Result<()> {
    if args.out.exists() {
        anyhow::bail!(
            "refusing to overwrite {}: the file exists",
            args.out.display()
        );
    }
    let signer = open_a_key(args.subject.config.as_deref())?;
    let pem = attester::certificate::signing_request(&*signer, &args.subject.subject())
        .context("cannot make the certificate signing request")?;
    write_new(&args.out, &pem)?;
    let out = key_summary(&*signer, "request", &args.out);
    outln!("{}", serde_json::to_string_pretty(&out)?)?;
    eprintln!(
        "have your CA sign {}; set `attester.certificate` to the returned chain (leaf first)",
        args.out.display()
    );
    Ok(())
}

async fn verify(file: Option<PathBuf>, anchor: Option<(i64, audit::Hash)>) -> anyhow::Result<()> {
    let config = config::load(file.as_deref(), std::env::vars_os())?;
    let url = match config
        .attester
        .as_ref()
        .and_then(|a| a.database_url.as_ref())
    {
        Some(url) => url.expose().to_owned(),
        None => {
            let path = config.data_dir.join("attester").join("audit.db");
            if !path.exists() {
                anyhow::bail!("no audit log at {}", path.display());
            }
            store::Database::sqlite_url(&path)
                .ok_or_else(|| anyhow::anyhow!("{} is not a UTF-8 path", path.display()))?
        }
    };
    let db = store::Database::connect(&url)
        .await
        .context("cannot open the audit log database")?;
    let log = attester::audit::sql::SqlAudit::new(db)
        .await
        .context("cannot read the audit log table")?;
    let summary = audit::verify(&log as &dyn AuditStore, anchor)
        .await
        .context("audit log verification failed")?;
    let head = summary
        .head
        .map(|(seq, hash)| serde_json::json!({"seq": seq, "hash": hex(&hash)}));
    outln!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "valid": true,
            "records": summary.records,
            "head": head,
        }))?
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_anchor_parses_and_rejects_malformed_values() {
        let h = "ab".repeat(32);
        assert_eq!(parse_anchor(&format!("7:{h}")).unwrap().0, 7);
        for bad in [
            "7",
            "x:ab",
            &format!("0:{h}"),
            "7:abc",
            &format!("7:{}", "AB".repeat(32)),
        ] {
            assert!(parse_anchor(bad).is_err(), "{bad}");
        }
    }
}
