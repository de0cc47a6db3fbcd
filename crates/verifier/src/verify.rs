//! Checking a `vp_token` against its transaction (OpenID4VP 1.0 §8.6, Appendix B.3):
//! every presentation in full — issuer signature through the policy's trust, `typ`,
//! `vct`, `exp`/`nbf`, every disclosure, the KB-JWT (`aud` = the full client id, `nonce`
//! = the transaction's, `iat` within the policy's window, `sd_hash`), the status list —
//! then the DCQL query and the policy's essential claims over what was disclosed.
//!
//! Nothing here has side effects except filling caches, so a response can be checked
//! before the transaction is claimed, and a replay wastes only CPU.

use oid4vp::dcql::{
    ClaimPath, ClaimStep, CredentialType, DcqlQuery, PresentedCredential, check_response,
};
use oid4vp::{Presentation, VpToken};
use sd_jwt::vc::VerifiedVc;
use sd_jwt::{KbError, KbExpectation, KeyBinding, ParseError, VcError, VerifyError};
use serde_json::{Map, Value};
use status_list::Status;

use crate::error::{
    CredentialFault, DcqlFault, DisclosureFault, JwtFault, Rejection, StatusFault, TrustFault,
    VpTokenFault,
};
use crate::policy::Policy;
use crate::state::State;
use crate::status::StatusOutcome;
use crate::trust::ALGORITHMS;

/// What a checked response yields.
#[derive(Clone, Debug, PartialEq)]
pub struct Accepted {
    /// Per credential query id, the disclosed claims of each presentation (without
    /// `cnf` and `status`, which identify the holder key and the list position).
    pub claims: Map<String, Value>,
    /// The values of the policy's essential claims, as a JSON object shaped like the
    /// credential (`{"role": …, "course": …}`).
    pub essential: Map<String, Value>,
}

/// Why a response was not accepted.
#[derive(Debug)]
pub enum Failure {
    /// Checked and refused.
    Rejected(Rejection),
    /// Could not be checked now (status list or issuer metadata unreachable).
    Unavailable,
}

impl From<Rejection> for Failure {
    fn from(r: Rejection) -> Self {
        Failure::Rejected(r)
    }
}

/// The transaction-specific expectations.
#[derive(Clone, Copy, Debug)]
pub struct Expectation<'a> {
    /// The policy.
    pub policy: &'a Policy,
    /// The query that was sent.
    pub query: &'a DcqlQuery,
    /// The full client identifier (the KB-JWT `aud`).
    pub client_id: &'a str,
    /// The transaction's nonce.
    pub nonce: &'a str,
}

