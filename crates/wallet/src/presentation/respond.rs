//! Sending the answer: the presentations for exactly the chosen claims (KB-JWT `aud` =
//! the full client identifier, `nonce` = the request's), posted to the response URI with
//! `direct_post` or `direct_post.jwt`; or the error response when the request will not be
//! answered (`access_denied` when the holder declines or holds nothing that answers,
//! `invalid_request` and its kin for an authentic request with invalid parameters), so
//! the verifier learns at once instead of when its transaction expires.

use jose::Signer;
use jose::jwe::{Enc, EncryptOptions};
use oid4vp::dcql::{Pick, PlannedPresentation, Selection};
use oid4vp::{
    AuthorizationResponse, ClientMetadata, DirectPostBody, ErrorCode, Presentation, ReplyTo,
    ResponseMode, VpToken,
};
use serde_json::Value;

use super::PresentationRequest;
use super::consent::{Choice, Consent, dotted};
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

/// Where and how a response goes.
struct Destination<'a> {
    response_uri: &'a str,
    mode: ResponseMode,
    client_metadata: Option<&'a ClientMetadata>,
}

/// An error response; the description is cut down to the characters RFC 6749 §4.1.2.1
/// allows, so a refusal reason quoting the request can always be sent.
fn error_response(
    code: ErrorCode,
    description: &str,
    state: Option<String>,
) -> AuthorizationResponse {
    let description: String = description
        .chars()
        .map(|c| {
            let mut b = [0u8; 4];
            if oid4vp::error::is_error_text(c.encode_utf8(&mut b)) {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect();
    AuthorizationResponse::Error {
        error: code.as_str().to_owned(),
        error_description: (!description.is_empty()).then_some(description),
        state,
    }
}

/// The presentations for a choice, not yet sent.
#[derive(Debug)]
pub struct Presentations {
    /// The `vp_token` to send.
    pub vp_token: VpToken,
    /// Per credential query answered: the credential index and the selectively
    /// disclosable claims revealed.
    pub disclosed: Vec<(String, usize, Vec<String>)>,
}

/// Builds the presentations for `choice` at Unix time `now`: checks it against the
/// query, then per chosen credential exactly the chosen claims (with the selectively
/// disclosable ancestors reaching them and the descendants inside them, nothing else)
/// and a KB-JWT for the request. Nothing is sent.
pub fn build_presentations(
    request: &PresentationRequest,
    held: &[HeldCredential],
    choice: &Choice,
    holder: &dyn Signer,
    now: i64,
) -> Result<Presentations, PresentationError> {
    let to = Audience {
        query: &request.request.dcql_query,
        client_id: request.request.client_id.as_str(),
        nonce: &request.request.nonce,
    };
    build_presentations_for(&to, held, choice, holder, now)
}

/// Whom presentations are for: the query they answer and the KB-JWT's `aud` (the full
/// client identifier) and `nonce`.
#[derive(Clone, Copy, Debug)]
pub struct Audience<'a> {
    /// The DCQL query.
    pub query: &'a oid4vp::DcqlQuery,
    /// The verifier's full client identifier.
    pub client_id: &'a str,
    /// The request's nonce.
    pub nonce: &'a str,
}

/// [`build_presentations`] from the query, client identifier and nonce alone: what a
/// client of the wallet engine has (the engine resolved the request object).
pub fn build_presentations_for(
    to: &Audience<'_>,
    held: &[HeldCredential],
    choice: &Choice,
    holder: &dyn Signer,
    now: i64,
) -> Result<Presentations, PresentationError> {
    if choice.picks.is_empty() {
        return Err(PresentationError::NothingChosen);
    }
    let consent = Consent::new(to.query, held);
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
    let mut vp_token = VpToken::new();
    let mut disclosed = Vec::new();
    // The plan is in the query's order, the choice in the holder's: match them up.
    for planned in &plan.presentations {
        let pick = choice
            .picks
            .iter()
            .find(|p| p.query_id == planned.query_id && p.credential == planned.credential)
            .ok_or(PresentationError::NotACandidate(planned.credential))?;
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
        let vp = oid4vp::sd_jwt_vc::present_to(
            &mut presenter,
            &planned,
            to.client_id,
            to.nonce,
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
    Ok(Presentations {
        vp_token,
        disclosed,
    })
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
        let built = build_presentations(request, held, choice, holder, self.now())?;
        let redirect_uri = self.submit(request, built.vp_token).await?;
        Ok(Presented {
            disclosed: built.disclosed,
            redirect_uri,
        })
    }

    /// Posts `vp_token` (built by whoever holds the credentials and the holder key) as the
    /// response to `request`, by its response mode (`direct_post.jwt` encrypted to the
    /// verifier's key, never in the clear); returns the verifier's `redirect_uri`.
    pub async fn submit(
        &self,
        request: &PresentationRequest,
        vp_token: VpToken,
    ) -> Result<Option<String>, PresentationError> {
        let response = AuthorizationResponse::Success {
            vp_token,
            state: request.request.state.clone(),
        };
        let r = &request.request;
        let to = Destination {
            response_uri: &r.response_uri,
            mode: r.response_mode,
            client_metadata: r.client_metadata.as_ref(),
        };
        self.post_response(&to, &response, true).await
    }

    /// Tells the verifier the holder refused (`access_denied`).
    pub async fn decline(
        &self,
        request: &PresentationRequest,
    ) -> Result<Option<String>, PresentationError> {
        self.refuse(request, ErrorCode::AccessDenied, "the holder declined")
            .await
    }

    /// Tells the verifier the request will not be answered, so it does not wait until its
    /// transaction expires: `code` (§8.5: `access_denied` when the holder declines or
    /// holds no credential that answers) with `description`, and the request's `state`.
    /// Returns the verifier's `redirect_uri`, if any.
    pub async fn refuse(
        &self,
        request: &PresentationRequest,
        code: ErrorCode,
        description: &str,
    ) -> Result<Option<String>, PresentationError> {
        let r = &request.request;
        let response = error_response(code, description, r.state.clone());
        let to = Destination {
            response_uri: &r.response_uri,
            mode: r.response_mode,
            client_metadata: r.client_metadata.as_ref(),
        };
        self.post_response(&to, &response, false).await
    }

    /// Answers an authentic request object whose parameters were refused with the
    /// refusal's error code, at the response URI the verifier signed.
    pub(crate) async fn refuse_malformed(
        &self,
        reply_to: &ReplyTo,
        error: &oid4vp::RequestError,
    ) -> Result<Option<String>, PresentationError> {
        let response = error_response(
            error.error_code(),
            &error.to_string(),
            reply_to.state.clone(),
        );
        let to = Destination {
            response_uri: &reply_to.response_uri,
            // A mode the wallet does not know: the plain form is all it can send.
            mode: reply_to.response_mode.unwrap_or(ResponseMode::DirectPost),
            client_metadata: reply_to.client_metadata.as_ref(),
        };
        self.post_response(&to, &response, false).await
    }

    /// Posts to the response URI; returns the verifier's `redirect_uri`. An encrypted
    /// mode without a usable key fails for presentations; an error response may then go
    /// in the clear (§8.3.1).
    async fn post_response(
        &self,
        to: &Destination<'_>,
        response: &AuthorizationResponse,
        must_encrypt: bool,
    ) -> Result<Option<String>, PresentationError> {
        let body = match to.mode {
            ResponseMode::DirectPost => DirectPostBody::Plain(response.clone()),
            ResponseMode::DirectPostJwt => {
                match to
                    .client_metadata
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
            to.response_uri,
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
