//! Compact JWE (RFC 7516) with direct key agreement `ECDH-ES` (RFC 7518 §4.6) and AES-GCM
//! (`A128GCM`, `A256GCM`, RFC 7518 §5.3), as OpenID4VP `direct_post.jwt` responses and
//! OpenID4VCI encrypted credential requests and responses use it.
//!
//! - [`encrypt`] encrypts to a peer's public JWK (its `use` may be `enc`, unlike keys for
//!   [`VerifyingKey`](crate::VerifyingKey)); a fresh ephemeral key goes into `epk`.
//! - [`decrypt`] (or [`CompactJwe::parse`] then [`CompactJwe::decrypt`] when the key is
//!   chosen by `kid`) applies a [`DecryptPolicy`]: allowed `enc` values, whether `zip` is
//!   accepted, a plaintext size limit, and the `crit` names the caller understands.
//! - The AAD is the ASCII of the protected header exactly as received (RFC 7516 §5.2
//!   step 14); the Encrypted Key must be empty; the IV is 96 bits and the tag 128 bits.

mod error;
mod header;
mod kdf;
mod key;
mod zip;

pub use error::JweError;
pub use header::JweHeader;
pub use kdf::concat_kdf;
pub use key::EncryptionKey;

use crate::b64;
use crate::error::Part;
use crate::jwk::PublicJwk;
use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use serde_json::{Map, Value};
use std::fmt;
use zeroize::Zeroizing;

/// The only key management algorithm implemented.
pub const ECDH_ES: &str = "ECDH-ES";

const TAG_LEN: usize = 16;

/// Default limit on the decrypted (and inflated) plaintext: 1 MiB.
pub const DEFAULT_MAX_PLAINTEXT: usize = 1 << 20;

/// A content encryption algorithm (`enc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Enc {
    /// AES-128 in GCM mode.
    A128Gcm,
    /// AES-256 in GCM mode.
    A256Gcm,
}

impl Enc {
    /// Every `enc` implemented.
    pub const ALL: [Enc; 2] = [Enc::A128Gcm, Enc::A256Gcm];

    /// The registered name.
    pub fn name(self) -> &'static str {
        match self {
            Enc::A128Gcm => "A128GCM",
            Enc::A256Gcm => "A256GCM",
        }
    }

    /// Parses a registered name (exact match).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "A128GCM" => Some(Enc::A128Gcm),
            "A256GCM" => Some(Enc::A256Gcm),
            _ => None,
        }
    }

    /// Key length in bytes (the Concat KDF output length for direct agreement).
    pub fn key_len(self) -> usize {
        match self {
            Enc::A128Gcm => 16,
            Enc::A256Gcm => 32,
        }
    }

    fn aead(self) -> &'static aws_lc_rs::aead::Algorithm {
        match self {
            Enc::A128Gcm => &AES_128_GCM,
            Enc::A256Gcm => &AES_256_GCM,
        }
    }
}

impl fmt::Display for Enc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Enc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Enc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Enc::from_name(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unsupported enc `{s}` (supported: A128GCM, A256GCM)"
            ))
        })
    }
}

/// A compression algorithm (`zip`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Zip {
    /// `DEF`: raw DEFLATE (RFC 1951).
    Deflate,
}

/// Optional header members written by [`encrypt`].
#[derive(Clone, Copy, Debug, Default)]
pub struct EncryptOptions<'a> {
    /// `kid`; when `None`, the recipient JWK's `kid` is copied (as OpenID4VP §8.3 and
    /// OpenID4VCI §10 ask).
    pub kid: Option<&'a str>,
    /// `typ`.
    pub typ: Option<&'a str>,
    /// `cty` (e.g. `JWT` for a nested signed JWT).
    pub cty: Option<&'a str>,
    /// `apu` (agreement PartyUInfo), raw bytes; written base64url-encoded.
    pub apu: Option<&'a [u8]>,
    /// `apv` (agreement PartyVInfo), raw bytes; written base64url-encoded.
    pub apv: Option<&'a [u8]>,
    /// Compress the plaintext with DEFLATE and write `zip` `DEF`.
    pub zip: bool,
}

/// What a recipient accepts. There is no default for `enc`: the caller names it.
#[derive(Clone, Copy, Debug)]
pub struct DecryptPolicy<'a> {
    /// Accepted `enc` values.
    pub enc: &'a [Enc],
    /// Whether `zip` `DEF` is accepted (refused otherwise).
    pub allow_zip: bool,
    /// Largest plaintext accepted, after inflation when `zip` is used.
    pub max_plaintext: usize,
    /// `crit` extension names the caller understands and processes.
    pub critical: &'a [&'a str],
}

