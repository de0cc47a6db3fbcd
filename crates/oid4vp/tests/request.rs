//! Authorization requests: invocation URIs, request objects signed with each x509
//! prefix and verified as a wallet would, prefix rules, `request_uri` POST bodies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use jose::jwe::{Enc, EncryptionKey};
use jose::x5c::TrustAnchors;
use jose::{Algorithm, Curve, PrivateJwk, PublicJwk, SoftwareSigner};
use oid4vp::request::object::{TYP, WalletPolicy};
use oid4vp::*;
use serde_json::json;

const NOW: i64 = 1_800_000_000;

/// A self-signed certificate for `dns` and a signer holding its key.
fn cert(dns: &str) -> (Vec<u8>, SoftwareSigner) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let params = rcgen::CertificateParams::new(vec![dns.to_owned()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &key.serialize_der()).unwrap();
    let d = pair.private_key().as_be_bytes().unwrap().as_ref().to_vec();
    let public = PublicJwk::from_ec_point(Curve::P256, pair.public_key().as_ref()).unwrap();
    let private = PrivateJwk::new(public, zeroize::Zeroizing::new(d)).unwrap();
    (
        cert.der().to_vec(),
        SoftwareSigner::from_private_jwk(&private).unwrap(),
    )
}

fn query() -> DcqlQuery {
    DcqlQuery::from_value(
        &json!({"credentials": [{"id": "pass", "format": "dc+sd-jwt",
        "meta": {"vct_values": ["urn:symbolon:immerse:classroom-pass:1"]},
        "claims": [{"path": ["role"]}, {"path": ["course"]}]}]}),
    )
    .unwrap()
}

fn request(client_id: ClientId, response_uri: &str) -> AuthorizationRequest {
    AuthorizationRequest {
        client_id,
        response_mode: ResponseMode::DirectPost,
        response_uri: response_uri.into(),
        nonce: "n-0S6_WzA2Mj".into(),
        state: Some("eyJhb6-sVA".into()),
        dcql_query: query(),
        client_metadata: Some(ClientMetadata {
            sd_jwt_vc: Some(SdJwtVcFormat::with_algorithms(&[Algorithm::Es256])),
            ..ClientMetadata::default()
        }),
        wallet_nonce: None,
        transaction_data: None,
    }
}

fn policy(anchors: &TrustAnchors) -> WalletPolicy<'_> {
    WalletPolicy {
        algorithms: &[Algorithm::Es256],
        anchors,
        skew: 30,
        client_trusted: false,
    }
}

#[test]
fn x509_san_dns_request_object_round_trips() {
    let (der, signer) = cert("verifier.example");
    let id = ClientId::x509_san_dns("verifier.example").unwrap();
    let mut req = request(id.clone(), "https://verifier.example/response/abc");
    req.wallet_nonce = Some("qPmxiNFCR3QTm19POc8u".into());
    let jwt =
        sign_request_object(&req, &signer, Some(std::slice::from_ref(&der)), NOW, 300).unwrap();
    let header = jose::CompactJws::parse(&jwt).unwrap();
    assert_eq!(header.header().typ(), Some(TYP));
    let claims = header.claims_unverified().unwrap();
    assert_eq!(claims["aud"], json!("https://self-issued.me/v2"));
    assert_eq!(claims["client_id"], json!("x509_san_dns:verifier.example"));

    let anchors = TrustAnchors::from_der([der]).unwrap();
    let got = verify_request_object(
        &jwt,
        id.as_str(),
        Some("qPmxiNFCR3QTm19POc8u"),
        &policy(&anchors),
        NOW + 10,
    )
    .unwrap();
    assert_eq!(got, req);
}

#[test]
fn x509_hash_request_object_round_trips() {
    let (der, signer) = cert("anything.example");
    let id = ClientId::x509_hash_of(&der);
    let req = request(id.clone(), "https://elsewhere.example/post");
    let jwt =
        sign_request_object(&req, &signer, Some(std::slice::from_ref(&der)), NOW, 300).unwrap();
    let anchors = TrustAnchors::from_der([der]).unwrap();
    let got = verify_request_object(&jwt, id.as_str(), None, &policy(&anchors), NOW).unwrap();
    assert_eq!(got.client_id, id);
}

