//! The lifecycle of held credentials: expiry from `exp`, and revocation or suspension
//! from the Token Status List the credential references, fetched through the guarded
//! client and verified with a key the issuer publishes. A list that cannot be fetched or
//! verified gives [`Lifecycle::Unknown`] ("could not check"), never "valid".

use jose::VerifyingKey;
use status_list::{Status, StatusListToken, VerifyOptions};

use crate::Wallet;
use crate::credential::HeldCredential;
use crate::net::Outgoing;

/// Where a credential stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// Not expired; the status list (if any) says valid.
    Valid,
    /// No status reference and not expired.
    NoStatus,
    /// `exp` has passed.
    Expired,
    /// The issuer revoked it.
    Revoked,
    /// The issuer suspended it.
    Suspended,
    /// Another status value.
    Other(u8),
    /// The status could not be checked.
    Unknown(String),
}

impl Lifecycle {
    /// A word for a card.
    pub fn label(&self) -> String {
        match self {
            Lifecycle::Valid => "valid".into(),
            Lifecycle::NoStatus => "valid (no status list)".into(),
            Lifecycle::Expired => "expired".into(),
            Lifecycle::Revoked => "revoked".into(),
            Lifecycle::Suspended => "suspended".into(),
            Lifecycle::Other(v) => format!("status {v}"),
            Lifecycle::Unknown(why) => format!("unknown ({why})"),
        }
    }
}

impl Wallet {
    /// Checks one credential's expiry and status.
    pub async fn check(&self, held: &HeldCredential) -> Lifecycle {
        if held.expired_at(self.now()) {
            return Lifecycle::Expired;
        }
        let Some(claim) = &held.status else {
            return Lifecycle::NoStatus;
        };
        let Some(issuer) = &held.issuer else {
            return Lifecycle::Unknown("the credential names no issuer".into());
        };
        let fetched = match self
            .net
            .send_ok(Outgoing::get(
                "status list",
                &claim.uri,
                status_list::MEDIA_TYPE,
            ))
            .await
        {
            Ok(f) => f,
            Err(e) => return Lifecycle::Unknown(e.to_string()),
        };
        let text = String::from_utf8_lossy(&fetched.body);
        let token = match StatusListToken::parse(text.trim()) {
            Ok(t) => t,
            Err(e) => return Lifecycle::Unknown(format!("status list token: {e}")),
        };
        let kid = token.header().kid().map(str::to_owned);
        let keys = match self.issuer_keys(issuer).await {
            Ok(k) => k,
            Err(e) => return Lifecycle::Unknown(e.to_string()),
        };
        let Some(key) = keys
            .iter()
            .filter(|k| kid.is_none() || k.kid() == kid.as_deref())
            .find_map(|k| VerifyingKey::from_jwk(k).ok())
        else {
            return Lifecycle::Unknown("no published key verifies the status list".into());
        };
        let options = VerifyOptions::new(&self.settings.algorithms).with_skew(self.settings.skew);
        match claim.resolve(text.trim(), &key, &options, self.clock.as_ref()) {
            Ok(Status::Valid) => Lifecycle::Valid,
            Ok(Status::Invalid) => Lifecycle::Revoked,
            Ok(Status::Suspended) => Lifecycle::Suspended,
            Ok(Status::Other(v)) => Lifecycle::Other(v),
            Err(e) => Lifecycle::Unknown(format!("status list: {e}")),
        }
    }
}
