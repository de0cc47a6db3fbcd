//! An open, logged-in PKCS#11 token and the key operations on it: opening a signer by label
//! (with the attribute policy check), creating a key pair inside the token only when the
//! label is free, listing keys by label prefix and destroying a key, for the issuer's
//! rotating keys.
//!
//! A process opens each token once: a second [`Pkcs11Token::open`] of the same module and
//! token returns the same logged-in token and session pool (PKCS#11 login state is per
//! application and token anyway), after checking that it was given the same PIN.

use super::config::{MAX_KEY_LABEL, Pkcs11Config};
use super::error::{Pkcs11Error, call};
use super::module::{lock, module};
use super::policy::{P256_PARAMS, check_private_key, read_public_key};
use super::pool::SessionPool;
use super::signer::Pkcs11Signer;
use crate::secret::secrets_equal;
use cryptoki::context::Pkcs11;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki::slot::Slot;
use jose::{PublicJwk, Signer};
use secrecy::SecretString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

pub(crate) struct TokenShared {
    label: String,
    module: PathBuf,
    pub(crate) pool: SessionPool,
    /// Serializes key creation and destruction within the process, so "absent, then
    /// create" cannot race with itself. (Across processes PKCS#11 offers no such lock:
    /// provision keys from one place.)
    admin: Mutex<()>,
}

type TokenEntry = (PathBuf, Slot, Weak<TokenShared>);

static TOKENS: Mutex<Vec<TokenEntry>> = Mutex::new(Vec::new());

/// A logged-in PKCS#11 token. Cheap to clone; all clones share one pool of sessions.
#[derive(Clone)]
pub struct Pkcs11Token {
    pub(crate) shared: Arc<TokenShared>,
}

impl fmt::Debug for Pkcs11Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the PIN.
        f.debug_struct("Pkcs11Token")
            .field("label", &self.shared.label)
            .field("module", &self.shared.module)
            .finish_non_exhaustive()
    }
}

/// A key pair found in the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenKey {
    /// Its label.
    pub label: String,
    /// Its public key, with `kid` = RFC 7638 thumbprint.
    pub public_jwk: PublicJwk,
}

fn find_slot(ctx: &Pkcs11, label: &str) -> Result<Slot, Pkcs11Error> {
    let slots = ctx.get_slots_with_token().map_err(call("C_GetSlotList"))?;
    let mut found = Vec::new();
    let mut matching = Vec::new();
    for slot in slots {
        let info = ctx.get_token_info(slot).map_err(call("C_GetTokenInfo"))?;
        if !info.token_initialized() {
            continue;
        }
        let l = info.label().trim_end().to_owned();
        if l == label {
            matching.push(slot);
        }
        found.push(l);
    }
    match matching.as_slice() {
        [slot] => Ok(*slot),
        [] => Err(Pkcs11Error::TokenNotFound {
            label: label.to_owned(),
            found,
        }),
        more => Err(Pkcs11Error::AmbiguousToken {
            label: label.to_owned(),
            count: more.len(),
        }),
    }
}

fn check_key_label(label: &str) -> Result<(), Pkcs11Error> {
    if label.is_empty() || label.len() > MAX_KEY_LABEL {
        return Err(Pkcs11Error::BadKeyLabel {
            label: label.to_owned(),
            max: MAX_KEY_LABEL,
        });
    }
    Ok(())
}

