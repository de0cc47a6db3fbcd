//! Presenting credentials (OpenID4VP 1.0).
//!
//! 1. [`Wallet::resolve_request`]: the `openid4vp://` invocation; the request object
//!    fetched from `request_uri` (GET, or POST with `wallet_metadata` and a fresh
//!    `wallet_nonce` when `request_uri_method=post`) through the guarded client, or taken
//!    by value; its signature, `typ`, time, `wallet_nonce` and the client identifier
//!    prefix verified (`x509_san_dns`: a SAN equals the identifier and the response URI's
//!    host; `x509_hash`: the leaf's hash; `redirect_uri`: unsigned only, the response URI
//!    equals the identifier); then the verifier's registration, when one is configured:
//!    a request for a claim it is not registered for is refused before the holder sees it;
//! 2. [`Wallet::consent`] (in [`consent`]): the DCQL query matched against the holder's
//!    credentials, with every reason a credential does not answer, and the consent model;
//! 3. [`Wallet::present`] (in [`respond`]): exactly the chosen claims, KB-JWT `aud` = the
//!    full client identifier and `nonce` = the request's, posted by `direct_post` or
//!    `direct_post.jwt` (encrypted to the verifier's key); the verifier's `redirect_uri`
//!    returned, and [`Wallet::follow_redirect`] to fetch it. [`Wallet::decline`] answers
//!    `access_denied`, [`Wallet::refuse`] any other §8.5 code (a request no held
//!    credential answers); an authentic request object with invalid parameters is
//!    answered with its error code by [`Wallet::resolve_request`] itself.

pub mod consent;
pub mod respond;

use jose::TrustAnchors;
use jose::x5c::LeafInfo;
use oid4vp::request::object::{MEDIA_TYPE, WalletPolicy};
use oid4vp::{
    AuthorizationRequest, ClientId, ClientIdPrefix, Invocation, Refusal, RequestUriMethod,
    RequestUriPost,
};
use serde_json::json;

use crate::Wallet;
use crate::error::PresentationError;
use crate::net::Outgoing;

pub use consent::Consent;
pub use consent::{CandidateConsent, Choice, ChosenCredential, ConsentClaim, QueryConsent};
pub use respond::{
    Audience, Presentations, Presented, build_presentations, build_presentations_for,
};

/// Who is asking, as far as the request proves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierIdentity {
    /// The full client identifier.
    pub client_id: String,
    /// Its prefix.
    pub prefix: ClientIdPrefix,
    /// The signing certificate's subject (signed requests).
    pub certificate_subject: Option<String>,
    /// The signing certificate's DNS names (signed requests).
    pub dns_names: Vec<String>,
    /// Whether the request object was signed (and verified).
    pub signed: bool,
}

/// A verified presentation request.
#[derive(Clone, Debug)]
pub struct PresentationRequest {
    /// The request parameters.
    pub request: AuthorizationRequest,
    /// The verifier.
    pub verifier: VerifierIdentity,
}

fn identity(
    request: &AuthorizationRequest,
    leaf: Option<&LeafInfo>,
    signed: bool,
) -> VerifierIdentity {
    VerifierIdentity {
        client_id: request.client_id.as_str().to_owned(),
        prefix: request.client_id.prefix(),
        certificate_subject: leaf.map(|l| l.subject().to_owned()),
        dns_names: leaf.map(|l| l.dns_sans().to_vec()).unwrap_or_default(),
        signed,
    }
}

/// The string names of a claims path pointer up to its first non-name element.
fn leading_names(pointer: &oid4vp::dcql::ClaimsPathPointer) -> Vec<String> {
    pointer
        .elements()
        .iter()
        .map_while(|e| match e {
            oid4vp::dcql::PathElement::Key(k) => Some(k.clone()),
            _ => None,
        })
        .collect()
}