#[test]
fn rejects_a_request_object_whose_response_uri_host_is_not_the_san() {
    let (der, signer) = cert("verifier.example");
    let id = ClientId::x509_san_dns("verifier.example").unwrap();
    let req = request(id.clone(), "https://attacker.example/post");
    let jwt =
        sign_request_object(&req, &signer, Some(std::slice::from_ref(&der)), NOW, 300).unwrap();
    let anchors = TrustAnchors::from_der([der]).unwrap();
    let e = verify_request_object(&jwt, id.as_str(), None, &policy(&anchors), NOW).unwrap_err();
    assert!(
        matches!(
            e,
            RequestError::Object(ObjectError::ClientId(ClientIdError::HostMismatch))
        ),
        "{e:?}"
    );
    let trusted = WalletPolicy {
        client_trusted: true,
        ..policy(&anchors)
    };
    assert!(verify_request_object(&jwt, id.as_str(), None, &trusted, NOW).is_ok());
}

#[test]
fn rejects_a_request_object_for_a_san_the_certificate_lacks() {
    let (der, signer) = cert("other.example");
    let id = ClientId::x509_san_dns("verifier.example").unwrap();
    let req = request(id.clone(), "https://verifier.example/post");
    let jwt =
        sign_request_object(&req, &signer, Some(std::slice::from_ref(&der)), NOW, 300).unwrap();
    let anchors = TrustAnchors::from_der([der]).unwrap();
    let e = verify_request_object(&jwt, id.as_str(), None, &policy(&anchors), NOW).unwrap_err();
    assert!(matches!(
        e,
        RequestError::Object(ObjectError::ClientId(ClientIdError::SanMismatch))
    ));
}

#[test]
fn rejects_a_request_object_with_another_certificate_hash() {
    let (der, signer) = cert("a.example");
    let (other, _) = cert("a.example");
    let id = ClientId::x509_hash_of(&other);
    let req = request(id.clone(), "https://a.example/post");
    let jwt =
        sign_request_object(&req, &signer, Some(std::slice::from_ref(&der)), NOW, 300).unwrap();
    let anchors = TrustAnchors::from_der([der]).unwrap();
    let e = verify_request_object(&jwt, id.as_str(), None, &policy(&anchors), NOW).unwrap_err();
    assert!(matches!(
        e,
        RequestError::Object(ObjectError::ClientId(ClientIdError::HashMismatch))
    ));
}

#[test]
fn rejects_a_request_object_with_a_different_client_id_or_missing_wallet_nonce() {
    let (der, signer) = cert("verifier.example");
    let id = ClientId::x509_san_dns("verifier.example").unwrap();
    let req = request(id.clone(), "https://verifier.example/post");
    let jwt =
        sign_request_object(&req, &signer, Some(std::slice::from_ref(&der)), NOW, 300).unwrap();
    let anchors = TrustAnchors::from_der([der]).unwrap();
    let e = verify_request_object(
        &jwt,
        "x509_san_dns:other.example",
        None,
        &policy(&anchors),
        NOW,
    )
    .unwrap_err();
    assert!(matches!(
        e,
        RequestError::Object(ObjectError::ClientIdMismatch)
    ));
    assert_eq!(e.error_code(), ErrorCode::InvalidRequest);
    let e =
        verify_request_object(&jwt, id.as_str(), Some("sent"), &policy(&anchors), NOW).unwrap_err();
    assert!(matches!(
        e,
        RequestError::Object(ObjectError::WalletNonceMismatch)
    ));
    assert_eq!(e.error_code(), ErrorCode::InvalidRequestObject);
}

