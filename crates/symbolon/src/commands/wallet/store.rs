//! The command-line wallet's store: a directory whose secrets are sealed at rest.
//!
//! ```text
//! <wallet-dir>/wallet.json          settings (not secret): KDF salt line, attester URL, …
//! <wallet-dir>/verifier-anchors.pem trust anchors for verifiers' certificates (optional)
//! <wallet-dir>/holder.key           the holder's P-256 key, sealed
//! <wallet-dir>/credentials/<id>     each credential record, sealed
//! ```
//!
//! A passphrase (prompted, or `SYMBOLON_WALLET_PASSPHRASE`) is stretched with Argon2id
//! (64 MiB, 3 passes; salt and parameters in `wallet.json`) into the key that seals every
//! record with AES-256-GCM (`keys::seal`). The associated data names the record (`holder`,
//! `credential:<id>`), so a sealed file moved to another name does not open. Files are
//! written through a temporary file and a rename, mode 0600.

use std::path::{Path, PathBuf};

use anyhow::Context;
use jose::{Algorithm, Signer, SoftwareSigner};
use keys::kdf::{KdfParams, KekSalt};
use keys::{Kek, SecretString};
use serde::{Deserialize, Serialize};
use wallet::credential::Display;

/// Settings kept in `wallet.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WalletFile {
    /// Format version (1).
    pub(crate) version: u32,
    /// The Argon2id salt line.
    pub(crate) kdf: String,
    /// Base URL of the attester that attests this wallet's instance key.
    pub(crate) attester: String,
    /// The `client_id` the attestation names.
    pub(crate) client_id: String,
    /// Allow `http://` and loopback peers (local platform only).
    pub(crate) allow_loopback: bool,
}

/// A stored credential record (sealed on disk).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Record {
    /// Local id.
    pub(crate) id: String,
    /// The issuer's configuration id.
    pub(crate) configuration_id: String,
    /// The credential issuer identifier.
    pub(crate) issuer: String,
    /// Display data from the issuer's metadata.
    pub(crate) display: Display,
    /// The SD-JWT VC as issued.
    pub(crate) compact: String,
    /// When it was stored (Unix seconds).
    pub(crate) stored_at: i64,
    /// The status the last check found (`valid`, `revoked`, …), for `list` to show
    /// without going online; absent until `refresh` or `show` checked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<String>,
    /// When that check ran (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) checked_at: Option<i64>,
}

/// An open wallet: settings, the unsealing key and the holder key.
pub(crate) struct Store {
    dir: PathBuf,
    pub(crate) file: WalletFile,
    kek: Kek,
    pub(crate) holder: SoftwareSigner,
}

const HOLDER_AAD: &str = "symbolon-wallet:holder";
const WALLET_FILE: &str = "wallet.json";
const ANCHORS_FILE: &str = "verifier-anchors.pem";

fn credential_aad(id: &str) -> Vec<u8> {
    format!("symbolon-wallet:credential:{id}").into_bytes()
}

/// Writes `contents` atomically with mode 0600 (replacing the file).
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    keys::files::replace(path, contents).with_context(|| format!("cannot write {}", path.display()))
}

/// Fails unless `dir` holds a wallet.
pub(crate) fn require_wallet(dir: &Path) -> anyhow::Result<()> {
    if dir.join(WALLET_FILE).is_file() {
        Ok(())
    } else {
        anyhow::bail!(
            "no wallet in {} (create one with `symbolon wallet init`)",
            dir.display()
        )
    }
}

/// The verifier trust anchors (DER), in the order they were added; none when the file
/// is absent.
pub(crate) fn read_anchors(dir: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let path = dir.join(ANCHORS_FILE);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let pem = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    super::trust::certificates_of(&pem).with_context(|| format!("{} is damaged", path.display()))
}