impl Wallet {
    /// Resolves and verifies an `openid4vp://` (or `https://` wallet link) request.
    ///
    /// A signed request that asks for more than the verifier's registration allows (or
    /// comes from an unregistered verifier when registration is required) is answered
    /// `access_denied`; one with `transaction_data`, which this wallet does not support,
    /// `invalid_transaction_data`.
    ///
    /// A signed request needs verifier trust anchors: without any, an `x509_*` client
    /// identifier is refused before anything is fetched
    /// ([`PresentationError::NoVerifierAnchors`]). A request object that verifies but
    /// whose parameters are invalid is answered with the error code at the response URI
    /// the verifier signed ([`PresentationError::InvalidRequestAnswered`]).
    pub async fn resolve_request(
        &self,
        uri: &str,
    ) -> Result<PresentationRequest, PresentationError> {
        let now = self.now();
        let resolved = match Invocation::parse(uri.trim())? {
            Invocation::ByValue(request) => {
                let id = identity(&request, None, false);
                PresentationRequest {
                    request: *request,
                    verifier: id,
                }
            }
            Invocation::RequestObject { client_id, request } => {
                let anchors = self.anchors_for(&client_id)?;
                self.verified_object(&request, &client_id, None, anchors, now)
                    .await?
            }
            Invocation::ByReference {
                client_id,
                request_uri,
                request_uri_method,
            } => {
                // Checked before anything is sent, so a refused address is never contacted.
                let anchors = self.anchors_for(&client_id)?;
                let (fetched, nonce) = match request_uri_method {
                    Some(RequestUriMethod::Post) => {
                        let nonce = self.token(16).map_err(|_| {
                            PresentationError::Peer(crate::error::PeerError::Malformed {
                                what: "random generator",
                                detail: "failed".into(),
                            })
                        })?;
                        let body = RequestUriPost {
                            wallet_metadata: Some(self.wallet_metadata().to_string()),
                            wallet_nonce: Some(nonce.clone()),
                        }
                        .to_form();
                        let out = Outgoing::post(
                            "request_uri",
                            &request_uri,
                            MEDIA_TYPE,
                            "application/x-www-form-urlencoded",
                            body,
                        );
                        (self.net.send_ok(out).await?, Some(nonce))
                    }
                    _ => (
                        self.net
                            .send_ok(Outgoing::get("request_uri", &request_uri, MEDIA_TYPE))
                            .await?,
                        None,
                    ),
                };
                let content_type = fetched.content_type();
                if content_type.as_deref() != Some(MEDIA_TYPE) {
                    return Err(PresentationError::RequestObjectType(content_type));
                }
                let text = String::from_utf8_lossy(&fetched.body);
                self.verified_object(&text, &client_id, nonce.as_deref(), anchors, now)
                    .await?
            }
        };
        if let Err(refused) = self.check_registration(&resolved) {
            // An authenticated verifier the wallet's policy refuses is owed an answer
            // too, so it does not wait; whether it takes it changes nothing here.
            if resolved.verifier.signed {
                let _ = self
                    .refuse(
                        &resolved,
                        oid4vp::ErrorCode::AccessDenied,
                        &refused.to_string(),
                    )
                    .await;
            }
            return Err(refused);
        }
        if resolved.request.transaction_data.is_some() {
            // §5.1: a wallet that does not support transaction data MUST refuse the
            // request; presenting without binding the data would let the verifier take
            // the presentation for a consent the holder never saw.
            if resolved.verifier.signed {
                let _ = self
                    .refuse(
                        &resolved,
                        oid4vp::ErrorCode::InvalidTransactionData,
                        "this wallet does not support transaction_data",
                    )
                    .await;
            }
            return Err(PresentationError::TransactionDataUnsupported);
        }
        Ok(resolved)
    }

    /// The verifier trust anchors a request with `client_id` needs: the configured ones
    /// for the `x509_*` prefixes (refused when there are none), none otherwise.
    fn anchors_for(&self, client_id: &str) -> Result<Option<&TrustAnchors>, PresentationError> {
        let id = ClientId::parse(client_id).map_err(oid4vp::RequestError::from)?;
        match id.prefix() {
            ClientIdPrefix::X509SanDns | ClientIdPrefix::X509Hash => {
                match &self.settings.verifier_anchors {
                    Some(anchors) => Ok(Some(anchors)),
                    None => Err(PresentationError::NoVerifierAnchors(client_id.to_owned())),
                }
            }
            _ => Ok(None),
        }
    }