#[test]
fn rejects_an_expired_request_object_and_an_untrusted_chain() {
    let (der, signer) = cert("verifier.example");
    let id = ClientId::x509_san_dns("verifier.example").unwrap();
    let req = request(id.clone(), "https://verifier.example/post");
    let jwt =
        sign_request_object(&req, &signer, Some(std::slice::from_ref(&der)), NOW, 300).unwrap();
    let anchors = TrustAnchors::from_der([der]).unwrap();
    let e =
        verify_request_object(&jwt, id.as_str(), None, &policy(&anchors), NOW + 400).unwrap_err();
    assert!(matches!(e, RequestError::Object(ObjectError::Time(_))));
    let (other, _) = cert("x.example");
    let others = TrustAnchors::from_der([other]).unwrap();
    let e = verify_request_object(&jwt, id.as_str(), None, &policy(&others), NOW).unwrap_err();
    assert!(matches!(e, RequestError::Object(ObjectError::X5c(_))));
}

#[test]
fn rejects_a_request_object_without_the_typ() {
    let (der, signer) = cert("verifier.example");
    let id = ClientId::x509_san_dns("verifier.example").unwrap();
    let req = request(id.clone(), "https://verifier.example/post");
    let payload = serde_json::Value::Object(req.to_claims()).to_string();
    let jwt = jose::HeaderBuilder::new()
        .typ("JWT")
        .x5c(std::slice::from_ref(&der))
        .sign(payload.as_bytes(), &signer)
        .unwrap();
    let anchors = TrustAnchors::from_der([der]).unwrap();
    let e = verify_request_object(&jwt, id.as_str(), None, &policy(&anchors), NOW).unwrap_err();
    assert!(matches!(
        e,
        RequestError::Object(ObjectError::WrongTyp(Some(_)))
    ));
}

#[test]
fn rejects_a_signed_request_for_redirect_uri_and_missing_chain_for_x509() {
    let (der, signer) = cert("verifier.example");
    let id = ClientId::redirect_uri("https://verifier.example/post").unwrap();
    let req = request(id.clone(), "https://verifier.example/post");
    let jwt = sign_request_object(&req, &signer, None, NOW, 300).unwrap();
    let anchors = TrustAnchors::from_der([der]).unwrap();
    let e = verify_request_object(&jwt, id.as_str(), None, &policy(&anchors), NOW).unwrap_err();
    assert!(matches!(
        e,
        RequestError::Object(ObjectError::ClientId(ClientIdError::MustNotBeSigned(_)))
    ));
    let x = request(
        ClientId::x509_san_dns("verifier.example").unwrap(),
        "https://verifier.example/post",
    );
    assert!(matches!(
        sign_request_object(&x, &signer, None, NOW, 300),
        Err(ObjectError::MissingChain)
    ));
}

#[test]
fn redirect_uri_request_by_value_round_trips_through_the_invocation_uri() {
    let id = ClientId::redirect_uri("https://verifier.example/post").unwrap();
    let req = request(id, "https://verifier.example/post");
    let uri = Invocation::ByValue(Box::new(req.clone())).to_uri("openid4vp://");
    assert!(uri.starts_with("openid4vp://?response_type=vp_token&client_id=redirect_uri%3A"));
    let Invocation::ByValue(got) = Invocation::parse(&uri).unwrap() else {
        panic!("by value expected")
    };
    assert_eq!(*got, req);
}

#[test]
fn rejects_a_by_value_request_with_a_foreign_response_uri() {
    let id = ClientId::redirect_uri("https://verifier.example/post").unwrap();
    let req = request(id, "https://attacker.example/post");
    let uri = Invocation::ByValue(Box::new(req)).to_uri("openid4vp://");
    assert!(matches!(
        Invocation::parse(&uri),
        Err(RequestError::ClientId(ClientIdError::RedirectUriMismatch))
    ));
}

#[test]
fn by_reference_invocation_round_trips() {
    let inv = Invocation::ByReference {
        client_id: "x509_san_dns:verifier.example".into(),
        request_uri: "https://verifier.example/request/abc".into(),
        request_uri_method: Some(RequestUriMethod::Post),
    };
    let uri = inv.to_uri("openid4vp://");
    assert_eq!(
        uri,
        "openid4vp://?client_id=x509_san_dns%3Averifier.example&request_uri=https%3A%2F%2Fverifier.example%2Frequest%2Fabc&request_uri_method=post"
    );
    assert_eq!(Invocation::parse(&uri).unwrap(), inv);
}