/// The one object of `class` labelled `label`, if any.
fn find_one(
    session: &Session,
    class: ObjectClass,
    label: &str,
) -> Result<Option<ObjectHandle>, Pkcs11Error> {
    let found = session
        .find_objects(&[
            Attribute::Class(class),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .map_err(call("C_FindObjects"))?;
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        more => Err(Pkcs11Error::DuplicateKey {
            label: label.to_owned(),
            class: if class == ObjectClass::PRIVATE_KEY {
                "private key"
            } else {
                "public key"
            },
            count: more.len(),
        }),
    }
}

/// The private and public key objects labelled `label`.
pub(crate) fn find_pair(
    session: &Session,
    label: &str,
) -> Result<(ObjectHandle, ObjectHandle), Pkcs11Error> {
    let private = find_one(session, ObjectClass::PRIVATE_KEY, label)?;
    let public = find_one(session, ObjectClass::PUBLIC_KEY, label)?;
    match (private, public) {
        (Some(private), Some(public)) => Ok((private, public)),
        (None, None) => Err(Pkcs11Error::KeyNotFound {
            label: label.to_owned(),
        }),
        (Some(_), None) => Err(Pkcs11Error::KeyPairIncomplete {
            label: label.to_owned(),
            missing: "public key",
        }),
        (None, Some(_)) => Err(Pkcs11Error::KeyPairIncomplete {
            label: label.to_owned(),
            missing: "private key",
        }),
    }
}

impl Pkcs11Token {
    /// Opens the token `config` names: loads the module (initializing it once per process),
    /// finds the slot by token label, reads the PIN from its source and logs in.
    pub fn open(config: &Pkcs11Config) -> Result<Self, Pkcs11Error> {
        let pin = config.pin.load()?;
        Self::open_with_pin(
            &config.module,
            &config.token_label,
            pin,
            config.max_sessions,
        )
    }

    /// [`Pkcs11Token::open`] with the PIN given directly.
    pub fn open_with_pin(
        module_path: &Path,
        token_label: &str,
        pin: SecretString,
        max_sessions: usize,
    ) -> Result<Self, Pkcs11Error> {
        let (canonical, ctx) = module(module_path)?;
        let slot = find_slot(&ctx, token_label)?;
        let mut tokens = lock(&TOKENS);
        tokens.retain(|(_, _, w)| w.strong_count() > 0);
        let existing = tokens
            .iter()
            .filter(|(m, s, _)| *m == canonical && *s == slot)
            .find_map(|(_, _, w)| w.upgrade());
        if let Some(shared) = existing {
            // Logged in already with the PIN it was opened with; another PIN is a wrong one.
            if !secrets_equal(shared.pool.pin(), &pin) {
                return Err(Pkcs11Error::WrongPin {
                    token: token_label.to_owned(),
                });
            }
            return Ok(Pkcs11Token { shared });
        }
        let pool = SessionPool::new(ctx, slot, token_label.to_owned(), pin, max_sessions)?;
        let shared = Arc::new(TokenShared {
            label: token_label.to_owned(),
            module: canonical.clone(),
            pool,
            admin: Mutex::new(()),
        });
        tokens.push((canonical, slot, Arc::downgrade(&shared)));
        tracing::info!(token = token_label, module = %module_path.display(), "PKCS#11 token opened");
        Ok(Pkcs11Token { shared })
    }

    /// The token's label.
    pub fn label(&self) -> &str {
        &self.shared.label
    }

    /// Sessions currently open on the token by this process.
    pub fn open_sessions(&self) -> usize {
        self.shared.pool.open_sessions()
    }

    /// Opens the key pair labelled `label` for signing, after checking the private key's
    /// attributes against the policy (see the module documentation) and that the two halves belong
    /// together (a test signature verified with the public key).
    pub fn signer(&self, label: &str) -> Result<Pkcs11Signer, Pkcs11Error> {
        check_key_label(label)?;
        let (private, jwk) = self.shared.pool.with_session(|s| {
            let (private, public) = find_pair(s, label)?;
            check_private_key(s, private, label)?;
            Ok((private, read_public_key(s, public, label)?))
        })?;
        Pkcs11Signer::new(self.clone(), label, private, jwk)
    }

    /// Creates a P-256 key pair labelled `label` inside the token, only if no object of
    /// either class has that label, and returns its public key. The private key is a token
    /// object, private, sensitive, not extractable, and can only sign; the public key can
    /// only verify.
    pub fn init_key(&self, label: &str) -> Result<PublicJwk, Pkcs11Error> {
        Ok(self.generate_key(label)?.public_jwk().clone())
    }

    /// Like [`Pkcs11Token::init_key`], returning a signer for the new key (for rotation:
    /// one key per period, labelled e.g. `issuer-<period>`).
    pub fn generate_key(&self, label: &str) -> Result<Pkcs11Signer, Pkcs11Error> {
        check_key_label(label)?;
        let _admin = lock(&self.shared.admin);
        let (public, private) = self.shared.pool.with_session(|s| {
            if find_one(s, ObjectClass::PRIVATE_KEY, label)?.is_some()
                || find_one(s, ObjectClass::PUBLIC_KEY, label)?.is_some()
            {
                return Err(Pkcs11Error::KeyExists {
                    label: label.to_owned(),
                });
            }
            // CKA_ID pairs the halves for tools that match keys by id.
            let mut id = [0u8; 16];
            s.generate_random_slice(&mut id)
                .map_err(call("C_GenerateRandom"))?;
            let label_bytes = label.as_bytes().to_vec();
            let public_template = [
                Attribute::Token(true),
                Attribute::Private(false),
                Attribute::KeyType(KeyType::EC),
                Attribute::EcParams(P256_PARAMS.to_vec()),
                Attribute::Verify(true),
                Attribute::Encrypt(false),
                Attribute::Wrap(false),
                Attribute::Derive(false),
                Attribute::Label(label_bytes.clone()),
                Attribute::Id(id.to_vec()),
            ];
            let private_template = [
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::KeyType(KeyType::EC),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Sign(true),
                Attribute::Decrypt(false),
                Attribute::Unwrap(false),
                Attribute::Derive(false),
                Attribute::Label(label_bytes),
                Attribute::Id(id.to_vec()),
            ];
            s.generate_key_pair(
                &Mechanism::EccKeyPairGen,
                &public_template,
                &private_template,
            )
            .map_err(call("C_GenerateKeyPair"))
        })?;
        // Open it through the same checks as any other key: a token that ignored part of
        // the template is caught here, and the half-made key is removed again.
        match self.signer(label) {
            Ok(signer) => {
                tracing::info!(token = %self.shared.label, label, kid = signer.key_id(), "PKCS#11 key pair created");
                Ok(signer)
            }
            Err(e) => {
                let cleanup = self.shared.pool.with_session(|s| {
                    s.destroy_object(private).map_err(call("C_DestroyObject"))?;
                    s.destroy_object(public).map_err(call("C_DestroyObject"))
                });
                if let Err(c) = cleanup {
                    tracing::error!(label, error = %c, "could not remove a refused new key pair");
                }
                Err(e)
            }
        }
    }

    /// The EC key pairs whose label starts with `prefix`, sorted by label.
    pub fn list_keys(&self, prefix: &str) -> Result<Vec<TokenKey>, Pkcs11Error> {
        let mut keys = self.shared.pool.with_session(|s| {
            let privates = s
                .find_objects(&[
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::KeyType(KeyType::EC),
                ])
                .map_err(call("C_FindObjects"))?;
            let mut keys = Vec::new();
            for handle in privates {
                let attrs = s
                    .get_attributes(handle, &[AttributeType::Label])
                    .map_err(call("C_GetAttributeValue"))?;
                let label = attrs.iter().find_map(|a| match a {
                    Attribute::Label(l) => std::str::from_utf8(l).ok().map(str::to_owned),
                    _ => None,
                });
                let Some(label) = label.filter(|l| l.starts_with(prefix)) else {
                    continue;
                };
                let (_, public) = find_pair(s, &label)?;
                let jwk = read_public_key(s, public, &label)?;
                let kid = jwk.thumbprint();
                keys.push(TokenKey {
                    label,
                    public_jwk: jwk.with_kid(kid),
                });
            }
            Ok(keys)
        })?;
        keys.sort_by(|a, b| a.label.cmp(&b.label));
        Ok(keys)
    }

    /// Destroys both halves of the key pair labelled `label` (whichever exist).
    pub fn destroy_key(&self, label: &str) -> Result<(), Pkcs11Error> {
        check_key_label(label)?;
        let _admin = lock(&self.shared.admin);
        self.shared.pool.with_session(|s| {
            let private = find_one(s, ObjectClass::PRIVATE_KEY, label)?;
            let public = find_one(s, ObjectClass::PUBLIC_KEY, label)?;
            if private.is_none() && public.is_none() {
                return Err(Pkcs11Error::KeyNotFound {
                    label: label.to_owned(),
                });
            }
            for handle in private.into_iter().chain(public) {
                s.destroy_object(handle).map_err(call("C_DestroyObject"))?;
            }
            Ok(())
        })?;
        tracing::info!(token = %self.shared.label, label, "PKCS#11 key pair destroyed");
        Ok(())
    }

    /// Runs `f` on a pooled session (tests that probe the token directly).
    #[cfg(test)]
    pub(crate) fn with_session<T>(
        &self,
        f: impl FnMut(&Session) -> Result<T, Pkcs11Error>,
    ) -> Result<T, Pkcs11Error> {
        self.shared.pool.with_session(f)
    }
}