    async fn verified_object(
        &self,
        jwt: &str,
        client_id: &str,
        wallet_nonce: Option<&str>,
        anchors: Option<&TrustAnchors>,
        now: i64,
    ) -> Result<PresentationRequest, PresentationError> {
        // Only the x509 prefixes (which come with anchors) are verified by signature;
        // any other prefix cannot sign a request this wallet accepts.
        let Some(anchors) = anchors else {
            let prefix = ClientId::parse(client_id)
                .map_err(oid4vp::RequestError::from)?
                .prefix();
            let rule = match prefix {
                ClientIdPrefix::RedirectUri => oid4vp::ClientIdError::MustNotBeSigned(prefix),
                other => oid4vp::ClientIdError::NotImplemented(other),
            };
            return Err(oid4vp::RequestError::from(oid4vp::ObjectError::ClientId(rule)).into());
        };
        let policy = WalletPolicy {
            algorithms: &self.settings.algorithms,
            anchors,
            skew: self.settings.skew,
            client_trusted: false,
        };
        let request = match oid4vp::verify_request_object_for_reply(
            jwt,
            client_id,
            wallet_nonce,
            &policy,
            now,
        ) {
            Ok(r) => r,
            Err(Refusal {
                error,
                reply_to: Some(reply_to),
            }) => {
                let told = self.refuse_malformed(&reply_to, &error).await;
                return Err(PresentationError::InvalidRequestAnswered {
                    code: error.error_code().as_str(),
                    source: error,
                    told: told.is_ok(),
                });
            }
            Err(Refusal { error, .. }) => return Err(error.into()),
        };
        // The leaf was validated inside; read it again for display.
        let leaf = jose::CompactJws::parse(jwt.trim())
            .ok()
            .and_then(|j| j.header().x5c().map(<[Vec<u8>]>::to_vec))
            .and_then(|chain| jose::x5c::validate_chain(&chain, anchors, now).ok());
        let verifier = identity(&request, leaf.as_ref(), true);
        Ok(PresentationRequest { request, verifier })
    }

    /// The metadata sent with a `request_uri` POST (§10.1).
    fn wallet_metadata(&self) -> serde_json::Value {
        let algs: Vec<&str> = self.settings.algorithms.iter().map(|a| a.name()).collect();
        json!({
            "vp_formats_supported": {"dc+sd-jwt": {"sd-jwt_alg_values": algs, "kb-jwt_alg_values": algs}},
            "client_id_prefixes_supported": ["x509_san_dns", "x509_hash", "redirect_uri"],
            "request_object_signing_alg_values_supported": algs,
            "authorization_encryption_alg_values_supported": ["ECDH-ES"],
            "authorization_encryption_enc_values_supported": ["A128GCM", "A256GCM"],
        })
    }

    /// Refuses a request that asks for more than the verifier's registration allows.
    fn check_registration(&self, resolved: &PresentationRequest) -> Result<(), PresentationError> {
        let client_id = &resolved.verifier.client_id;
        let Some(registration) = self.settings.registrations.get(client_id) else {
            if self.settings.require_registration {
                return Err(PresentationError::UnregisteredVerifier(client_id.clone()));
            }
            return Ok(());
        };
        for query in resolved.request.dcql_query.credentials() {
            let claims: Vec<Vec<String>> = match &query.claims {
                // No claims asked: the whole credential.
                None => vec![Vec::new()],
                Some(list) => list.iter().map(|c| leading_names(&c.path)).collect(),
            };
            for asked in claims {
                let allowed = registration
                    .claims
                    .iter()
                    .any(|r| asked.len() >= r.len() && asked.iter().zip(r).all(|(a, b)| a == b));
                if !allowed {
                    return Err(PresentationError::ExceedsRegistration {
                        client_id: client_id.clone(),
                        claim: if asked.is_empty() {
                            "the whole credential".into()
                        } else {
                            asked.join(".")
                        },
                    });
                }
            }
        }
        Ok(())
    }
}
