//! Sending the answer: the presentations for exactly the chosen claims (KB-JWT `aud` =
//! the full client identifier, `nonce` = the request's), posted to the response URI with
//! `direct_post` or `direct_post.jwt`; or the holder's refusal (`access_denied`).

use jose::Signer;
use jose::jwe::{Enc, EncryptOptions};
use oid4vp::dcql::{Pick, PlannedPresentation, Selection};
use oid4vp::{AuthorizationResponse, DirectPostBody, Presentation, ResponseMode, VpToken};
use serde_json::Value;

use super::PresentationRequest;
use super::consent::{Choice, dotted};
use crate::Wallet;
use crate::credential::HeldCredential;
use crate::error::PresentationError;
use crate::net::{Outgoing, refused};

const FORM: &str = "application/x-www-form-urlencoded";

/// What was sent and what the verifier answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presented {
    /// Per credential query answered: the credential index and the claims disclosed.
    pub disclosed: Vec<(String, usize, Vec<String>)>,
    /// Where the verifier sends the holder next, if anywhere.
    pub redirect_uri: Option<String>,
}

impl Wallet {
    /// Presents `choice` for `request`: checks it against the query, builds one
    /// presentation per chosen credential with exactly the chosen claims, and posts the
    /// response. An error before posting means nothing was sent.
    pub async fn present(
        &self,
        request: &PresentationRequest,
        held: &[HeldCredential],
        choice: &Choice,
        holder: &dyn Signer,
    ) -> Result<Presented, PresentationError> {
        if choice.picks.is_empty() {
            return Err(PresentationError::NothingChosen);
        }
        let consent = self.consent(request, held);
        let selection = Selection {
            picks: choice
                .picks
                .iter()
                .map(|p| Pick {
                    query_id: p.query_id.clone(),
                    credential: p.credential,
                    option: 0,
                })
                .collect(),
        };
        let plan = consent.matched().plan(&selection)?;
        let now = self.now();
        let mut vp_token = VpToken::new();
        let mut disclosed = Vec::new();
        for (planned, pick) in plan.presentations.iter().zip(&choice.picks) {
            let credential = held
                .get(pick.credential)
                .ok_or(PresentationError::NotACandidate(pick.credential))?;
            let root = Value::Object(credential.claims.clone());
            for path in &pick.disclose {
                if path.lookup(&root).is_none() {
                    return Err(PresentationError::UnknownClaim(dotted(path)));
                }
            }
            let planned = PlannedPresentation {
                disclose: credential.matching.disclosures_for(&pick.disclose),
                ..planned.clone()
            };
            let sd = sd_jwt::SdJwt::parse(&credential.compact, &sd_jwt::Limits::DEFAULT)
                .map_err(crate::credential::HeldError::from)?;
            let mut presenter = sd.presenter().map_err(crate::credential::HeldError::from)?;
            let vp = oid4vp::sd_jwt_vc::present(
                &mut presenter,
                &planned,
                &request.request,
                now,
                holder,
            )?;
            vp_token.push(&planned.query_id, Presentation::Text(vp));
            disclosed.push((
                planned.query_id.clone(),
                pick.credential,
                planned.disclose.iter().map(dotted).collect(),
            ));
        }
        let response = AuthorizationResponse::Success {
            vp_token,
            state: request.request.state.clone(),
        };
        let redirect_uri = self.post_response(request, &response, true).await?;
        Ok(Presented {
            disclosed,
            redirect_uri,
        })
    }

    /// Tells the verifier the holder refused (`access_denied`).
    pub async fn decline(
        &self,
        request: &PresentationRequest,
    ) -> Result<Option<String>, PresentationError> {
        let response = AuthorizationResponse::Error {
            error: oid4vp::ErrorCode::AccessDenied.as_str().to_owned(),
            error_description: Some("the holder declined".into()),
            state: request.request.state.clone(),
        };
        self.post_response(request, &response, false).await
    }

    /// Posts to the response URI; returns the verifier's `redirect_uri`. An encrypted
    /// mode without a usable key fails for presentations; an error response may then go
    /// in the clear (§8.3.1).
    async fn post_response(
        &self,
        request: &PresentationRequest,
        response: &AuthorizationResponse,
        must_encrypt: bool,
    ) -> Result<Option<String>, PresentationError> {
        let r = &request.request;
        let body = match r.response_mode {
            ResponseMode::DirectPost => DirectPostBody::Plain(response.clone()),
            ResponseMode::DirectPostJwt => {
                match r
                    .client_metadata
                    .as_ref()
                    .and_then(|m| m.response_encryption(&Enc::ALL))
                {
                    Some((jwk, enc)) => {
                        let payload = Value::Object(response.to_payload()).to_string();
                        DirectPostBody::Encrypted(jose::jwe::encrypt(
                            payload.as_bytes(),
                            jwk,
                            enc,
                            &EncryptOptions::default(),
                        )?)
                    }
                    None if must_encrypt => return Err(PresentationError::NoEncryptionKey),
                    None => DirectPostBody::Plain(response.clone()),
                }
            }
        };
        let out = Outgoing::post(
            "verifier response endpoint",
            &r.response_uri,
            "application/json",
            FORM,
            body.to_form(),
        );
        let fetched = self.net.send(out).await?;
        if !fetched.status.is_success() {
            return Err(PresentationError::Refused(refused(
                "verifier response endpoint",
                &fetched,
            )));
        }
        if fetched.body.is_empty() {
            return Ok(None);
        }
        let reply = jose::json::parse_value(&fetched.body)
            .ok()
            .and_then(|v| oid4vp::ResponseUriReply::from_value(&v).ok())
            .ok_or_else(|| {
                PresentationError::Refused(crate::error::PeerError::Malformed {
                    what: "verifier response endpoint",
                    detail: "the reply is not a JSON object with an optional redirect_uri".into(),
                })
            })?;
        match reply.redirect_uri {
            Some(uri) => {
                let ok = url::Url::parse(&uri)
                    .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some());
                if ok {
                    Ok(Some(uri))
                } else {
                    Err(PresentationError::RedirectUri)
                }
            }
            None => Ok(None),
        }
    }

    /// Follows the verifier's `redirect_uri` (as a user agent would, through the guarded
    /// client, without following further redirects); returns the HTTP status.
    pub async fn follow_redirect(&self, uri: &str) -> Result<u16, PresentationError> {
        let fetched = self
            .net
            .send(Outgoing::get(
                "verifier redirect_uri",
                uri,
                "text/html, */*",
            ))
            .await?;
        Ok(fetched.status.as_u16())
    }
}