/// Replaces the verifier trust anchors; with none, the file is removed.
pub(crate) fn write_anchors(dir: &Path, ders: &[Vec<u8>]) -> anyhow::Result<()> {
    let path = dir.join(ANCHORS_FILE);
    if ders.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(anyhow::Error::new(e).context(format!("cannot remove {}", path.display())))
            }
            _ => Ok(()),
        };
    }
    let pem: String = ders
        .iter()
        .map(|der| jose::pem::encode("CERTIFICATE", der))
        .collect();
    write_private(&path, pem.as_bytes())
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl Store {
    /// Creates a new wallet in `dir` (which must not hold one), without verifier trust
    /// anchors ([`write_anchors`] adds them).
    pub(crate) fn create(
        dir: &Path,
        passphrase: &SecretString,
        file: WalletFile,
    ) -> anyhow::Result<Store> {
        if dir.join(WALLET_FILE).exists() {
            anyhow::bail!("{} already holds a wallet", dir.display());
        }
        std::fs::create_dir_all(dir.join("credentials"))
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let salt = KekSalt::generate(KdfParams::default(), &jose::SystemRandom)?;
        let kek = Kek::from_passphrase(passphrase, &salt)?;
        let holder = SoftwareSigner::generate(Algorithm::Es256)?;
        let kid = holder.public_jwk().thumbprint();
        let holder = holder.with_kid(kid);
        let file = WalletFile {
            kdf: salt.encode(),
            ..file
        };
        write_private(
            &dir.join("holder.key"),
            &keys::seal_key(&kek, HOLDER_AAD, &holder)?,
        )?;
        write_private(
            &dir.join(WALLET_FILE),
            serde_json::to_string_pretty(&file)?.as_bytes(),
        )?;
        Ok(Store {
            dir: dir.to_owned(),
            file,
            kek,
            holder,
        })
    }

    /// Opens the wallet in `dir` with `passphrase`.
    pub(crate) fn open(dir: &Path, passphrase: &SecretString) -> anyhow::Result<Store> {
        let path = dir.join(WALLET_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "no wallet in {} (create one with `symbolon wallet init`)",
                dir.display()
            )
        })?;
        let file: WalletFile = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a wallet settings file", path.display()))?;
        let salt = KekSalt::decode(&file.kdf)
            .ok_or_else(|| anyhow::anyhow!("{}: `kdf` is not a salt line", path.display()))??;
        let kek = Kek::from_passphrase(passphrase, &salt)?;
        let sealed = std::fs::read(dir.join("holder.key")).context("cannot read holder.key")?;
        let holder = keys::open_key(&kek, HOLDER_AAD, &sealed)
            .map_err(|_| anyhow::anyhow!("wrong passphrase (or a damaged holder.key)"))?;
        Ok(Store {
            dir: dir.to_owned(),
            file,
            kek,
            holder,
        })
    }

    /// The verifier trust anchors (PEM), if configured.
    pub(crate) fn anchors_pem(&self) -> anyhow::Result<Option<String>> {
        let path = self.dir.join(ANCHORS_FILE);
        if !path.exists() {
            return Ok(None);
        }
        Ok(Some(std::fs::read_to_string(&path).with_context(|| {
            format!("cannot read {}", path.display())
        })?))
    }

    /// Seals and writes a record.
    pub(crate) fn put(&self, record: &Record) -> anyhow::Result<()> {
        if !valid_id(&record.id) {
            anyhow::bail!("invalid credential id");
        }
        let plain = zeroize::Zeroizing::new(serde_json::to_vec(record)?);
        let sealed = keys::seal::seal(&self.kek, &credential_aad(&record.id), &plain)?;
        write_private(&self.dir.join("credentials").join(&record.id), &sealed)
    }

    /// Reads one record.
    pub(crate) fn get(&self, id: &str) -> anyhow::Result<Record> {
        if !valid_id(id) {
            anyhow::bail!("no credential {id:?} in this wallet");
        }
        let path = self.dir.join("credentials").join(id);
        let sealed = std::fs::read(&path)
            .map_err(|_| anyhow::anyhow!("no credential {id:?} in this wallet"))?;
        let plain = keys::seal::open(&self.kek, &credential_aad(id), &sealed)
            .with_context(|| format!("credential {id} cannot be opened (damaged or moved)"))?;
        Ok(serde_json::from_slice(&plain)?)
    }

    /// Every record, oldest first.
    pub(crate) fn all(&self) -> anyhow::Result<Vec<Record>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.dir.join("credentials"))? {
            let name = entry?.file_name();
            let Some(id) = name.to_str() else { continue };
            if valid_id(id) {
                out.push(self.get(id)?);
            }
        }
        out.sort_by(|a, b| (a.stored_at, &a.id).cmp(&(b.stored_at, &b.id)));
        Ok(out)
    }

    /// Deletes a record.
    pub(crate) fn delete(&self, id: &str) -> anyhow::Result<()> {
        self.get(id)?;
        std::fs::remove_file(self.dir.join("credentials").join(id))
            .with_context(|| format!("cannot delete credential {id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> WalletFile {
        WalletFile {
            version: 1,
            kdf: String::new(),
            attester: "http://127.0.0.1:1/attester".into(),
            client_id: "test".into(),
            allow_loopback: true,
        }
    }

    fn record(id: &str) -> Record {
        Record {
            id: id.into(),
            configuration_id: "c".into(),
            issuer: "https://issuer.example".into(),
            display: Display::default(),
            compact: "eyJ.secret-claims.sig~".into(),
            stored_at: 1,
            status: None,
            checked_at: None,
        }
    }

    #[test]
    fn records_and_the_holder_key_are_sealed_at_rest() {
        let dir = tempfile::tempdir().unwrap();
        let pass = SecretString::from("correct horse".to_owned());
        let store = Store::create(dir.path(), &pass, settings()).unwrap();
        store.put(&record("abc")).unwrap();
        let raw = std::fs::read(dir.path().join("credentials/abc")).unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("secret-claims"));
        let key = std::fs::read(dir.path().join("holder.key")).unwrap();
        let d = store.holder.to_private_jwk().unwrap();
        assert!(!String::from_utf8_lossy(&key).contains(d.to_json().as_str()));
        let reopened = Store::open(dir.path(), &pass).unwrap();
        assert_eq!(
            reopened.get("abc").unwrap().compact,
            "eyJ.secret-claims.sig~"
        );
        assert!(
            reopened
                .holder
                .public_jwk()
                .same_key(store.holder.public_jwk())
        );
    }

    #[test]
    fn rejects_a_wrong_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        Store::create(dir.path(), &SecretString::from("a".to_owned()), settings()).unwrap();
        let err = Store::open(dir.path(), &SecretString::from("b".to_owned()))
            .err()
            .unwrap();
        assert!(err.to_string().contains("wrong passphrase"), "{err}");
    }

    #[test]
    fn rejects_a_record_moved_to_another_name() {
        let dir = tempfile::tempdir().unwrap();
        let pass = SecretString::from("p".to_owned());
        let store = Store::create(dir.path(), &pass, settings()).unwrap();
        store.put(&record("one")).unwrap();
        std::fs::copy(
            dir.path().join("credentials/one"),
            dir.path().join("credentials/two"),
        )
        .unwrap();
        assert!(store.get("two").is_err());
        assert!(store.get("../wallet.json").is_err());
    }
}
