//! Accepting an offer: token, nonce, proofs, credential request, verification, and the
//! notifications afterwards.
//!
//! Every call to the token, credential and notification endpoints carries the client
//! attestation and a fresh PoP (`aud` = the server's identifier): the token endpoint
//! authenticates the wallet instance with them, and an issuer under the stricter policy of
//! binding the access token to the CI-Key (Symbolon's `bind_access_token`) asks for the same
//! proof at `/credential` and `/notification`; other issuers ignore the headers where they
//! do not need them.
//!
//! When the authorization server offers DPoP (`dpop_signing_alg_values_supported`, RFC
//! 9449), the flow uses it: a fresh DPoP key per accepted offer, a proof with every request
//! to the token, credential and notification endpoints (`ath` with the access token), the
//! token presented as `Authorization: DPoP` when the server bound it (`token_type: DPoP`),
//! the latest `DPoP-Nonce` the server sent carried in the next proof, and one retry on
//! `use_dpop_nonce`.

use crate::attestation::{challenge_from, fetch_challenge};
use http_client::Fetched;
use jose::jwe::{DecryptPolicy, Enc, EncryptionKey};
use jose::{Algorithm, Curve, PublicJwk, Signer, SoftwareSigner};
use oid4vci::credential::JWT_MEDIA_TYPE;
use oid4vci::{
    CredentialRequest, CredentialResponse, CredentialTarget, DPOP_HEADER, DPOP_NONCE_HEADER,
    DPOP_TOKEN_TYPE, DpopClaims, NonceResponse, NotificationEvent, NotificationRequest,
    ProofClaims, Proofs, ResponseEncryption, TokenRequest, TokenResponse,
};
use std::sync::{Arc, Mutex};

use super::PendingOffer;
use crate::Wallet;
use crate::credential::{Display, HeldCredential};
use crate::error::IssuanceError;
use crate::net::{Outgoing, refused};

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

/// An access token: redacted in `Debug`, wiped on drop; DPoP-bound or a bearer token.
#[derive(Clone)]
pub struct AccessToken {
    value: zeroize::Zeroizing<String>,
    dpop_bound: bool,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// DPoP for one accepted offer: the key (private: redacted `Debug`, zeroized) and the
/// latest `DPoP-Nonce` the server sent.
pub(crate) struct DpopSession {
    key: SoftwareSigner,
    nonce: Mutex<Option<String>>,
}

impl std::fmt::Debug for DpopSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DpopSession(<redacted>)")
    }
}

impl DpopSession {
    /// A session when the server offers an algorithm this wallet signs with (ES256 first).
    fn offered(algs: Option<&[String]>) -> Result<Option<Arc<DpopSession>>, IssuanceError> {
        let Some(algs) = algs else {
            return Ok(None);
        };
        let Some(alg) = [Algorithm::Es256, Algorithm::Es384, Algorithm::Ed25519]
            .into_iter()
            .find(|a| algs.iter().any(|n| n == a.name()))
        else {
            return Ok(None);
        };
        Ok(Some(Arc::new(DpopSession {
            key: SoftwareSigner::generate(alg)?,
            nonce: Mutex::new(None),
        })))
    }

    fn nonce(&self) -> Option<String> {
        self.nonce.lock().ok().and_then(|n| n.clone())
    }

    /// Keeps the server's latest nonce (RFC 9449 §8.2: any response may carry one).
    fn remember(&self, fetched: &Fetched) {
        let fresh = fetched
            .headers
            .get(DPOP_NONCE_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 512);
        if let (Some(n), Ok(mut slot)) = (fresh, self.nonce.lock()) {
            *slot = Some(n.to_owned());
        }
    }
}

/// Whether a refusal asks for a (new) DPoP nonce: `use_dpop_nonce` in the body (token
/// endpoint) or in a `WWW-Authenticate: DPoP` challenge (protected resource).
fn wants_dpop_nonce(fetched: &Fetched, code: Option<&str>) -> bool {
    code == Some("use_dpop_nonce")
        || fetched
            .headers
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("error=\"use_dpop_nonce\""))
}

