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

/// An encrypted exchange with the credential endpoint: the issuer's key and `enc` for
/// the request, and this flow's ephemeral key for the response.
struct Encryption {
    issuer_key: PublicJwk,
    request_enc: Enc,
    response_enc: Enc,
    key: EncryptionKey,
}

fn first_enc(names: &[String]) -> Option<Enc> {
    names.iter().find_map(|n| Enc::from_name(n))
}

impl Wallet {
    fn encryption(&self, pending: &PendingOffer) -> Result<Option<Encryption>, IssuanceError> {
        let m = &pending.metadata;
        let (Some(req), Some(resp)) = (
            &m.credential_request_encryption,
            &m.credential_response_encryption,
        ) else {
            return Ok(None);
        };
        if !self.settings.encrypt_credential_response && !resp.encryption_required {
            return Ok(None);
        }
        let issuer_key = req.jwks.keys.iter().find_map(|k| {
            PublicJwk::from_value(k)
                .ok()
                .filter(|j| j.curve().is_some())
        });
        let (Some(issuer_key), Some(request_enc), Some(response_enc)) = (
            issuer_key,
            first_enc(&req.enc_values_supported),
            first_enc(&resp.enc_values_supported),
        ) else {
            return Ok(None);
        };
        Ok(Some(Encryption {
            issuer_key,
            request_enc,
            response_enc,
            key: EncryptionKey::generate(Curve::P256)?,
        }))
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
        let allowed = pending
            .metadata
            .batch_credential_issuance
            .map_or(1, |b| usize::try_from(b.batch_size).unwrap_or(usize::MAX));
        if holders.is_empty() || holders.len() > allowed {
            return Err(IssuanceError::BatchSize {
                requested: holders.len(),
                allowed,
            });
        }
        let grant = pending
            .offer
            .pre_authorized_code
            .as_ref()
            .ok_or(IssuanceError::NoPreAuthorizedCode)?;
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
        let access = AccessToken {
            value: zeroize::Zeroizing::new(token.access_token),
            dpop_bound,
        };

        let holder_keys: Vec<PublicJwk> = holders.iter().map(|h| h.public_jwk().clone()).collect();
        let mut issued = Issued {
            credentials: Vec::new(),
            notifications: Vec::new(),
            encrypted: false,
        };
        let mut keys = None;
        for id in &pending.offer.credential_configuration_ids {
            let vct = pending
                .metadata
                .credential_configurations_supported
                .get(id)
                .and_then(|c| c.vct.clone())
                .unwrap_or_default();
            let (texts, notification_id, encrypted) = self
                .request_credential(pending, id, holders, &access, dpop.as_deref())
                .await?;
            issued.encrypted |= encrypted;
            let handle = match (&pending.metadata.notification_endpoint, notification_id) {
                (Some(endpoint), Some(nid)) => Some(NotificationHandle {
                    endpoint: endpoint.clone(),
                    notification_id: nid,
                    audience: pending.issuer().to_owned(),
                    token: access.clone(),
                    dpop: dpop.clone(),
                }),
                _ => None,
            };
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

    /// Nonce, proofs, the credential request (encrypted when possible) and its response.
    async fn request_credential(
        &self,
        pending: &PendingOffer,
        configuration_id: &str,
        holders: &[&dyn Signer],
        access: &AccessToken,
        dpop: Option<&DpopSession>,
    ) -> Result<(Vec<serde_json::Value>, Option<String>, bool), IssuanceError> {
        let meta = &pending.metadata;
        let nonce = match &meta.nonce_endpoint {
            Some(endpoint) => {
                let out = Outgoing::post("nonce endpoint", endpoint, JSON, FORM, String::new());
                let fetched = self.net.send_ok(out).await?;
                Some(
                    NonceResponse::from_json(&fetched.body)
                        .map_err(|_| IssuanceError::Response("nonce"))?
                        .c_nonce,
                )
            }
            None => None,
        };
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
        let encryption = self.encryption(pending)?;
        let request = CredentialRequest {
            target: CredentialTarget::ConfigurationId(configuration_id.to_owned()),
            proofs: Some(Proofs::Jwt(proofs)),
            credential_response_encryption: encryption.as_ref().map(|e| ResponseEncryption {
                jwk: e.key.public_jwk_for_encryption(),
                enc: e.response_enc,
                zip: false,
            }),
        };
        let body = match &encryption {
            Some(e) => (
                JWT_MEDIA_TYPE,
                request.to_jwe(&e.issuer_key, e.request_enc)?,
            ),
            None => (JSON, request.to_value().to_string()),
        };
        let fetched = self
            .attested_post(
                "credential endpoint",
                &meta.credential_endpoint,
                pending.issuer(),
                body,
                Some(access),
                pending.authorization_server.challenge_endpoint.as_deref(),
                dpop,
            )
            .await?;
        if !fetched.status.is_success() {
            return Err(refused("credential endpoint", &fetched).into());
        }
        let encrypted = fetched.content_type().as_deref() == Some(JWT_MEDIA_TYPE);
        let response = match (&encryption, encrypted) {
            (Some(e), true) => {
                let text = String::from_utf8_lossy(&fetched.body);
                let encs = [e.response_enc];
                CredentialResponse::from_jwe(&text, &e.key, &DecryptPolicy::new(&encs).with_zip())
            }
            (None, true) => {
                return Err(IssuanceError::Response(
                    "credential (unexpectedly encrypted)",
                ));
            }
            (_, false) => CredentialResponse::from_json(&fetched.body),
        }
        .map_err(|_| IssuanceError::Response("credential"))?;
        match response {
            CredentialResponse::Deferred { .. } => Err(IssuanceError::Deferred),
            CredentialResponse::Issued {
                credentials,
                notification_id,
            } => {
                if credentials.len() != holders.len() {
                    return Err(IssuanceError::CredentialCount {
                        requested: holders.len(),
                        returned: credentials.len(),
                    });
                }
                Ok((credentials, notification_id, encrypted))
            }
        }
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
