//! SD-JWT VC glue for wallets (OpenID4VP 1.0 Appendix B.3): describe a held SD-JWT VC
//! for DCQL matching, and build the presentation a [`PlannedPresentation`] asks for.
//!
//! ```text
//! let sd = sd_jwt::SdJwt::parse(stored, &Limits::DEFAULT)?;
//! let presenter = sd.presenter()?;
//! let held = holder_credential(&presenter)?;                 // for dcql::match_query
//! …
//! let vp = present(&mut presenter, &planned, &request, now, &holder_key)?;
//! vp_token.push(&planned.query_id, Presentation::Text(vp));
//! ```
//!
//! The KB-JWT `aud` is the request's full client identifier and its `nonce` the request's
//! nonce (§B.3.6); a presentation without key binding is only produced when the query
//! did not require it.

use jose::Signer;
use serde_json::Value;

use crate::dcql::{ClaimPath, ClaimStep, CredentialType, HolderCredential, PlannedPresentation};
use crate::request::AuthorizationRequest;

/// A held SD-JWT VC could not be described or presented.
#[derive(Debug, thiserror::Error)]
pub enum SdJwtVcError {
    /// The credential has no string `vct`.
    #[error("the credential has no vct")]
    NoVct,
    /// A disclosable location uses `null`, which a stored credential never does.
    #[error("a disclosable location is not concrete")]
    NotConcrete,
    /// Selecting or signing failed.
    #[error(transparent)]
    Present(#[from] sd_jwt::PresentError),
}

/// Converts a concrete DCQL claim path to an SD-JWT claim path (`None` for the root).
pub fn to_sd_jwt_path(path: &ClaimPath) -> Option<sd_jwt::ClaimPath> {
    let elements = path
        .steps()
        .iter()
        .map(|s| match s {
            ClaimStep::Key(k) => sd_jwt::PathElement::Name(k.clone()),
            ClaimStep::Index(i) => sd_jwt::PathElement::Index(*i),
        })
        .collect();
    sd_jwt::ClaimPath::new(elements).ok()
}

/// Converts a concrete SD-JWT claim path to a DCQL claim path.
pub fn from_sd_jwt_path(path: &sd_jwt::ClaimPath) -> Option<ClaimPath> {
    path.elements()
        .iter()
        .map(|e| match e {
            sd_jwt::PathElement::Name(n) => Some(ClaimStep::Key(n.clone())),
            sd_jwt::PathElement::Index(i) => Some(ClaimStep::Index(*i)),
            sd_jwt::PathElement::All => None,
        })
        .collect::<Option<Vec<_>>>()
        .map(ClaimPath::new)
}

/// Describes a held SD-JWT VC for [`crate::dcql::match_query`]: its `vct`, every claim
/// (all disclosures applied), its disclosable locations, and whether it has `cnf`.
pub fn holder_credential(
    presenter: &sd_jwt::Presenter<'_>,
) -> Result<HolderCredential, SdJwtVcError> {
    let claims = presenter.all_claims();
    let vct = claims
        .get("vct")
        .and_then(Value::as_str)
        .ok_or(SdJwtVcError::NoVct)?;
    let selectively_disclosable = presenter
        .disclosable()
        .map(|p| from_sd_jwt_path(p).ok_or(SdJwtVcError::NotConcrete))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HolderCredential {
        kind: CredentialType::sd_jwt_vc(vct),
        claims: Value::Object(claims.clone()),
        selectively_disclosable,
        holder_binding: claims.contains_key("cnf"),
        authorities: Vec::new(),
    })
}

/// Builds the presentation for `planned` (from [`crate::dcql::QueryMatch::plan`]):
/// exactly the planned disclosures, and a KB-JWT for `request` signed by `holder_key` at
/// Unix time `now` when the query requires holder binding.
pub fn present(
    presenter: &mut sd_jwt::Presenter<'_>,
    planned: &PlannedPresentation,
    request: &AuthorizationRequest,
    now: i64,
    holder_key: &dyn Signer,
) -> Result<String, SdJwtVcError> {
    present_to(
        presenter,
        planned,
        request.client_id.as_str(),
        &request.nonce,
        now,
        holder_key,
    )
}

