//! draft-ietf-oauth-sd-jwt-vc-18 examples (§2.3, §3.2, Appendix A.1): digests recomputed,
//! payloads compared, presentations verified through the SD-JWT VC layer with the Issuer key
//! configured by `kid` or found through JWT VC Issuer Metadata (a map-backed fetcher).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use jose::{FixedClock, PublicJwk, Signer as _, VerifyingKey};
use sd_jwt::vc::VcVerifier;
use sd_jwt::{
    Disclosure, FetchError, Fetcher, KbExpectation, KeyBinding, KeyResolver, KeySource, Limits,
    ResolveError, SdJwt, VcError,
};
use serde_json::{Value, json};
use std::collections::HashMap;

const AUD: &str = "https://example.com/verifier";
const NONCE: &str = "1234567890";

fn check_digests(name: &str) {
    for item in vector_json(name).as_array().unwrap() {
        let d = Disclosure::parse(item["disclosure"].as_str().unwrap(), 32).unwrap();
        assert_eq!(d.digest(), item["digest"].as_str().unwrap(), "{name}");
    }
}

fn configured_verifier() -> VcVerifier {
    let jwk = vector_json("vc18_3_2_metadata.json")["jwks"]["keys"][0].clone();
    let key = VerifyingKey::from_jwk(&PublicJwk::from_value(&jwk).unwrap()).unwrap();
    assert_eq!(key.jwk().kid(), Some("doc-signer-05-25-2022"));
    VcVerifier::new(KeyResolver::new().with_key(key), ES256)
}

fn kb_required() -> KeyBinding<'static> {
    KeyBinding::Required(KbExpectation::new(AUD, NONCE, ES256).with_max_age(60))
}

#[test]
fn sd_jwt_vc_2_3_disclosure_digests() {
    check_digests("vc18_2_3_disclosures.json");
}

#[test]
fn sd_jwt_vc_2_3_issued_credential_verifies_with_key_selected_by_kid() {
    let issued = vector("vc18_2_3_issued.txt");
    let sd = SdJwt::parse_issued(&issued, &Limits::DEFAULT).unwrap();
    assert_eq!(
        sd.unverified_claims(),
        &vector_object("vc18_2_3_payload.json")
    );
    assert_eq!(sd.issuer_header().kid(), Some("doc-signer-05-25-2022"));
    let v = configured_verifier()
        .verify(&issued, KeyBinding::Forbidden, &FixedClock(1_700_000_000))
        .unwrap();
    assert_eq!(
        v.vct(),
        "https://credentials.example.com/identity_credential"
    );
    assert_eq!(v.issuer(), Some("https://example.com/issuer"));
    assert!(v.status().is_none());
    assert!(
        matches!(v.key_source(), KeySource::Configured { kid: Some(k) } if k == "doc-signer-05-25-2022")
    );
    for claim in ["given_name", "is_over_65", "address", "birthdate"] {
        assert!(v.claims().contains_key(claim), "{claim}");
    }
}

#[test]
fn sd_jwt_vc_2_3_presentation_with_key_binding_gives_figure_9() {
    let text = vector("vc18_2_3_presentation.txt");
    let v = configured_verifier()
        .verify(&text, kb_required(), &FixedClock(1_785_785_053))
        .unwrap();
    assert_eq!(v.claims(), &vector_object("vc18_2_3_processed.json"));
    let kb = v.sd_jwt().key_binding().unwrap();
    assert_eq!((kb.audience(), kb.nonce()), (AUD, NONCE));
    assert_eq!(
        v.sd_jwt().holder_key().unwrap().thumbprint(),
        spec_holder_signer().public_jwk().thumbprint()
    );
}

#[test]
fn sd_jwt_vc_2_3_presentation_without_key_binding_gives_figure_11() {
    let text = vector("vc18_2_3_presentation_nokb.txt");
    let v = configured_verifier()
        .verify(&text, KeyBinding::Forbidden, &FixedClock(1_785_785_053))
        .unwrap();
    assert_eq!(v.claims(), &vector_object("vc18_2_3_processed_nokb.json"));
}

#[test]
fn sd_jwt_vc_a1_disclosure_digests() {
    check_digests("vc18_a1_disclosures.json");
}