impl<'a> DecryptPolicy<'a> {
    /// Accepts `enc`, no `zip`, no `crit` extensions, plaintexts up to
    /// [`DEFAULT_MAX_PLAINTEXT`].
    pub const fn new(enc: &'a [Enc]) -> Self {
        DecryptPolicy {
            enc,
            allow_zip: false,
            max_plaintext: DEFAULT_MAX_PLAINTEXT,
            critical: &[],
        }
    }
    /// Accepts `zip` `DEF` (inflation is bounded by `max_plaintext`).
    #[must_use]
    pub const fn with_zip(mut self) -> Self {
        self.allow_zip = true;
        self
    }
    /// Sets the plaintext size limit.
    #[must_use]
    pub const fn with_max_plaintext(mut self, max: usize) -> Self {
        self.max_plaintext = max;
        self
    }
    /// Declares `crit` names the caller understands.
    #[must_use]
    pub const fn with_critical(mut self, critical: &'a [&'a str]) -> Self {
        self.critical = critical;
        self
    }
}

/// A compact JWE as received, parsed but not decrypted.
#[derive(Clone, Debug)]
pub struct CompactJwe {
    encoded_header: String,
    header: JweHeader,
    iv: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
    tag: [u8; TAG_LEN],
}

impl CompactJwe {
    /// Parses the five parts and the header; checks the Encrypted Key is empty and the IV
    /// and tag lengths. Nothing is decrypted yet.
    pub fn parse(text: &str) -> Result<Self, JweError> {
        let mut it = text.splitn(6, '.');
        let (Some(h), Some(k), Some(i), Some(c), Some(t), None) = (
            it.next(),
            it.next(),
            it.next(),
            it.next(),
            it.next(),
            it.next(),
        ) else {
            return Err(JweError::NotCompact);
        };
        let header_bytes = b64::decode(h).ok_or(JweError::Base64(Part::Header))?;
        let header = JweHeader::from_json(&header_bytes)?;
        let encrypted_key = b64::decode(k).ok_or(JweError::Base64(Part::EncryptedKey))?;
        if !encrypted_key.is_empty() {
            return Err(JweError::EncryptedKeyNotEmpty);
        }
        let iv = b64::decode(i).ok_or(JweError::Base64(Part::Iv))?;
        let iv: [u8; NONCE_LEN] = iv
            .as_slice()
            .try_into()
            .map_err(|_| JweError::IvLength(iv.len()))?;
        let ciphertext = b64::decode(c).ok_or(JweError::Base64(Part::Ciphertext))?;
        let tag = b64::decode(t).ok_or(JweError::Base64(Part::Tag))?;
        let tag: [u8; TAG_LEN] = tag
            .as_slice()
            .try_into()
            .map_err(|_| JweError::TagLength(tag.len()))?;
        Ok(CompactJwe {
            encoded_header: h.to_owned(),
            header,
            iv,
            ciphertext,
            tag,
        })
    }

    /// The protected header (for choosing the key by `kid`).
    pub fn header(&self) -> &JweHeader {
        &self.header
    }

    /// Applies `policy`, derives the key from `epk` and `key`, checks the tag over the
    /// protected header as received, and inflates `zip` plaintext within the limit.
    pub fn decrypt(
        &self,
        key: &EncryptionKey,
        policy: &DecryptPolicy<'_>,
    ) -> Result<Decrypted, JweError> {
        let h = &self.header;
        if !policy.enc.contains(&h.enc()) {
            return Err(JweError::EncNotAllowed(h.enc()));
        }
        if let Some(crit) = h.crit() {
            for name in crit {
                if !policy.critical.contains(&name.as_str()) {
                    return Err(JweError::UnknownCrit(name.clone()));
                }
            }
        }
        let max_ciphertext = match h.zip() {
            Some(Zip::Deflate) if !policy.allow_zip => return Err(JweError::ZipNotAllowed),
            // DEFLATE may expand incompressible data by a few bytes per 16 KiB block.
            Some(Zip::Deflate) => policy
                .max_plaintext
                .saturating_add(policy.max_plaintext / 1024)
                .saturating_add(64),
            None => policy.max_plaintext,
        };
        if self.ciphertext.len() > max_ciphertext {
            return Err(JweError::PlaintextTooLarge {
                max: policy.max_plaintext,
            });
        }
        let cek = key.derive_cek(h.epk(), h.enc(), h.apu(), h.apv())?;
        let aead =
            LessSafeKey::new(UnboundKey::new(h.enc().aead(), &cek).map_err(|_| JweError::Crypto)?);
        let mut buf = Zeroizing::new(self.ciphertext.clone());
        aead.open_in_place_separate_tag(
            Nonce::assume_unique_for_key(self.iv),
            Aad::from(self.encoded_header.as_bytes()),
            &self.tag,
            &mut buf,
        )
        .map_err(|_| JweError::Decryption)?;
        let plaintext = match h.zip() {
            Some(Zip::Deflate) => zip::inflate(&buf, policy.max_plaintext)?,
            None => std::mem::take(&mut *buf),
        };
        Ok(Decrypted {
            header: h.clone(),
            plaintext,
        })
    }
}