#[test]
fn rejects_invocations_breaking_the_rules() {
    let e = Invocation::parse(
        "openid4vp://?client_id=a&request_uri=https://v/r&request_uri_method=POST",
    )
    .unwrap_err();
    assert_eq!(e.error_code(), ErrorCode::InvalidRequestUriMethod);
    let e = Invocation::parse("openid4vp://?client_id=a&client_id=b&request_uri=https://v/r")
        .unwrap_err();
    assert!(matches!(e, RequestError::Duplicate(_)));
    let e = Invocation::parse("openid4vp://?request_uri_method=get&client_id=a").unwrap_err();
    assert!(matches!(e, RequestError::MethodWithoutRequestUri));
}

#[test]
fn rejects_request_parameters_breaking_section_5_rules() {
    let base = request(
        ClientId::redirect_uri("https://v.example/post").unwrap(),
        "https://v.example/post",
    )
    .to_claims();
    let with = |k: &str, v: serde_json::Value| {
        let mut m = base.clone();
        m.insert(k.into(), v);
        AuthorizationRequest::from_claims(&m).unwrap_err()
    };
    assert!(matches!(
        with("redirect_uri", json!("https://v.example/cb")),
        RequestError::RedirectUriWithDirectPost(_)
    ));
    assert!(matches!(
        with("scope", json!("x")),
        RequestError::DcqlAndScope
    ));
    assert!(matches!(
        with("response_type", json!("code")),
        RequestError::UnsupportedResponseType(_)
    ));
    assert!(matches!(
        with("response_mode", json!("fragment")),
        RequestError::UnsupportedResponseMode(_)
    ));
    assert!(matches!(
        with("nonce", json!("a b")),
        RequestError::NotUrlSafe("nonce")
    ));
    assert!(matches!(
        with("response_mode", json!("direct_post.jwt")),
        RequestError::NoEncryptionKey
    ));
    let mut m = base.clone();
    m.remove("dcql_query");
    assert!(matches!(
        AuthorizationRequest::from_claims(&m).unwrap_err(),
        RequestError::Missing("dcql_query")
    ));
    m.insert("scope".into(), json!("com.example.x"));
    assert_eq!(
        AuthorizationRequest::from_claims(&m)
            .unwrap_err()
            .error_code(),
        ErrorCode::InvalidScope
    );
}

#[test]
fn direct_post_jwt_request_carries_an_encryption_key() {
    let key = EncryptionKey::generate(Curve::P256).unwrap().with_kid("t1");
    let mut req = request(
        ClientId::redirect_uri("https://v.example/post").unwrap(),
        "https://v.example/post",
    );
    req.response_mode = ResponseMode::DirectPostJwt;
    req.client_metadata = Some(ClientMetadata {
        sd_jwt_vc: None,
        jwks: Some(vec![key.public_jwk_for_encryption()]),
        encrypted_response_enc_values_supported: Some(vec![Enc::A256Gcm, Enc::A128Gcm]),
    });
    let got = AuthorizationRequest::from_claims(&req.to_claims()).unwrap();
    let (jwk, enc) = got
        .client_metadata
        .as_ref()
        .unwrap()
        .response_encryption(&Enc::ALL)
        .unwrap();
    assert_eq!(jwk.kid(), Some("t1"));
    assert_eq!(enc, Enc::A256Gcm);
}

#[test]
fn request_uri_post_body() {
    let p = RequestUriPost::from_form(b"").unwrap();
    assert_eq!(p, RequestUriPost::default());
    let p = RequestUriPost::from_form(
        b"wallet_metadata=%7B%22vp_formats_supported%22%3A%7B%7D%7D&wallet_nonce=qPmxiNFCR3QTm19POc8u&other=1",
    )
    .unwrap();
    assert_eq!(p.wallet_nonce.as_deref(), Some("qPmxiNFCR3QTm19POc8u"));
    assert_eq!(
        RequestUriPost::from_form(p.to_form().as_bytes()).unwrap(),
        p
    );
    assert!(matches!(
        RequestUriPost::from_form(b"wallet_nonce=a&wallet_nonce=b"),
        Err(RequestError::Duplicate(_))
    ));
}