#[test]
fn sd_jwt_vc_a1_pid_issued_and_presented() {
    let issued = vector("vc18_a1_issued.txt");
    let sd = SdJwt::parse_issued(&issued, &Limits::DEFAULT).unwrap();
    assert_eq!(
        sd.unverified_claims(),
        &vector_object("vc18_a1_payload.json")
    );
    let v = configured_verifier()
        .verify(&issued, KeyBinding::Forbidden, &FixedClock(1_700_000_000))
        .unwrap();
    assert_eq!(v.claims()["address"]["street_address"], "Sjøgata 12");
    assert!(
        v.claims()["portrait"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    let text = vector("vc18_a1_presentation.txt");
    let kb = vector_json("vc18_a1_kb_payload.json");
    let v = configured_verifier()
        .verify(
            &text,
            kb_required(),
            &FixedClock(kb["iat"].as_i64().unwrap()),
        )
        .unwrap();
    assert_eq!(v.claims(), &vector_object("vc18_a1_processed.json"));
    assert_eq!(v.vct(), "urn:example:eudi:pid:aendgard:1");
    assert_eq!(
        v.sd_jwt().key_binding().unwrap().claims(),
        kb.as_object().unwrap()
    );
}

/// Serves fixed documents by URL; everything else is a 404.
struct MapFetcher(HashMap<String, Vec<u8>>);

impl Fetcher for MapFetcher {
    fn get(
        &self,
        url: &str,
    ) -> impl std::future::Future<Output = Result<Vec<u8>, FetchError>> + Send {
        let r = self.0.get(url).cloned().ok_or(FetchError::Status(404));
        async move { r }
    }
}

fn metadata_fetcher(doc: &Value) -> MapFetcher {
    MapFetcher(HashMap::from([(
        "https://example.com/.well-known/jwt-vc-issuer/issuer".to_owned(),
        doc.to_string().into_bytes(),
    )]))
}

fn metadata_verifier() -> VcVerifier {
    VcVerifier::new(KeyResolver::new().with_issuer_metadata(), ES256)
}

#[tokio::test]
async fn sd_jwt_vc_3_2_issuer_metadata_with_jwks_resolves_key_by_kid() {
    // Figure 14's key set, published for the `iss` of the §2.3 example.
    let mut doc = vector_json("vc18_3_2_metadata.json");
    doc["issuer"] = json!("https://example.com/issuer");
    let v = metadata_verifier()
        .verify_with(
            &metadata_fetcher(&doc),
            &vector("vc18_2_3_presentation.txt"),
            kb_required(),
            &FixedClock(1_785_785_053),
        )
        .await
        .unwrap();
    assert_eq!(v.claims(), &vector_object("vc18_2_3_processed.json"));
    assert!(matches!(
        v.key_source(),
        KeySource::IssuerMetadata { issuer, kid: Some(kid) }
            if issuer == "https://example.com/issuer" && kid == "doc-signer-05-25-2022"
    ));
}

#[tokio::test]
async fn sd_jwt_vc_3_2_issuer_metadata_with_jwks_uri() {
    let jwks = vector_json("vc18_3_2_metadata.json")["jwks"].clone();
    let doc = json!({"issuer": "https://example.com/issuer",
                     "jwks_uri": "https://jwt-vc-issuer.example.com/my_public_keys.jwks"});
    let mut f = metadata_fetcher(&doc);
    f.0.insert(
        "https://jwt-vc-issuer.example.com/my_public_keys.jwks".into(),
        jwks.to_string().into_bytes(),
    );
    metadata_verifier()
        .verify_with(
            &f,
            &vector("vc18_2_3_issued.txt"),
            KeyBinding::Forbidden,
            &FixedClock(1_785_785_053),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn rejects_metadata_whose_issuer_differs_from_iss() {
    // Figure 14 as published names `https://example.com`, not the example's `iss`.
    let doc = vector_json("vc18_3_2_metadata.json");
    let e = metadata_verifier()
        .verify_with(
            &metadata_fetcher(&doc),
            &vector("vc18_2_3_issued.txt"),
            KeyBinding::Forbidden,
            &FixedClock(1_785_785_053),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, VcError::Resolve(ResolveError::IssuerMismatch { .. })),
        "{e:?}"
    );
    assert!(!e.is_unavailable());
}

#[tokio::test]
async fn rejects_metadata_with_both_or_neither_key_set() {
    let jwks = vector_json("vc18_3_2_metadata.json")["jwks"].clone();
    let both = json!({"issuer": "https://example.com/issuer", "jwks": jwks,
                      "jwks_uri": "https://example.com/jwks"});
    let neither = json!({"issuer": "https://example.com/issuer"});
    let bad_uri =
        json!({"issuer": "https://example.com/issuer", "jwks_uri": "http://example.com/jwks"});
    for (doc, check) in [
        (
            both,
            (|e: &ResolveError| matches!(e, ResolveError::JwksAndJwksUri))
                as fn(&ResolveError) -> bool,
        ),
        (neither, |e| matches!(e, ResolveError::NoJwks)),
        (bad_uri, |e| matches!(e, ResolveError::InvalidJwksUri)),
    ] {
        let e = metadata_verifier()
            .verify_with(
                &metadata_fetcher(&doc),
                &vector("vc18_2_3_issued.txt"),
                KeyBinding::Forbidden,
                &FixedClock(1_785_785_053),
            )
            .await
            .unwrap_err();
        match e {
            VcError::Resolve(r) => assert!(check(&r), "{r:?}"),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn rejects_metadata_without_the_header_kid() {
    let mut doc = vector_json("vc18_3_2_metadata.json");
    doc["issuer"] = json!("https://example.com/issuer");
    doc["jwks"]["keys"].as_array_mut().unwrap().remove(0);
    let e = metadata_verifier()
        .verify_with(
            &metadata_fetcher(&doc),
            &vector("vc18_2_3_issued.txt"),
            KeyBinding::Forbidden,
            &FixedClock(1_785_785_053),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, VcError::Resolve(ResolveError::UnknownKid(ref k)) if k == "doc-signer-05-25-2022"),
        "{e:?}"
    );
}

#[tokio::test]
async fn unreachable_metadata_is_could_not_check_not_invalid() {
    let e = metadata_verifier()
        .verify_with(
            &MapFetcher(HashMap::new()),
            &vector("vc18_2_3_issued.txt"),
            KeyBinding::Forbidden,
            &FixedClock(1_785_785_053),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            VcError::Resolve(ResolveError::Fetch {
                source: FetchError::Status(404),
                ..
            })
        ),
        "{e:?}"
    );
    assert!(e.is_unavailable());
}
