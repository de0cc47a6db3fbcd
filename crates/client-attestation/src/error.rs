//! Why a client attestation was refused, and which OAuth error code that maps to.

/// A client attestation or its PoP was refused.
#[derive(Debug, thiserror::Error)]
pub enum AttestationError {
    /// The attestation JWT is malformed or uses a disallowed algorithm or `typ`.
    #[error("client attestation JWT: {0}")]
    Attestation(jose::Error),
    /// The attestation names (`kid`) a key no trusted attester has: the key is unknown
    /// here, which says nothing about the signature.
    #[error(
        "client attestation: unknown kid `{kid}`: no trusted attester key has this key id (trust the attester's key or certificate chain)"
    )]
    UnknownKid {
        /// `kid` of the attestation header.
        kid: String,
    },
    /// The attestation names a trusted attester key (`kid`), but its signature does not
    /// verify under that key: the JWT was altered, or signed by another key with that id.
    #[error(
        "client attestation: bad signature: it does not verify under the trusted attester key `{kid}`"
    )]
    BadSignature {
        /// The trusted key it names.
        kid: String,
    },
    /// The attestation names no key, and no trusted attester key verifies it: it was signed
    /// by a key this server does not trust (or altered). `proven` when the key it carries
    /// in its own header (`jwk`) verifies the signature, so the signature itself is fine.
    #[error(
        "client attestation: untrusted key: {tried} trusted attester key(s) tried, none verifies its signature{}",
        proven_by(.thumbprint.as_deref())
    )]
    UntrustedKey {
        /// How many trusted keys were tried.
        tried: usize,
        /// RFC 7638 thumbprint of the header `jwk` when that key verifies the signature.
        thumbprint: Option<String>,
    },
    /// The key that would verify this attestation belongs to attesters with another
    /// identifier than the attestation's `iss`.
    #[error(
        "client attestation is not signed by a trusted attester (iss {}, kid {})",
        shown(iss),
        shown(kid)
    )]
    UntrustedAttester {
        /// `iss` of the attestation, if any.
        iss: Option<String>,
        /// `kid` of the attestation header, if any.
        kid: Option<String>,
    },
    /// A required claim of the attestation is missing or has the wrong type.
    #[error("client attestation claim `{0}` is missing or malformed")]
    AttestationClaim(&'static str),
    /// The attestation's time claims failed (expired, not yet valid, issued in the future).
    #[error("client attestation is not valid now: {0}")]
    AttestationTime(jose::ClaimError),
    /// `cnf.jwk` is not a usable public key.
    #[error("client attestation `cnf.jwk` is invalid: {0}")]
    Cnf(jose::JwkError),
    /// The PoP JWT is malformed, uses a disallowed algorithm or `typ`, or is not signed by
    /// the key in `cnf`.
    #[error("client attestation PoP JWT: {0}")]
    Pop(jose::Error),
    /// A required PoP claim is missing or has the wrong type.
    #[error("client attestation PoP claim `{0}` is missing or malformed")]
    PopClaim(&'static str),
    /// The PoP's `aud` is not this server.
    #[error("client attestation PoP `aud` does not name this server")]
    AudienceMismatch,
    /// The PoP's time claims failed (too old, in the future, expired).
    #[error("client attestation PoP is not fresh: {0}")]
    PopTime(jose::ClaimError),
    /// -07: the PoP `iss` differs from the attestation `sub`.
    #[error("client attestation PoP `iss` differs from the attestation `sub`")]
    PopIssuerMismatch,
    /// The request's `client_id` differs from the attestation `sub`.
    #[error("`client_id` differs from the client attestation `sub`")]
    ClientIdMismatch,
    /// The server demanded a challenge and the PoP carries none.
    #[error("a client attestation challenge is required")]
    ChallengeRequired,
    /// The PoP carries a challenge the server did not issue (or already consumed).
    #[error("client attestation challenge is unknown or was already used")]
    ChallengeInvalid,
    /// The PoP `jti` was seen before.
    #[error("client attestation PoP `jti` was already used")]
    Replay,
    /// The attestation's environment claims fail the server's policy.
    #[error("client attestation refused by policy: {0}")]
    Policy(crate::PolicyViolation),
}

impl AttestationError {
    /// The OAuth `error` code for a token endpoint response (ABCA §7.4).
    pub fn oauth_error(&self) -> &'static str {
        match self {
            AttestationError::ChallengeRequired | AttestationError::ChallengeInvalid => {
                "use_attestation_challenge"
            }
            AttestationError::AttestationTime(_) => "use_fresh_attestation",
            AttestationError::Attestation(_)
            | AttestationError::UnknownKid { .. }
            | AttestationError::BadSignature { .. }
            | AttestationError::UntrustedKey { .. }
            | AttestationError::UntrustedAttester { .. }
            | AttestationError::AttestationClaim(_)
            | AttestationError::Cnf(_)
            | AttestationError::Policy(_) => "invalid_client_attestation",
            AttestationError::Pop(_)
            | AttestationError::PopClaim(_)
            | AttestationError::AudienceMismatch
            | AttestationError::PopTime(_)
            | AttestationError::PopIssuerMismatch
            | AttestationError::ClientIdMismatch
            | AttestationError::Replay => "invalid_client",
        }
    }
}

fn proven_by(thumbprint: Option<&str>) -> String {
    match thumbprint {
        Some(t) => {
            format!("; it is validly signed by key {t} (its `jwk` header), which is not trusted")
        }
        None => String::new(),
    }
}

/// An optional value from the input, for a message: `` `value` `` (escaped and bounded,
/// [`jose::escape_input`]) or `absent` (never Rust's `Some("…")` / `None`, which would
/// reach clients in error descriptions).
fn shown(value: &Option<String>) -> String {
    match value {
        Some(v) => format!("`{}`", jose::escape_input(v)),
        None => "absent".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue10_untrusted_attester_message_has_no_rust_debug_text() {
        let e = AttestationError::UntrustedAttester {
            iss: Some("https://attester.example".into()),
            kid: None,
        };
        assert_eq!(
            e.to_string(),
            "client attestation is not signed by a trusted attester (iss `https://attester.example`, kid absent)"
        );
    }
}