/// What a notification needs: the endpoint, the id the issuer gave, and the token.
#[derive(Clone, Debug)]
pub struct NotificationHandle {
    /// The notification endpoint.
    pub endpoint: String,
    /// `notification_id`.
    pub notification_id: String,
    /// The credential issuer identifier (the PoP audience).
    pub audience: String,
    token: AccessToken,
    dpop: Option<Arc<DpopSession>>,
}

/// One verified credential.
#[derive(Clone, Debug)]
pub struct Received {
    /// The configuration it was issued for.
    pub configuration_id: String,
    /// The credential, read.
    pub credential: HeldCredential,
    /// How the issuer wants it shown.
    pub display: Display,
}

/// The outcome of [`Wallet::accept`].
#[derive(Clone, Debug)]
pub struct Issued {
    /// The credentials, verified, in the order of the offer (and of the holder keys).
    pub credentials: Vec<Received>,
    /// For [`Wallet::notify`], when the issuer has a notification endpoint (one per
    /// configuration requested).
    pub notifications: Vec<NotificationHandle>,
    /// Whether the credential responses came encrypted.
    pub encrypted: bool,
}

fn check_tx_code(pending: &PendingOffer, given: Option<&str>) -> Result<(), IssuanceError> {
    match (pending.tx_code(), given) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(IssuanceError::TxCodeNotExpected),
        (Some(t), None) => Err(IssuanceError::TxCodeRequired(t.description.clone())),
        (Some(t), Some(code)) => {
            if t.length
                .is_some_and(|n| usize::try_from(n).ok() != Some(code.chars().count()))
            {
                return Err(IssuanceError::TxCodeShape("length"));
            }
            let numeric = !matches!(t.input_mode, Some(oid4vci::InputMode::Text));
            if numeric && !code.chars().all(|c| c.is_ascii_digit()) {
                return Err(IssuanceError::TxCodeShape("numeric"));
            }
            Ok(())
        }
    }
}

fn first_enc(names: &[String]) -> Option<Enc> {
    names.iter().find_map(|n| Enc::from_name(n))
}

/// Whether and how an issuer can encrypt its credential responses (OpenID4VCI 1.0 §8.2):
/// it publishes both a request-encryption key and response-encryption parameters.
#[derive(Clone, Debug)]
pub struct ResponseEncryptionSupport {
    /// The content encryptions it can produce, in its order.
    pub enc_values: Vec<Enc>,
    /// Whether it refuses plaintext responses.
    pub required: bool,
}

/// Where the credential response goes.
#[derive(Clone, Debug)]
pub enum ResponseKey {
    /// In plaintext (the request then goes in plaintext too).
    Plaintext,
    /// Encrypted to this public key with this content encryption; the request is
    /// encrypted to the issuer's key.
    To {
        /// The recipient's public key (EC, `ECDH-ES`).
        jwk: PublicJwk,
        /// Content encryption.
        enc: Enc,
    },
}

/// The credential endpoint's answer, before anyone reads the credentials.
#[derive(Clone, Debug)]
pub enum CredentialReply {
    /// Issued in plaintext.
    Issued {
        /// The credentials, as sent.
        credentials: Vec<serde_json::Value>,
        /// `notification_id`, when sent.
        notification_id: Option<String>,
    },
    /// The issuer deferred issuance (`202`): ask the deferred credential endpoint with
    /// `transaction_id` ([`Wallet::poll_deferred`]), no sooner than `interval` seconds.
    Deferred {
        /// For the deferred credential endpoint.
        transaction_id: String,
        /// Seconds to wait before asking.
        interval: u64,
    },
    /// Encrypted to the [`ResponseKey`]: a compact JWE only its holder can open. When
    /// `deferred` (the issuer answered `202`), it holds a `transaction_id` and an
    /// `interval` instead of credentials.
    Encrypted {
        /// The compact JWE.
        jwe: String,
        /// The issuer deferred issuance.
        deferred: bool,
    },
}

/// The outcome of the token exchange: the access token (redacted, wiped on drop) and the
/// DPoP key it is bound to, if any.
#[derive(Clone)]
pub struct Grant {
    access: AccessToken,
    dpop: Option<Arc<DpopSession>>,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("dpop", &self.dpop.is_some())
            .finish_non_exhaustive()
    }
}