/// A decrypted JWE: the protected header and the plaintext, authenticated together.
#[derive(Clone, Debug)]
pub struct Decrypted {
    header: JweHeader,
    plaintext: Vec<u8>,
}

impl Decrypted {
    /// The protected header.
    pub fn header(&self) -> &JweHeader {
        &self.header
    }
    /// The plaintext (inflated when `zip` was used).
    pub fn plaintext(&self) -> &[u8] {
        &self.plaintext
    }
    /// The plaintext, by value.
    pub fn into_plaintext(self) -> Vec<u8> {
        self.plaintext
    }
}

/// Parses and decrypts a compact JWE with `key` under `policy`.
pub fn decrypt(
    compact: &str,
    key: &EncryptionKey,
    policy: &DecryptPolicy<'_>,
) -> Result<Decrypted, JweError> {
    CompactJwe::parse(compact)?.decrypt(key, policy)
}

/// Encrypts `plaintext` to `recipient` with `ECDH-ES` and `enc`, returning the compact JWE.
///
/// The recipient must be an EC P-256/P-384 key; its `use`, when present, must be `enc`,
/// and its `alg`, when present, `ECDH-ES`.
pub fn encrypt(
    plaintext: &[u8],
    recipient: &PublicJwk,
    enc: Enc,
    options: &EncryptOptions<'_>,
) -> Result<String, JweError> {
    let curve = recipient
        .curve()
        .ok_or(JweError::UnsupportedKeyType(recipient.key_type()))?;
    let ephemeral = EncryptionKey::generate(curve)?;
    let mut iv = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut iv).map_err(|_| JweError::Crypto)?;
    encrypt_with(plaintext, recipient, enc, options, &ephemeral, iv)
}

/// [`encrypt`] with a given ephemeral key and IV, for known-answer tests. Reusing either
/// breaks the encryption: protocol code calls [`encrypt`].
#[doc(hidden)]
pub fn encrypt_with(
    plaintext: &[u8],
    recipient: &PublicJwk,
    enc: Enc,
    options: &EncryptOptions<'_>,
    ephemeral: &EncryptionKey,
    iv: [u8; NONCE_LEN],
) -> Result<String, JweError> {
    if recipient.curve().is_none() {
        return Err(JweError::UnsupportedKeyType(recipient.key_type()));
    }
    key::check_metadata(recipient)?;

    let mut h = Map::new();
    h.insert("alg".into(), ECDH_ES.into());
    h.insert("enc".into(), enc.name().into());
    if let Some(kid) = options.kid.or(recipient.kid()) {
        h.insert("kid".into(), kid.into());
    }
    if let Some(typ) = options.typ {
        h.insert("typ".into(), typ.into());
    }
    if let Some(cty) = options.cty {
        h.insert("cty".into(), cty.into());
    }
    if options.zip {
        h.insert("zip".into(), "DEF".into());
    }
    h.insert("epk".into(), ephemeral.public_jwk().bare().to_value());
    let apu = options.apu.unwrap_or_default();
    let apv = options.apv.unwrap_or_default();
    if let Some(apu) = options.apu {
        h.insert("apu".into(), b64::encode(apu).into());
    }
    if let Some(apv) = options.apv {
        h.insert("apv".into(), b64::encode(apv).into());
    }
    let encoded_header = b64::encode(Value::Object(h).to_string());

    let cek = ephemeral.derive_cek(recipient, enc, apu, apv)?;
    let aead = LessSafeKey::new(UnboundKey::new(enc.aead(), &cek).map_err(|_| JweError::Crypto)?);
    let mut buf = Zeroizing::new(if options.zip {
        zip::deflate(plaintext)?
    } else {
        plaintext.to_vec()
    });
    let tag = aead
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(iv),
            Aad::from(encoded_header.as_bytes()),
            &mut buf,
        )
        .map_err(|_| JweError::Crypto)?;

    let mut out = encoded_header;
    out.push_str("..");
    b64::encode_into(iv, &mut out);
    out.push('.');
    b64::encode_into(&*buf, &mut out);
    out.push('.');
    b64::encode_into(tag.as_ref(), &mut out);
    Ok(out)
}
