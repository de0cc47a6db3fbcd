//! Status List Tokens signed with fresh keys: the builder's output verifies, and every rule
//! of draft §5.1 and §8.3 that verification enforces has a test that breaks it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use jose::{
    Algorithm, ClaimError, FixedClock, HeaderBuilder, PublicJwk, SignError, Signer, SoftwareSigner,
    VerifyingKey,
};
use serde_json::{Value, json};
use status_list::{
    Bits, CheckError, DecodeLimits, ListError, ReferenceError, Status, StatusClaim, StatusList,
    StatusListToken, StatusListTokenBuilder, TokenError, VerifiedStatusListToken, VerifyOptions,
    check_status, resolve_status,
};

const URI: &str = "https://issuer.example/statuslists/7";
const IAT: i64 = 1_750_000_000;
const ES256: &[Algorithm] = &[Algorithm::Es256];

fn signer() -> SoftwareSigner {
    SoftwareSigner::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("list-key-1")
}

fn key(s: &dyn Signer) -> VerifyingKey {
    VerifyingKey::from_jwk(s.public_jwk()).unwrap()
}

fn sample_list() -> StatusList {
    let mut list = StatusList::new(Bits::Two, 100).unwrap();
    list.set_status(3, Status::Invalid).unwrap();
    list.set_status(42, Status::Suspended).unwrap();
    list.set(99, 3).unwrap();
    list
}

fn sample_token(s: &dyn Signer) -> String {
    StatusListTokenBuilder::new(URI, sample_list().encode().unwrap(), IAT)
        .expires_at(IAT + 86_400)
        .ttl(3_600)
        .issuer("https://issuer.example")
        .sign(s)
        .unwrap()
}

fn verify_at(token: &str, s: &dyn Signer, now: i64) -> Result<VerifiedStatusListToken, TokenError> {
    StatusListToken::parse(token)?.verify(
        &key(s),
        URI,
        &VerifyOptions::new(ES256),
        &FixedClock(now),
    )
}

/// Signs arbitrary claims with an arbitrary header, to build tokens the builder refuses to.
fn raw_token(s: &dyn Signer, header: HeaderBuilder, claims: &Value) -> String {
    header.sign(claims.to_string().as_bytes(), s).unwrap()
}

fn good_claims() -> Value {
    json!({
        "sub": URI,
        "iat": IAT,
        "exp": IAT + 100,
        "ttl": 60,
        "status_list": sample_list().encode().unwrap().to_value(),
    })
}

fn typed() -> HeaderBuilder {
    HeaderBuilder::new().typ("statuslist+jwt")
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims.as_object_mut().unwrap().insert(name.into(), value);
    claims
}

fn without(mut claims: Value, name: &str) -> Value {
    claims.as_object_mut().unwrap().remove(name);
    claims
}

#[test]
fn builder_output_verifies() {
    for alg in Algorithm::ALL {
        let s = SoftwareSigner::generate(alg).unwrap().with_kid("k");
        let token = sample_token(&s);
        let parsed = StatusListToken::parse(&token).unwrap();
        assert_eq!(parsed.header().typ(), Some("statuslist+jwt"));
        assert_eq!(parsed.header().kid(), Some("k"));
        assert_eq!(parsed.header().alg(), alg);
        let v = parsed
            .verify(
                &key(&s),
                URI,
                &VerifyOptions::new(&[alg]),
                &FixedClock(IAT + 10),
            )
            .unwrap();
        assert_eq!(v.subject(), URI);
        assert_eq!(v.issued_at(), IAT);
        assert_eq!(v.expires_at(), Some(IAT + 86_400));
        assert_eq!(v.ttl(), Some(3_600));
        assert_eq!(v.claims().iss.as_deref(), Some("https://issuer.example"));
        assert_eq!(v.list(), &sample_list_padded());
        assert_eq!(v.status(3).unwrap(), Status::Invalid);
        assert_eq!(v.status(42).unwrap(), Status::Suspended);
        assert_eq!(v.status(99).unwrap(), Status::Other(3));
        assert_eq!(v.status(0).unwrap(), Status::Valid);
        assert_eq!(v.as_str(), token);
    }
}

/// The decoded list has whole bytes: 100 two-bit entries come back as 100.
fn sample_list_padded() -> StatusList {
    let list = sample_list();
    StatusList::from_bytes(list.bits(), list.as_bytes().to_vec()).unwrap()
}