impl Grant {
    /// A handle for notifying `notification_id` to the issuer of `pending`, when it has a
    /// notification endpoint.
    pub fn notification(
        &self,
        pending: &PendingOffer,
        notification_id: &str,
    ) -> Option<NotificationHandle> {
        Some(NotificationHandle {
            endpoint: pending.metadata.notification_endpoint.clone()?,
            notification_id: notification_id.to_owned(),
            audience: pending.issuer().to_owned(),
            token: self.access.clone(),
            dpop: self.dpop.clone(),
        })
    }
}

/// Reads an encrypted credential response with the key it was encrypted to: the
/// credentials, or a deferral.
pub fn decrypt_reply(
    jwe: &str,
    key: &EncryptionKey,
    enc: Enc,
) -> Result<CredentialReply, IssuanceError> {
    let encs = [enc];
    let response = CredentialResponse::from_jwe(jwe, key, &DecryptPolicy::new(&encs).with_zip())
        .map_err(|_| IssuanceError::Response("credential"))?;
    Ok(reply_of(response))
}

fn reply_of(response: CredentialResponse) -> CredentialReply {
    match response {
        CredentialResponse::Deferred {
            transaction_id,
            interval,
        } => CredentialReply::Deferred {
            transaction_id,
            interval,
        },
        CredentialResponse::Issued {
            credentials,
            notification_id,
        } => CredentialReply::Issued {
            credentials,
            notification_id,
        },
    }
}

/// An encrypted exchange: the issuer's key and `enc` for the request, and the
/// `credential_response_encryption` it carries.
struct RequestEncryption {
    issuer_key: PublicJwk,
    request_enc: Enc,
    response: ResponseEncryption,
}

fn response_encryption(
    pending: &PendingOffer,
    response: &ResponseKey,
) -> Result<Option<RequestEncryption>, IssuanceError> {
    match response {
        ResponseKey::Plaintext => Ok(None),
        ResponseKey::To { jwk, enc } => {
            let (issuer_key, request_enc) = pending
                .request_encryption_key()
                .ok_or(IssuanceError::Response("credential (no encryption key)"))?;
            Ok(Some(RequestEncryption {
                issuer_key,
                request_enc,
                response: ResponseEncryption {
                    jwk: jwk.clone(),
                    enc: *enc,
                    zip: false,
                },
            }))
        }
    }
}

impl PendingOffer {
    /// Whether the issuer can encrypt credential responses, and how.
    pub fn response_encryption(&self) -> Option<ResponseEncryptionSupport> {
        let m = &self.metadata;
        let (Some(req), Some(resp)) = (
            &m.credential_request_encryption,
            &m.credential_response_encryption,
        ) else {
            return None;
        };
        self.request_encryption_key()?;
        first_enc(&req.enc_values_supported)?;
        let enc_values: Vec<Enc> = resp
            .enc_values_supported
            .iter()
            .filter_map(|n| Enc::from_name(n))
            .collect();
        (!enc_values.is_empty()).then_some(ResponseEncryptionSupport {
            enc_values,
            required: resp.encryption_required,
        })
    }

    fn request_encryption_key(&self) -> Option<(PublicJwk, Enc)> {
        let req = self.metadata.credential_request_encryption.as_ref()?;
        let key = req.jwks.keys.iter().find_map(|k| {
            PublicJwk::from_value(k)
                .ok()
                .filter(|j| j.curve().is_some())
        })?;
        Some((key, first_enc(&req.enc_values_supported)?))
    }

    /// The offer's batch size limit (1 when the issuer publishes none).
    pub fn batch_size(&self) -> usize {
        self.metadata
            .batch_credential_issuance
            .map_or(1, |b| usize::try_from(b.batch_size).unwrap_or(usize::MAX))
    }
}

