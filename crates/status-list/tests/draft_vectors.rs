//! The examples and test vectors of draft-ietf-oauth-status-list-20, decoded and
//! re-encoded: §4.1/§4.2 (small lists), §5.1 (the signed JWT example), §6.2 (the
//! referenced SD-JWT example) and Appendix C (2^20-entry lists of 1, 2, 4 and 8 bits).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod vectors;

use jose::{Algorithm, CompactJws, FixedClock, PublicJwk, VerifyingKey};
use status_list::{
    Bits, DecodeLimits, EncodedStatusList, Status, StatusClaim, StatusList, StatusListToken,
    VerifyOptions, check_status,
};

const APPENDIX_C_LEN: usize = 1 << 20;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn list_from(bits: Bits, len: usize, entries: &[(usize, u8)]) -> StatusList {
    let mut list = StatusList::new(bits, len).unwrap();
    for (idx, value) in entries {
        list.set(*idx, *value).unwrap();
    }
    list
}

#[test]
fn draft20_s4_1_one_bit_example() {
    let statuses = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1];
    let entries: Vec<(usize, u8)> = statuses.iter().copied().enumerate().collect();
    let list = list_from(Bits::One, 16, &entries);
    assert_eq!(list.as_bytes(), [0xB9, 0xA3]);
    assert_eq!(hex(&list.compress().unwrap()), "78dadbb918000217015d");
    let encoded = list.encode().unwrap();
    assert_eq!(encoded.to_json(), r#"{"bits":1,"lst":"eNrbuRgAAhcBXQ"}"#);

    let decoded = EncodedStatusList::from_json(br#"{"bits":1,"lst":"eNrbuRgAAhcBXQ"}"#)
        .unwrap()
        .decode(&DecodeLimits::default())
        .unwrap();
    assert_eq!(decoded.iter().collect::<Vec<_>>(), statuses);
    assert_eq!(decoded, list);
}

#[test]
fn draft20_s4_1_two_bit_example() {
    let statuses = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3];
    let entries: Vec<(usize, u8)> = statuses.iter().copied().enumerate().collect();
    let list = list_from(Bits::Two, 12, &entries);
    assert_eq!(list.as_bytes(), [0xC9, 0x44, 0xF9]);
    assert_eq!(hex(&list.compress().unwrap()), "78da3be9f2130003df0207");
    assert_eq!(
        list.encode().unwrap().to_json(),
        r#"{"bits":2,"lst":"eNo76fITAAPfAgc"}"#
    );

    let decoded = EncodedStatusList::from_json(br#"{"bits":2,"lst":"eNo76fITAAPfAgc"}"#)
        .unwrap()
        .decode(&DecodeLimits::default())
        .unwrap();
    assert_eq!(decoded.iter().collect::<Vec<_>>(), statuses);
    assert_eq!(decoded.status(1).unwrap(), Status::Suspended);
    assert_eq!(decoded.status(3).unwrap(), Status::Other(3));
}

/// Decodes the vector, checks every listed entry and that all others are 0, then rebuilds
/// the list from the listing and checks the encoding reproduces `lst` byte for byte.
fn check_appendix_c(bits: Bits, entries: &[(usize, u8)], lst: &str) {
    let encoded = EncodedStatusList {
        bits,
        lst: lst.to_owned(),
        aggregation_uri: None,
    };
    let list = encoded.decode(&DecodeLimits::default()).unwrap();
    assert_eq!(list.len(), APPENDIX_C_LEN);
    for (idx, value) in entries {
        assert_eq!(list.get(*idx).unwrap(), *value, "entry {idx}");
    }
    let listed_non_zero = entries.iter().filter(|(_, v)| *v != 0).count();
    assert_eq!(list.iter().filter(|v| *v != 0).count(), listed_non_zero);

    let rebuilt = list_from(bits, APPENDIX_C_LEN, entries);
    assert_eq!(rebuilt, list);
    assert_eq!(rebuilt.to_lst().unwrap(), lst);
}

#[test]
fn draft20_appendix_c1_one_bit_list() {
    check_appendix_c(Bits::One, vectors::ENTRIES_1, vectors::LST_1);
}

#[test]
fn draft20_appendix_c2_two_bit_list() {
    check_appendix_c(Bits::Two, vectors::ENTRIES_2, vectors::LST_2);
}

#[test]
fn draft20_appendix_c3_four_bit_list() {
    check_appendix_c(Bits::Four, vectors::ENTRIES_4, vectors::LST_4);
}

#[test]
fn draft20_appendix_c4_eight_bit_list() {
    assert_eq!(vectors::ENTRIES_8.len(), 256);
    check_appendix_c(Bits::Eight, vectors::ENTRIES_8, vectors::LST_8);
}

/// `examples/status_list_jwt_raw.md`, signed with the example key of the draft's
/// generator (kid `12`).
const EXAMPLE_JWT: &str = concat!(
    "eyJhbGciOiJFUzI1NiIsImtpZCI6IjEyIiwidHlwIjoic3RhdHVzbGlzdCtqd3QifQ.e",
    "yJleHAiOjIyOTE3MjAxNzAsImlhdCI6MTY4NjkyMDE3MCwiaXNzIjoiaHR0cHM6Ly9le",
    "GFtcGxlLmNvbSIsInN0YXR1c19saXN0Ijp7ImJpdHMiOjEsImxzdCI6ImVOcmJ1UmdBQ",
    "WhjQlhRIn0sInN1YiI6Imh0dHBzOi8vZXhhbXBsZS5jb20vc3RhdHVzbGlzdHMvMSIsI",
    "nR0bCI6NDMyMDB9.2lKUUNG503R9htu4aHAYi7vjmr3sgApbfoDvPrl65N3URUO1EYqq",
    "Ql45Jfzd-Av4QzlKa3oVALpLwOEUOq-U_g",
);

/// The public half of that example key.
const EXAMPLE_KEY: &str = r#"{"kty":"EC","crv":"P-256","use":"sig","alg":"ES256","kid":"12",
  "x":"I3HWm_0Ds1dPMI-IWmf4mBmH-YaeAVbPVu7vB27CxXo",
  "y":"6N_d5Elj9bs1htgV3okJKIdbHEpkgTmAluYKJemzn1M"}"#;