#[test]
fn builder_claims_and_header() {
    let s = signer();
    let b = StatusListTokenBuilder::new(URI, sample_list().encode().unwrap(), IAT)
        .expires_at(IAT + 10)
        .ttl(5)
        .kid("override")
        .x5c(vec![vec![1, 2, 3]]);
    let claims = b.claims().unwrap();
    assert_eq!(
        claims.keys().collect::<Vec<_>>(),
        ["sub", "iat", "exp", "ttl", "status_list"]
    );
    let token = StatusListToken::parse(&b.sign(&s).unwrap()).unwrap();
    assert_eq!(token.header().kid(), Some("override"));
    assert_eq!(token.header().x5c(), Some(&[vec![1u8, 2, 3]][..]));
    // Without exp/ttl/kid the token is still valid: both are only RECOMMENDED.
    let anonymous = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let minimal = StatusListTokenBuilder::new(URI, sample_list().encode().unwrap(), IAT)
        .sign(&anonymous)
        .unwrap();
    let parsed = StatusListToken::parse(&minimal).unwrap();
    assert_eq!(parsed.header().kid(), None);
    let v = verify_at(&minimal, &anonymous, IAT).unwrap();
    assert_eq!(
        (v.expires_at(), v.ttl(), v.cache_until()),
        (None, None, None)
    );
}

#[test]
fn aggregation_uri_is_carried() {
    let s = signer();
    let encoded = sample_list()
        .encode()
        .unwrap()
        .with_aggregation_uri("https://issuer.example/statuslists");
    let token = StatusListTokenBuilder::new(URI, encoded, IAT)
        .sign(&s)
        .unwrap();
    let v = verify_at(&token, &s, IAT).unwrap();
    assert_eq!(
        v.aggregation_uri(),
        Some("https://issuer.example/statuslists")
    );
}

#[test]
fn cache_until_takes_the_earlier_of_ttl_and_exp() {
    let s = signer();
    let v = verify_at(&sample_token(&s), &s, IAT + 100).unwrap();
    assert_eq!(v.verified_at(), IAT + 100);
    assert_eq!(v.cache_until(), Some(IAT + 100 + 3_600));
    let v = verify_at(&sample_token(&s), &s, IAT + 86_000).unwrap();
    assert_eq!(v.cache_until(), Some(IAT + 86_400));
}

#[test]
fn covers_checks_historical_time() {
    let s = signer();
    let v = verify_at(&sample_token(&s), &s, IAT).unwrap();
    assert!(v.covers(IAT));
    assert!(v.covers(IAT + 86_399));
    assert!(!v.covers(IAT - 1));
    assert!(!v.covers(IAT + 86_400));
}

#[test]
fn clock_skew_and_claims_map() {
    let s = signer();
    let token = sample_token(&s);
    let options = VerifyOptions::new(ES256).with_skew(30);
    let v = StatusListToken::parse(&token)
        .unwrap()
        .verify(&key(&s), URI, &options, &FixedClock(IAT + 86_420))
        .unwrap();
    assert_eq!(v.claims_map().unwrap()["iss"], "https://issuer.example");
}

#[test]
fn claims_unverified_reads_without_key() {
    let token = sample_token(&signer());
    let claims = StatusListToken::parse(&token)
        .unwrap()
        .claims_unverified()
        .unwrap();
    assert_eq!(claims.sub, URI);
    assert_eq!(claims.status_list.bits, Bits::Two);
}

#[test]
fn parse_ignores_surrounding_whitespace() {
    let s = signer();
    let token = format!("{}\r\n", sample_token(&s));
    assert!(verify_at(&token, &s, IAT).is_ok());
}

#[test]
fn rejects_wrong_typ() {
    let s = signer();
    for typ in [
        "JWT",
        "application/statuslist+jwt",
        "Statuslist+JWT",
        "statuslist+cwt",
    ] {
        let token = raw_token(&s, HeaderBuilder::new().typ(typ), &good_claims());
        assert!(
            matches!(verify_at(&token, &s, IAT), Err(TokenError::WrongTyp { found: Some(ref f) }) if f == typ),
            "{typ}"
        );
    }
    let token = raw_token(&s, HeaderBuilder::new(), &good_claims());
    assert!(matches!(
        verify_at(&token, &s, IAT),
        Err(TokenError::WrongTyp { found: None })
    ));
}