/// [`present`] with the KB-JWT's audience (the verifier's full client identifier) and
/// nonce given directly: for a wallet client that holds the query and those two values
/// but not the request object (the wallet engine resolved it).
pub fn present_to(
    presenter: &mut sd_jwt::Presenter<'_>,
    planned: &PlannedPresentation,
    client_id: &str,
    nonce: &str,
    now: i64,
    holder_key: &dyn Signer,
) -> Result<String, SdJwtVcError> {
    presenter.clear();
    for path in &planned.disclose {
        if let Some(p) = to_sd_jwt_path(path) {
            presenter.select(&p)?;
        }
    }
    if !planned.key_binding {
        return Ok(presenter.sd_jwt());
    }
    let input = sd_jwt::KbInput::new(client_id, nonce.to_owned(), now);
    Ok(presenter.with_key_binding(&input, holder_key)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client_id::ClientId;
    use crate::dcql::{DcqlQuery, match_query};
    use crate::request::ResponseMode;
    use jose::{Algorithm, FixedClock, SoftwareSigner};
    use serde_json::json;

    #[test]
    fn a_held_sd_jwt_vc_is_matched_and_presented_with_exactly_the_planned_disclosures() {
        let issuer = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let holder = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let mut claims = serde_json::Map::new();
        claims.insert("vct".into(), "urn:t".into());
        claims.insert("cnf".into(), json!({"jwk": holder.public_jwk().to_value()}));
        claims.insert("role".into(), "student".into());
        claims.insert("address".into(), json!({"locality": "K", "street": "S"}));
        let frame = sd_jwt::Frame::new()
            .with(sd_jwt::ClaimPath::claim("role"))
            .with(sd_jwt::ClaimPath::claim("address"))
            .with(
                sd_jwt::ClaimPath::claim("address")
                    .join(sd_jwt::PathElement::Name("locality".into())),
            );
        let issued =
            sd_jwt::vc::issue(claims, &frame, &issuer, &sd_jwt::SeededSalts::new(1), None).unwrap();
        let sd = sd_jwt::SdJwt::parse(issued.as_str(), &sd_jwt::Limits::DEFAULT).unwrap();
        let mut presenter = sd.presenter().unwrap();
        let held = holder_credential(&presenter).unwrap();
        assert_eq!(held.selectively_disclosable.len(), 3);
        assert!(held.holder_binding);

        let query =
            DcqlQuery::from_value(&json!({"credentials": [{"id": "q", "format": "dc+sd-jwt",
            "meta": {"vct_values": ["urn:t"]}, "claims": [{"path": ["address", "locality"]}]}]}))
            .unwrap();
        let m = match_query(&query, &[held]);
        let plan = m.plan(&m.preferred_selection(false).unwrap()).unwrap();
        let request = AuthorizationRequest {
            client_id: ClientId::parse("x509_san_dns:v.example").unwrap(),
            response_mode: ResponseMode::DirectPost,
            response_uri: "https://v.example/response".into(),
            nonce: "n1".into(),
            state: None,
            dcql_query: query,
            client_metadata: None,
            wallet_nonce: None,
            transaction_data: None,
        };
        let vp = present(
            &mut presenter,
            &plan.presentations[0],
            &request,
            100,
            &holder,
        )
        .unwrap();

        let key = jose::VerifyingKey::from_jwk(issuer.public_jwk()).unwrap();
        let kb = sd_jwt::KbExpectation::new("x509_san_dns:v.example", "n1", &[Algorithm::Es256]);
        let verified = sd_jwt::verify(
            &vp,
            &key,
            &sd_jwt::VerifyOptions::new(
                &[Algorithm::Es256],
                sd_jwt::KeyBinding::Required(kb),
                &FixedClock(100),
            ),
        )
        .unwrap();
        // The locality and the address object holding it (its plain `street` with it); not
        // the role.
        assert_eq!(
            verified.claims()["address"],
            json!({"locality": "K", "street": "S"})
        );
        assert!(!verified.claims().contains_key("role"));
    }

    #[test]
    fn claim_paths_convert_both_ways() {
        let p = ClaimPath::new(vec![ClaimStep::Key("a".into()), ClaimStep::Index(2)]);
        let s = to_sd_jwt_path(&p).unwrap();
        assert_eq!(from_sd_jwt_path(&s), Some(p));
        assert!(to_sd_jwt_path(&ClaimPath::root()).is_none());
    }
}