impl Wallet {
    /// The response key of a wallet that opens the response itself: a fresh ephemeral
    /// key when the issuer can encrypt and this wallet asks for it (or the issuer
    /// requires it).
    fn own_response_key(
        &self,
        pending: &PendingOffer,
    ) -> Result<Option<(EncryptionKey, Enc)>, IssuanceError> {
        let Some(support) = pending.response_encryption() else {
            return Ok(None);
        };
        if !self.settings.encrypt_credential_response && !support.required {
            return Ok(None);
        }
        let Some(enc) = support.enc_values.first().copied() else {
            return Ok(None);
        };
        Ok(Some((EncryptionKey::generate(Curve::P256)?, enc)))
    }

    /// POSTs with the client attestation and a fresh PoP for `audience` — and a DPoP proof
    /// when `dpop` is given —, answering one `use_attestation_challenge` (challenge from the
    /// response header or the challenge endpoint), one `use_fresh_attestation` and one
    /// `use_dpop_nonce`. Returns the answer, whatever its status.
    #[allow(clippy::too_many_arguments)]
    async fn attested_post(
        &self,
        what: &'static str,
        url: &str,
        audience: &str,
        body: (&'static str, String),
        bearer: Option<&AccessToken>,
        challenge_endpoint: Option<&str>,
        dpop: Option<&DpopSession>,
    ) -> Result<Fetched, IssuanceError> {
        let mut challenge: Option<String> = None;
        let mut refreshed = false;
        let mut challenged = false;
        let mut renonced = false;
        loop {
            let headers = self
                .attestation
                .headers(audience, challenge.as_deref())
                .await?;
            let mut out = Outgoing::post(what, url, JSON, body.0, body.1.clone())
                .header(
                    client_attestation::ATTESTATION_HEADER,
                    headers.attestation.to_string(),
                )
                .header(client_attestation::POP_HEADER, headers.pop);
            // A DPoP-bound token goes with a proof; at the token endpoint (no token yet) the
            // proof asks for the binding.
            let proving = match (dpop, bearer) {
                (Some(d), None) => Some(d),
                (Some(d), Some(t)) if t.dpop_bound => Some(d),
                _ => None,
            };
            if let Some(d) = proving {
                let proof = DpopClaims {
                    jti: self.token(16).map_err(|_| IssuanceError::Random)?,
                    htm: "POST".into(),
                    htu: url.to_owned(),
                    iat: self.now(),
                    access_token: bearer.map(|t| t.value.to_string()),
                    nonce: d.nonce(),
                }
                .sign(&d.key)?;
                out = out.header(DPOP_HEADER, proof);
            }
            if let Some(t) = bearer {
                let scheme = if t.dpop_bound { "DPoP" } else { "Bearer" };
                out = out.header("Authorization", format!("{scheme} {}", t.value.as_str()));
            }
            let fetched = self.net.send(out).await?;
            if let Some(d) = dpop {
                d.remember(&fetched);
            }
            if fetched.status.is_success() {
                return Ok(fetched);
            }
            let error = refused(what, &fetched);
            if proving.is_some() && !renonced && wants_dpop_nonce(&fetched, error.error_code()) {
                renonced = true;
                continue;
            }
            match error.error_code() {
                Some("use_attestation_challenge") if !challenged => {
                    challenged = true;
                    challenge = match challenge_from(&fetched.headers) {
                        Some(c) => Some(c),
                        None => match challenge_endpoint {
                            Some(endpoint) => {
                                Some(fetch_challenge(&self.net.http, endpoint).await?)
                            }
                            None => return Ok(fetched),
                        },
                    };
                }
                Some("use_fresh_attestation") if !refreshed => {
                    refreshed = true;
                    self.attestation.refresh().await?;
                }
                _ => return Ok(fetched),
            }
        }
    }

    /// The pre-authorized code (with `tx_code`) for an access token at the token endpoint,
    /// with the client attestation, its PoP and DPoP when the server offers it.
    pub async fn exchange_token(
        &self,
        pending: &PendingOffer,
        tx_code: Option<&str>,
    ) -> Result<Grant, IssuanceError> {
        check_tx_code(pending, tx_code)?;
        let grant = pending
            .offer
            .pre_authorized_code
            .as_ref()
            .ok_or(IssuanceError::NoPreAuthorizedCode)?;
        let as_meta = &pending.authorization_server;
        let token_endpoint = as_meta
            .token_endpoint
            .as_deref()
            .ok_or(IssuanceError::NoTokenEndpoint)?;
        let form = TokenRequest::new(
            grant.pre_authorized_code.clone(),
            tx_code.map(str::to_owned),
        )
        .to_form();
        let dpop = DpopSession::offered(as_meta.dpop_signing_alg_values_supported.as_deref())?;
        let fetched = self
            .attested_post(
                "token endpoint",
                token_endpoint,
                &as_meta.issuer,
                (FORM, form),
                None,
                as_meta.challenge_endpoint.as_deref(),
                dpop.as_deref(),
            )
            .await?;
        if !fetched.status.is_success() {
            return Err(refused("token endpoint", &fetched).into());
        }
        let token = TokenResponse::from_json(&fetched.body)
            .map_err(|_| IssuanceError::Response("token"))?;
        // RFC 9449 §5: `DPoP` means bound; a server may answer `Bearer` to a proof it
        // chose not to bind, and the token is then used as a bearer token.
        let dpop_bound = token.token_type.eq_ignore_ascii_case(DPOP_TOKEN_TYPE);
        if dpop_bound && dpop.is_none() {
            return Err(IssuanceError::UnexpectedDpopToken);
        }
        Ok(Grant {
            access: AccessToken {
                value: zeroize::Zeroizing::new(token.access_token),
                dpop_bound,
            },
            dpop,
        })
    }

    /// A fresh `c_nonce` from the issuer's nonce endpoint (`None` when it has none).
    pub async fn fetch_nonce(
        &self,
        pending: &PendingOffer,
    ) -> Result<Option<String>, IssuanceError> {
        let Some(endpoint) = &pending.metadata.nonce_endpoint else {
            return Ok(None);
        };
        let out = Outgoing::post("nonce endpoint", endpoint, JSON, FORM, String::new());
        let fetched = self.net.send_ok(out).await?;
        Ok(Some(
            NonceResponse::from_json(&fetched.body)
                .map_err(|_| IssuanceError::Response("nonce"))?
                .c_nonce,
        ))
    }

    /// Sends the credential request for `configuration_id` with `proofs` (proof JWTs,
    /// signed by whoever holds the holder keys) and returns the answer unread: in
    /// plaintext, or encrypted to `response` (the request then goes encrypted to the
    /// issuer's key). Checks the number of credentials against the proofs when it can
    /// read them.
    pub async fn send_credential_request(
        &self,
        pending: &PendingOffer,
        grant: &Grant,
        configuration_id: &str,
        proofs: Vec<String>,
        response: &ResponseKey,
    ) -> Result<CredentialReply, IssuanceError> {
        let count = proofs.len();
        let encryption = response_encryption(pending, response)?;
        let request = CredentialRequest {
            target: CredentialTarget::ConfigurationId(configuration_id.to_owned()),
            proofs: Some(Proofs::Jwt(proofs)),
            credential_response_encryption: encryption.as_ref().map(|e| e.response.clone()),
        };
        let url = pending.metadata.credential_endpoint.clone();
        self.post_for_credentials(
            "credential endpoint",
            &url,
            pending,
            grant,
            request.to_value(),
            encryption.as_ref(),
            count,
        )
        .await
    }

    /// Asks the deferred credential endpoint (§9) for the credentials of
    /// `transaction_id`, with the same response key as the credential request; `count` is
    /// the number of proofs that request carried. Returns the credentials, or a deferral
    /// again.
    pub async fn poll_deferred(
        &self,
        pending: &PendingOffer,
        grant: &Grant,
        transaction_id: &str,
        response: &ResponseKey,
        count: usize,
    ) -> Result<CredentialReply, IssuanceError> {
        let url = pending
            .metadata
            .deferred_credential_endpoint
            .clone()
            .ok_or(IssuanceError::Response(
                "deferred credential (the issuer publishes no deferred credential endpoint)",
            ))?;
        let encryption = response_encryption(pending, response)?;
        let mut body = serde_json::Map::new();
        body.insert("transaction_id".into(), transaction_id.into());
        if let Some(e) = &encryption {
            body.insert(
                "credential_response_encryption".into(),
                e.response.to_value(),
            );
        }
        self.post_for_credentials(
            "deferred credential endpoint",
            &url,
            pending,
            grant,
            serde_json::Value::Object(body),
            encryption.as_ref(),
            count,
        )
        .await
    }

    /// POSTs `body` (encrypted to the issuer when `encryption` is given) with the token
    /// and reads the answer: the credentials, a deferral (`202`), or the encrypted form
    /// of either, unread.
    #[allow(clippy::too_many_arguments)]
    async fn post_for_credentials(
        &self,
        what: &'static str,
        url: &str,
        pending: &PendingOffer,
        grant: &Grant,
        body: serde_json::Value,
        encryption: Option<&RequestEncryption>,
        count: usize,
    ) -> Result<CredentialReply, IssuanceError> {
        let body = match encryption {
            Some(e) => (
                JWT_MEDIA_TYPE,
                jose::jwe::encrypt(
                    body.to_string().as_bytes(),
                    &e.issuer_key,
                    e.request_enc,
                    &jose::jwe::EncryptOptions::default(),
                )?,
            ),
            None => (JSON, body.to_string()),
        };
        let fetched = self
            .attested_post(
                what,
                url,
                pending.issuer(),
                body,
                Some(&grant.access),
                pending.authorization_server.challenge_endpoint.as_deref(),
                grant.dpop.as_deref(),
            )
            .await?;
        if !fetched.status.is_success() {
            return Err(refused(what, &fetched).into());
        }
        let deferred = fetched.status == reqwest::StatusCode::ACCEPTED;
        let encrypted = fetched.content_type().as_deref() == Some(JWT_MEDIA_TYPE);
        let reply = match (encryption, encrypted) {
            (Some(_), true) => {
                let text = String::from_utf8_lossy(&fetched.body).trim().to_owned();
                jose::jwe::CompactJwe::parse(&text)
                    .map_err(|_| IssuanceError::Response("credential (not a compact JWE)"))?;
                return Ok(CredentialReply::Encrypted {
                    jwe: text,
                    deferred,
                });
            }
            (None, true) => {
                return Err(IssuanceError::Response(
                    "credential (unexpectedly encrypted)",
                ));
            }
            (_, false) => reply_of(
                CredentialResponse::from_json(&fetched.body)
                    .map_err(|_| IssuanceError::Response("credential"))?,
            ),
        };
        if let CredentialReply::Issued { credentials, .. } = &reply
            && credentials.len() != count
        {
            return Err(IssuanceError::CredentialCount {
                requested: count,
                returned: credentials.len(),
            });
        }
        Ok(reply)
    }

    /// Accepts `pending`: one credential per holder key for each offered configuration
    /// (several keys = a batch, within the issuer's batch size). Every credential is
    /// verified before this returns; nothing is stored here.
    pub async fn accept(
        &self,
        pending: &PendingOffer,
        tx_code: Option<&str>,
        holders: &[&dyn Signer],
    ) -> Result<Issued, IssuanceError> {
        check_tx_code(pending, tx_code)?;
        let allowed = pending.batch_size();
        if holders.is_empty() || holders.len() > allowed {
            return Err(IssuanceError::BatchSize {
                requested: holders.len(),
                allowed,
            });
        }
        for (id, config) in pending.configurations() {
            let config = config.ok_or_else(|| IssuanceError::UnknownConfiguration(id.into()))?;
            if let Some(jwt) = config
                .proof_types_supported
                .as_ref()
                .and_then(|p| p.get("jwt"))
            {
                for h in holders {
                    let alg = h.algorithm().name();
                    if !jwt
                        .proof_signing_alg_values_supported
                        .iter()
                        .any(|a| a == alg)
                    {
                        return Err(IssuanceError::UnsupportedProofAlgorithm(alg));
                    }
                }
            }
        }
        let grant = self.exchange_token(pending, tx_code).await?;

        let holder_keys: Vec<PublicJwk> = holders.iter().map(|h| h.public_jwk().clone()).collect();
        let mut issued = Issued {
            credentials: Vec::new(),
            notifications: Vec::new(),
            encrypted: false,
        };
        // The keys that verified signed metadata serve for the credentials too.
        let mut keys = pending.issuer_keys.clone();
        for id in &pending.offer.credential_configuration_ids {
            let vct = pending
                .metadata
                .credential_configurations_supported
                .get(id)
                .and_then(|c| c.vct.clone())
                .unwrap_or_default();
            let nonce = self.fetch_nonce(pending).await?;
            let now = self.now();
            let proofs = holders
                .iter()
                .map(|h| {
                    ProofClaims {
                        aud: pending.issuer().to_owned(),
                        iat: now,
                        nonce: nonce.clone(),
                        iss: None,
                    }
                    .sign(*h)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let own = self.own_response_key(pending)?;
            let response = match &own {
                Some((key, enc)) => ResponseKey::To {
                    jwk: key.public_jwk_for_encryption(),
                    enc: *enc,
                },
                None => ResponseKey::Plaintext,
            };
            let reply = self
                .send_credential_request(pending, &grant, id, proofs, &response)
                .await?;
            let (texts, notification_id) = match (reply, &own) {
                (CredentialReply::Encrypted { jwe, .. }, Some((key, enc))) => {
                    issued.encrypted = true;
                    match decrypt_reply(&jwe, key, *enc)? {
                        CredentialReply::Issued {
                            credentials,
                            notification_id,
                        } => (credentials, notification_id),
                        CredentialReply::Deferred { .. } => return Err(IssuanceError::Deferred),
                        CredentialReply::Encrypted { .. } => {
                            return Err(IssuanceError::Response("credential"));
                        }
                    }
                }
                (
                    CredentialReply::Issued {
                        credentials,
                        notification_id,
                    },
                    _,
                ) => (credentials, notification_id),
                (CredentialReply::Deferred { .. }, _) => return Err(IssuanceError::Deferred),
                (CredentialReply::Encrypted { .. }, None) => {
                    return Err(IssuanceError::Response(
                        "credential (unexpectedly encrypted)",
                    ));
                }
            };
            if texts.len() != holders.len() {
                return Err(IssuanceError::CredentialCount {
                    requested: holders.len(),
                    returned: texts.len(),
                });
            }
            let handle = notification_id.and_then(|nid| grant.notification(pending, &nid));
            for (index, text) in texts.iter().enumerate() {
                let checked = match text.as_str() {
                    Some(t) => {
                        self.verify_received(t, pending.issuer(), &vct, &holder_keys, &mut keys)
                            .await
                    }
                    None => Err(crate::error::CredentialCheck::NotSdJwtVc),
                };
                match checked {
                    Ok(credential) => issued.credentials.push(Received {
                        configuration_id: id.clone(),
                        credential,
                        display: pending.display(id),
                    }),
                    Err(source) => {
                        if let Some(h) = &handle {
                            // Best effort: the refusal stands whether or not the issuer
                            // hears of it.
                            let _ = self
                                .notify(h, NotificationEvent::CredentialFailure, None)
                                .await;
                        }
                        return Err(IssuanceError::Credential { index, source });
                    }
                }
            }
            issued.notifications.extend(handle);
        }
        Ok(issued)
    }

    /// Sends a notification (`credential_accepted` after storing, `credential_deleted`
    /// after the holder deleted them, `credential_failure`).
    pub async fn notify(
        &self,
        handle: &NotificationHandle,
        event: NotificationEvent,
        description: Option<&str>,
    ) -> Result<(), IssuanceError> {
        let body = NotificationRequest {
            notification_id: handle.notification_id.clone(),
            event,
            event_description: description.map(str::to_owned),
        }
        .to_value()
        .to_string();
        let fetched = self
            .attested_post(
                "notification endpoint",
                &handle.endpoint,
                &handle.audience,
                (JSON, body),
                Some(&handle.token),
                None,
                handle.dpop.as_deref(),
            )
            .await?;
        if fetched.status.is_success() {
            Ok(())
        } else {
            Err(IssuanceError::Peer(refused(
                "notification endpoint",
                &fetched,
            )))
        }
    }
}