#[test]
fn rejects_subject_mismatch() {
    let s = signer();
    let token = sample_token(&s);
    let r = StatusListToken::parse(&token).unwrap().verify(
        &key(&s),
        "https://issuer.example/statuslists/8",
        &VerifyOptions::new(ES256),
        &FixedClock(IAT),
    );
    assert!(matches!(
        r,
        Err(TokenError::SubjectMismatch { ref expected, ref found })
            if expected == "https://issuer.example/statuslists/8" && found == URI
    ));
    // No normalisation: a trailing slash is another URI.
    let token = raw_token(
        &s,
        typed(),
        &with(good_claims(), "sub", json!(format!("{URI}/"))),
    );
    assert!(matches!(
        verify_at(&token, &s, IAT),
        Err(TokenError::SubjectMismatch { .. })
    ));
}

#[test]
fn rejects_missing_or_mistyped_sub() {
    let s = signer();
    let token = raw_token(&s, typed(), &without(good_claims(), "sub"));
    assert!(matches!(
        verify_at(&token, &s, IAT),
        Err(TokenError::Claim(ClaimError::Missing("sub")))
    ));
    let token = raw_token(&s, typed(), &with(good_claims(), "sub", json!(7)));
    assert!(matches!(
        verify_at(&token, &s, IAT),
        Err(TokenError::Claim(ClaimError::WrongType("sub")))
    ));
}

#[test]
fn rejects_missing_iat() {
    let s = signer();
    let token = raw_token(&s, typed(), &without(good_claims(), "iat"));
    assert!(matches!(
        verify_at(&token, &s, IAT),
        Err(TokenError::Claim(ClaimError::Missing("iat")))
    ));
    let token = raw_token(
        &s,
        typed(),
        &with(good_claims(), "iat", json!("2025-01-01")),
    );
    assert!(matches!(
        verify_at(&token, &s, IAT),
        Err(TokenError::Claim(ClaimError::WrongType("iat")))
    ));
}

#[test]
fn rejects_expired_token() {
    let s = signer();
    let token = raw_token(&s, typed(), &good_claims());
    assert!(verify_at(&token, &s, IAT + 99).is_ok());
    assert!(matches!(
        verify_at(&token, &s, IAT + 100),
        Err(TokenError::Claim(ClaimError::Expired { exp, now })) if exp == IAT + 100 && now == IAT + 100
    ));
}

#[test]
fn rejects_token_issued_in_future() {
    let s = signer();
    let token = raw_token(&s, typed(), &good_claims());
    assert!(matches!(
        verify_at(&token, &s, IAT - 1),
        Err(TokenError::Claim(ClaimError::IssuedInFuture { .. }))
    ));
}

#[test]
fn rejects_missing_exp_when_required() {
    let s = signer();
    let token = raw_token(&s, typed(), &without(good_claims(), "exp"));
    assert!(verify_at(&token, &s, IAT).is_ok());
    let r = StatusListToken::parse(&token).unwrap().verify(
        &key(&s),
        URI,
        &VerifyOptions::new(ES256).requiring_exp(),
        &FixedClock(IAT),
    );
    assert!(matches!(
        r,
        Err(TokenError::Claim(ClaimError::Missing("exp")))
    ));
}

#[test]
fn rejects_stale_token_under_freshness_policy() {
    let s = signer();
    let token = sample_token(&s);
    let r = StatusListToken::parse(&token).unwrap().verify(
        &key(&s),
        URI,
        &VerifyOptions::new(ES256).with_max_age(600),
        &FixedClock(IAT + 601),
    );
    assert!(matches!(
        r,
        Err(TokenError::Claim(ClaimError::TooOld { .. }))
    ));
}

#[test]
fn rejects_invalid_ttl() {
    let s = signer();
    for ttl in [json!(0), json!(-60), json!(1.5), json!("60"), json!(null)] {
        let token = raw_token(&s, typed(), &with(good_claims(), "ttl", ttl.clone()));
        assert!(
            matches!(verify_at(&token, &s, IAT), Err(TokenError::InvalidTtl)),
            "{ttl}"
        );
    }
}

#[test]
fn rejects_mistyped_iss() {
    let s = signer();
    let token = raw_token(&s, typed(), &with(good_claims(), "iss", json!(["a"])));
    assert!(matches!(
        verify_at(&token, &s, IAT),
        Err(TokenError::Claim(ClaimError::WrongType("iss")))
    ));
}

#[test]
fn rejects_missing_status_list() {
    let s = signer();
    let token = raw_token(&s, typed(), &without(good_claims(), "status_list"));
    assert!(matches!(
        verify_at(&token, &s, IAT),
        Err(TokenError::Claim(ClaimError::Missing("status_list")))
    ));
}