/// Checks `vp_token` (see the module docs).
pub async fn check_vp_token(
    state: &State,
    expect: &Expectation<'_>,
    vp_token: &VpToken,
) -> Result<Accepted, Failure> {
    let mut presented: Vec<(String, Vec<PresentedCredential>)> = Vec::new();
    for (query_id, items) in vp_token.entries() {
        let query = expect.query.credential(query_id).ok_or_else(|| {
            Rejection::DcqlUnsatisfied(DcqlFault::UnknownQueryId(query_id.clone()))
        })?;
        let kb = KbExpectation::new(expect.client_id, expect.nonce, ALGORITHMS)
            .with_max_age(expect.policy.kb_max_age);
        let binding = if query.require_cryptographic_holder_binding {
            KeyBinding::Required(kb)
        } else {
            KeyBinding::Optional(kb)
        };
        let mut list = Vec::with_capacity(items.len());
        for item in items {
            let Presentation::Text(text) = item else {
                return Err(Rejection::MalformedVpToken(VpTokenFault::NotText).into());
            };
            let vc = verify_one(state, expect.policy, text, binding).await?;
            list.push(PresentedCredential {
                kind: CredentialType::sd_jwt_vc(vc.vct()),
                holder_bound: vc.sd_jwt().key_binding().is_some(),
                claims: Value::Object(vc.claims().clone()),
            });
        }
        presented.push((query_id.clone(), list));
    }
    check_response(expect.query, &presented)
        .map_err(|e| Rejection::DcqlUnsatisfied(DcqlFault::Unsatisfied(e)))?;

    let mut essential = Map::new();
    for pointer in &expect.policy.essential {
        let found = presented
            .iter()
            .flat_map(|(_, l)| l)
            .find_map(|p| pointer.select(&p.claims).ok());
        let Some(selected) = found else {
            return Err(Rejection::EssentialClaimMissing(pointer.to_string()).into());
        };
        for s in selected {
            insert_at(&mut essential, &s.path, s.value.clone());
        }
    }
    let mut claims = Map::new();
    for (query_id, list) in presented {
        let values = list
            .into_iter()
            .map(|p| {
                let mut c = match p.claims {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                c.remove("cnf");
                c.remove("status");
                Value::Object(c)
            })
            .collect();
        claims.insert(query_id, Value::Array(values));
    }
    Ok(Accepted { claims, essential })
}

/// Puts `value` at `path` in `root`, creating objects for keys. A path through an array
/// index is stored under its pointer text at the top level (session tokens stay small
/// and never carry partial arrays).
fn insert_at(root: &mut Map<String, Value>, path: &ClaimPath, value: Value) {
    let steps = path.steps();
    if steps.iter().any(|s| matches!(s, ClaimStep::Index(_))) {
        root.insert(path.to_string(), value);
        return;
    }
    let mut current = root;
    let Some((last, init)) = steps.split_last() else {
        return;
    };
    for step in init {
        let ClaimStep::Key(k) = step else { return };
        let entry = current
            .entry(k.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(next) = entry else { return };
        current = next;
    }
    if let ClaimStep::Key(k) = last {
        current.insert(k.clone(), value);
    }
}

/// Verifies one presentation with the first trusted issuer that has its key, then its
/// status.
async fn verify_one(
    state: &State,
    policy: &Policy,
    text: &str,
    binding: KeyBinding<'_>,
) -> Result<VerifiedVc, Failure> {
    let mut last = Rejection::UntrustedIssuer(TrustFault::NoKey);
    let clock = state.clock();
    // Entries naming an `iss` are only tried for credentials claiming it, so a credential
    // cannot make the verifier fetch metadata or keys for an issuer it does not trust.
    let claimed =
        unverified_iss(text).ok_or_else(|| Rejection::MalformedVpToken(VpTokenFault::NotSdJwt))?;
    for issuer in &policy.trust {
        if let Some(expected) = &issuer.iss
            && claimed.as_deref() != Some(expected.as_str())
        {
            continue;
        }
        let (resolver, verifier) = issuer
            .current(state.fetcher(), clock.now())
            .await
            .map_err(|_| Failure::Unavailable)?;
        let vc = match verifier
            .verify_with(state.fetcher(), text, binding, clock)
            .await
        {
            Ok(vc) => vc,
            Err(VcError::Resolve(e)) if e.is_unavailable() => return Err(Failure::Unavailable),
            // This entry has no key for the credential: try the next trusted issuer.
            Err(VcError::Resolve(e)) => {
                last = Rejection::UntrustedIssuer(TrustFault::Resolve(e));
                continue;
            }
            Err(e) => return Err(vc_rejection(e).into()),
        };
        if let Some(expected) = &issuer.iss
            && vc.issuer() != Some(expected.as_str())
        {
            last = Rejection::UntrustedIssuer(TrustFault::IssMismatch(issuer.name.clone()));
            continue;
        }
        match vc.status() {
            Some(claim) => {
                let outcome = state
                    .status()
                    .check(&issuer.name, &resolver, state.fetcher(), vc.issuer(), claim)
                    .await;
                match outcome {
                    StatusOutcome::Status(Status::Valid) => {}
                    StatusOutcome::Status(Status::Invalid) => {
                        return Err(Rejection::CredentialRevoked.into());
                    }
                    StatusOutcome::Status(Status::Suspended) => {
                        return Err(Rejection::CredentialSuspended.into());
                    }
                    StatusOutcome::Status(other) => {
                        return Err(Rejection::InvalidStatus(StatusFault::NotAccepted(u8::from(
                            other,
                        )))
                        .into());
                    }
                    StatusOutcome::Invalid(reason) => {
                        return Err(Rejection::InvalidStatus(reason).into());
                    }
                    StatusOutcome::Unavailable => return Err(Failure::Unavailable),
                }
            }
            None if policy.require_status => return Err(Rejection::StatusMissing.into()),
            None => {}
        }
        return Ok(vc);
    }
    Err(last.into())
}

/// The `iss` of the issuer-signed JWT, unverified (only to choose which trust entry to
/// try; the signature decides); `None` when the text is not an SD-JWT at all.
fn unverified_iss(text: &str) -> Option<Option<String>> {
    let (jwt, _) = text.split_once('~')?;
    let mut parts = jwt.split('.');
    let (_, payload, _, None) = (parts.next()?, parts.next()?, parts.next()?, parts.next()) else {
        return None;
    };
    let bytes = jose::b64::decode(payload)?;
    let claims = jose::json::parse_object(&bytes).ok()?;
    Some(claims.get("iss").and_then(Value::as_str).map(str::to_owned))
}

/// Whether a JOSE refusal is about the algorithm named in the header.
fn is_algorithm_refusal(e: &jose::Error) -> bool {
    matches!(
        e,
        jose::Error::AlgNone
            | jose::Error::UnsupportedAlgorithm(_)
            | jose::Error::AlgorithmNotAllowed(_)
    )
}

/// A parse refusal: the specific codes where the structure was fine but its content is
/// refused (an algorithm, a repeated disclosure), `malformed_vp_token` otherwise.
fn parse_rejection(p: ParseError) -> Rejection {
    match p {
        ParseError::IssuerJwt(j) if is_algorithm_refusal(&j) => {
            Rejection::UnsupportedAlgorithm(JwtFault::IssuerJwt(j))
        }
        ParseError::KbJwt(j) if is_algorithm_refusal(&j) => {
            Rejection::UnsupportedAlgorithm(JwtFault::KbJwt(j))
        }
        p @ ParseError::DuplicateDisclosure { .. } => {
            Rejection::InvalidDisclosure(DisclosureFault::Parse(p))
        }
        p => Rejection::MalformedVpToken(VpTokenFault::Parse(p)),
    }
}

/// Maps an SD-JWT VC refusal to the verifier's rejection codes.
pub fn vc_rejection(e: VcError) -> Rejection {
    match e {
        VcError::Parse(p) => parse_rejection(p),
        VcError::WrongTyp(_)
        | VcError::ClaimMissing(_)
        | VcError::ClaimWrongType(_)
        | VcError::Status(_)
        | VcError::Issue(_) => Rejection::InvalidCredential(CredentialFault::Vc(e)),
        VcError::NonDisclosableClaim(_) => Rejection::InvalidDisclosure(DisclosureFault::Vc(e)),
        VcError::Resolve(r) => Rejection::UntrustedIssuer(TrustFault::Resolve(r)),
        VcError::Verify(v) => verify_rejection(v),
    }
}

fn verify_rejection(e: VerifyError) -> Rejection {
    match e {
        VerifyError::Parse(p) => parse_rejection(p),
        VerifyError::IssuerSignature(j) => match j {
            jose::Error::InvalidSignature => Rejection::InvalidSignature,
            j if is_algorithm_refusal(&j) => {
                Rejection::UnsupportedAlgorithm(JwtFault::IssuerJwt(j))
            }
            other => Rejection::InvalidCredential(CredentialFault::Jwt(JwtFault::IssuerJwt(other))),
        },
        VerifyError::Time(_) => Rejection::CredentialExpired,
        VerifyError::AudienceMismatch | VerifyError::AudienceNotExpected => {
            Rejection::InvalidCredential(CredentialFault::Verify(e))
        }
        VerifyError::KeyBinding(kb) => kb_rejection(kb),
        other => Rejection::InvalidDisclosure(DisclosureFault::Verify(other)),
    }
}

fn kb_rejection(e: KbError) -> Rejection {
    match e {
        KbError::KbJwtMissing => Rejection::KeyBindingMissing,
        KbError::AudienceMismatch => Rejection::WrongAudience,
        KbError::NonceMismatch => Rejection::WrongNonce,
        KbError::SdHashMismatch => Rejection::SdHashMismatch,
        KbError::Time(_) => Rejection::StaleKeyBinding,
        other => Rejection::InvalidKeyBinding(other),
    }
}