const EXAMPLE_URI: &str = "https://example.com/statuslists/1";

fn example_key() -> VerifyingKey {
    VerifyingKey::from_jwk(&PublicJwk::from_json(EXAMPLE_KEY.as_bytes()).unwrap()).unwrap()
}

#[test]
fn draft20_s5_1_jwt_example_verifies() {
    let token = StatusListToken::parse(EXAMPLE_JWT).unwrap();
    assert_eq!(token.header().kid(), Some("12"));
    let verified = token
        .verify(
            &example_key(),
            EXAMPLE_URI,
            &VerifyOptions::new(&[Algorithm::Es256]).requiring_exp(),
            &FixedClock(1_686_920_170),
        )
        .unwrap();
    assert_eq!(verified.subject(), EXAMPLE_URI);
    assert_eq!(verified.issued_at(), 1_686_920_170);
    assert_eq!(verified.expires_at(), Some(2_291_720_170));
    assert_eq!(verified.ttl(), Some(43_200));
    assert_eq!(
        verified.claims().iss.as_deref(),
        Some("https://example.com")
    );
    assert_eq!(verified.cache_until(), Some(1_686_920_170 + 43_200));
    assert_eq!(verified.list().as_bytes(), [0xB9, 0xA3]);
    assert_eq!(verified.status(0).unwrap(), Status::Invalid);
    assert_eq!(verified.status(1).unwrap(), Status::Valid);
}

/// §6.2: the issuer-signed JWT of the SD-JWT example references entry 0 of the list above,
/// which is INVALID.
const SD_JWT_EXAMPLE_ISSUER_JWT: &str = concat!(
    "eyJhbGciOiAiRVMyNTYiLCAidHlwIjogImV4YW1wbGUrc2Qtand0In0.eyJfc2QiOiBb",
    "Ikh2cktYNmZQVjB2OUtfeUNWRkJpTEZIc01heGNEXzExNEVtNlZUOHgxbGciXSwgImlz",
    "cyI6ICJodHRwczovL2V4YW1wbGUuY29tL2lzc3VlciIsICJpYXQiOiAxNjgzMDAwMDAw",
    "LCAiZXhwIjogMTg4MzAwMDAwMCwgInN1YiI6ICI2YzVjMGE0OS1iNTg5LTQzMWQtYmFl",
    "Ny0yMTkxMjJhOWVjMmMiLCAic3RhdHVzIjogeyJzdGF0dXNfbGlzdCI6IHsiaWR4Ijog",
    "MCwgInVyaSI6ICJodHRwczovL2V4YW1wbGUuY29tL3N0YXR1c2xpc3RzLzEifX0sICJf",
    "c2RfYWxnIjogInNoYS0yNTYifQ.-kgS-R-Z4DEDlqb8kb6381_gHHNatsoF1fcVKZk3M",
    "06CrnV8F8k9d2w2V_YAOvgcb0f11FqDFezXBXH30d4vcw",
);

#[test]
fn draft20_s6_2_referenced_token_example_resolves() {
    // The referenced token's own signature is not this crate's business (its key is not
    // published); only its `status` claim is read here.
    let claims = CompactJws::parse(SD_JWT_EXAMPLE_ISSUER_JWT)
        .unwrap()
        .claims_unverified()
        .unwrap();
    let claim = StatusClaim::from_claims(&claims).unwrap();
    assert_eq!(claim, StatusClaim::new(0, EXAMPLE_URI));

    let options = VerifyOptions::new(&[Algorithm::Es256]);
    let clock = FixedClock(1_700_000_000);
    let status = claim
        .resolve(EXAMPLE_JWT, &example_key(), &options, &clock)
        .unwrap();
    assert_eq!(status, Status::Invalid);

    let verified = StatusListToken::parse(EXAMPLE_JWT)
        .unwrap()
        .verify(&example_key(), &claim.uri, &options, &clock)
        .unwrap();
    assert_eq!(check_status(&claim, &verified).unwrap(), Status::Invalid);
    assert_eq!(
        check_status(&StatusClaim::new(13, EXAMPLE_URI), &verified).unwrap(),
        Status::Invalid
    );
    assert_eq!(
        check_status(&StatusClaim::new(14, EXAMPLE_URI), &verified).unwrap(),
        Status::Valid
    );
}