#[test]
fn rejects_malformed_status_list() {
    let s = signer();
    let cases = [
        json!("eNrbuRgAAhcBXQ"),
        json!({"bits": 3, "lst": "eNrbuRgAAhcBXQ"}),
        json!({"bits": 1}),
        json!({"bits": 1, "lst": "eNrbuRgAAhcBXQ=="}),
        json!({"bits": 1, "lst": "AAAA"}),
    ];
    let token = |v: &Value| raw_token(&s, typed(), &with(good_claims(), "status_list", v.clone()));
    let r: Vec<_> = cases
        .iter()
        .map(|c| verify_at(&token(c), &s, IAT))
        .collect();
    assert!(matches!(
        r[0],
        Err(TokenError::StatusList(ListError::NotObject))
    ));
    assert!(matches!(
        r[1],
        Err(TokenError::StatusList(ListError::UnsupportedBits(3)))
    ));
    assert!(matches!(
        r[2],
        Err(TokenError::StatusList(ListError::MissingMember("lst")))
    ));
    assert!(matches!(
        r[3],
        Err(TokenError::StatusList(ListError::Base64))
    ));
    assert!(matches!(
        r[4],
        Err(TokenError::StatusList(ListError::Decompress(_)))
    ));
}

#[test]
fn rejects_status_list_over_decode_limit() {
    let s = signer();
    let big = StatusList::new(Bits::Eight, 4096).unwrap();
    let token = StatusListTokenBuilder::new(URI, big.encode().unwrap(), IAT)
        .sign(&s)
        .unwrap();
    let r = StatusListToken::parse(&token).unwrap().verify(
        &key(&s),
        URI,
        &VerifyOptions::new(ES256).with_limits(DecodeLimits::new(4095)),
        &FixedClock(IAT),
    );
    assert!(matches!(
        r,
        Err(TokenError::StatusList(ListError::TooLarge { limit: 4095 }))
    ));
}

#[test]
fn rejects_signature_by_another_key() {
    let s = signer();
    let token = sample_token(&s);
    let other = signer();
    let r = StatusListToken::parse(&token).unwrap().verify(
        &key(&other),
        URI,
        &VerifyOptions::new(ES256),
        &FixedClock(IAT),
    );
    assert!(matches!(
        r,
        Err(TokenError::Jws(jose::Error::InvalidSignature))
    ));
}

#[test]
fn rejects_tampered_payload() {
    let s = signer();
    let token = sample_token(&s);
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged = jose::b64::encode(with(good_claims(), "ttl", json!(999_999)).to_string());
    parts[1] = &forged;
    let r = verify_at(&parts.join("."), &s, IAT);
    assert!(matches!(
        r,
        Err(TokenError::Jws(jose::Error::InvalidSignature))
    ));
}

#[test]
fn rejects_algorithm_outside_allow_list() {
    let s = signer();
    let r = StatusListToken::parse(&sample_token(&s)).unwrap().verify(
        &key(&s),
        URI,
        &VerifyOptions::new(&[Algorithm::Ed25519]),
        &FixedClock(IAT),
    );
    assert!(matches!(
        r,
        Err(TokenError::Jws(jose::Error::AlgorithmNotAllowed(
            Algorithm::Es256
        )))
    ));
}

#[test]
fn rejects_unknown_critical_header() {
    let s = signer();
    let header = typed()
        .param("crit", json!(["x-private"]))
        .param("x-private", json!(1));
    let token = raw_token(&s, header, &good_claims());
    assert!(matches!(
        verify_at(&token, &s, IAT),
        Err(TokenError::Jws(jose::Error::UnknownCrit(_)))
    ));
}

#[test]
fn rejects_non_compact_input() {
    for text in ["", "a.b", "a.b.c.d", "{\"bits\":1}"] {
        assert!(
            matches!(
                StatusListToken::parse(text),
                Err(TokenError::Jws(jose::Error::NotCompact { .. }))
            ),
            "{text:?}"
        );
    }
    assert!(matches!(
        StatusListToken::parse("eyJhbGciOiJFUzI1NiJ9.e30.!!"),
        Err(TokenError::Jws(jose::Error::Base64(_)))
    ));
}

#[test]
fn rejects_non_object_payload() {
    let s = signer();
    let token = typed().sign(b"[1,2]", &s).unwrap();
    assert!(matches!(
        verify_at(&token, &s, IAT),
        Err(TokenError::Jws(jose::Error::Json { .. }))
    ));
}

