//! `symbolon attester …`: operator tools for the attestation service.
//!
//! - `init-key`: creates the A-Key pair inside the PKCS#11 token named by `[attester.pkcs11]`
//!   (P-256, token object, private, sensitive, not extractable, sign only) when no key has
//!   its label, and prints the public JWK on stdout. An existing key is never replaced: it
//!   is opened through the same attribute checks the service applies and its public JWK is
//!   printed, so the command is safe to run again (the SoftHSM init Job does).
//! - `audit verify`: reads the whole audit log and checks the hash chain; exit 1 names the
//!   first broken record. `--head SEQ:HASH` also requires a head recorded earlier (from the
//!   service's log or an earlier run) to still be in the log, which detects records removed
//!   from the end.

use std::path::PathBuf;

use anyhow::Context;
use attester::audit::{self, AuditStore, hex, parse_hash};
use attester::config::KeyConfig;
use clap::Subcommand;

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
    /// Audit log tools.
    #[command(subcommand)]
    Audit(AuditCommand),
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
    let Some(KeyConfig::Pkcs11(p)) = config.attester.as_ref().and_then(|a| a.key.as_ref()) else {
        anyhow::bail!(
            "`attester.pkcs11` is required: init-key creates the A-Key in a PKCS#11 token"
        );
    };
    let token = keys::pkcs11::Pkcs11Token::open(p)
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