#[test]
fn rejects_builder_zero_ttl() {
    let b = StatusListTokenBuilder::new(URI, sample_list().encode().unwrap(), IAT).ttl(0);
    assert!(matches!(b.sign(&signer()), Err(TokenError::InvalidTtl)));
}

#[test]
fn rejects_builder_exp_not_after_iat() {
    for exp in [IAT, IAT - 1] {
        let b =
            StatusListTokenBuilder::new(URI, sample_list().encode().unwrap(), IAT).expires_at(exp);
        assert!(matches!(
            b.sign(&signer()),
            Err(TokenError::ExpiryNotAfterIssue { iat: IAT, exp: e }) if e == exp
        ));
    }
}

/// A signer whose backend is down.
struct FailingSigner(PublicJwk);

impl Signer for FailingSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Es256
    }
    fn public_jwk(&self) -> &PublicJwk {
        &self.0
    }
    fn sign(&self, _message: &[u8]) -> Result<Vec<u8>, SignError> {
        Err(SignError::Crypto)
    }
}

#[test]
fn reports_signer_failure() {
    let failing = FailingSigner(signer().public_jwk().clone());
    let r = StatusListTokenBuilder::new(URI, sample_list().encode().unwrap(), IAT).sign(&failing);
    assert!(matches!(r, Err(TokenError::Sign(SignError::Crypto))));
}

fn referenced(idx: usize, uri: &str) -> serde_json::Map<String, Value> {
    StatusClaim::new(idx, uri)
        .to_status_value()
        .as_object()
        .map(|status| {
            let mut m = serde_json::Map::new();
            m.insert("iss".into(), json!("https://issuer.example"));
            m.insert("status".into(), Value::Object(status.clone()));
            m
        })
        .unwrap()
}

#[test]
fn resolve_status_end_to_end() {
    let s = signer();
    let token = sample_token(&s);
    let options = VerifyOptions::new(ES256);
    let clock = FixedClock(IAT + 1);
    let cases = [
        (3, Status::Invalid),
        (42, Status::Suspended),
        (99, Status::Other(3)),
        (0, Status::Valid),
    ];
    for (idx, want) in cases {
        let got =
            resolve_status(&referenced(idx, URI), &token, &key(&s), &options, &clock).unwrap();
        assert_eq!(got, want, "idx {idx}");
    }
}

#[test]
fn rejects_index_out_of_bounds_end_to_end() {
    let s = signer();
    let token = sample_token(&s);
    let options = VerifyOptions::new(ES256);
    let clock = FixedClock(IAT + 1);
    // 100 two-bit entries occupy 25 bytes: index 100 is the first outside.
    let r = resolve_status(&referenced(100, URI), &token, &key(&s), &options, &clock);
    assert!(matches!(
        r,
        Err(CheckError::IndexOutOfBounds { idx: 100, len: 100 })
    ));
    let v = verify_at(&token, &s, IAT).unwrap();
    assert!(matches!(
        check_status(&StatusClaim::new(usize::MAX, URI), &v),
        Err(CheckError::IndexOutOfBounds {
            idx: usize::MAX,
            len: 100
        })
    ));
}

#[test]
fn rejects_token_for_another_list_end_to_end() {
    let s = signer();
    let token = sample_token(&s);
    let options = VerifyOptions::new(ES256);
    let clock = FixedClock(IAT + 1);
    let other = "https://issuer.example/statuslists/8";
    let r = resolve_status(&referenced(3, other), &token, &key(&s), &options, &clock);
    assert!(matches!(
        r,
        Err(CheckError::Token(TokenError::SubjectMismatch { .. }))
    ));
    let v = verify_at(&token, &s, IAT).unwrap();
    assert!(matches!(
        check_status(&StatusClaim::new(3, other), &v),
        Err(CheckError::SubjectMismatch { ref expected, ref found }) if expected == other && found == URI
    ));
}

#[test]
fn rejects_referenced_token_without_status_end_to_end() {
    let s = signer();
    let token = sample_token(&s);
    let mut claims = referenced(3, URI);
    claims.remove("status");
    let r = resolve_status(
        &claims,
        &token,
        &key(&s),
        &VerifyOptions::new(ES256),
        &FixedClock(IAT),
    );
    assert!(matches!(
        r,
        Err(CheckError::Reference(ReferenceError::Missing("status")))
    ));
}
