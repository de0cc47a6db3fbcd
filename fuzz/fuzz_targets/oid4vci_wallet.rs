//! What a wallet parses from a credential issuer or from whoever hands it an offer: offer
//! URIs (by value and by reference, custom scheme and https), Credential Offers (§4.1.1),
//! token, nonce, credential and error responses, Credential Issuer and Authorization
//! Server Metadata. Must never panic, and what parses must keep the promises the parsers
//! make:
//! - an offer has a non-empty issuer, a non-empty list of unique configuration ids, a
//!   non-empty pre-authorized code, a positive `tx_code.length` and a description of at
//!   most 300 characters, and round-trips;
//! - an offer URI uses the offer scheme or https, an offer location is https (http only
//!   on loopback when the option allows it), and `to_uri` parses back to the same offer;
//! - responses and metadata keep their required members and round-trip; metadata names
//!   the issuer it was fetched for;
//! - no offer error message carries a control character.
//!
//! The first byte chooses between the rest as raw input and offer URIs and offers built
//! from it (members mostly right, one wrong).
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use oid4vci::offer::MAX_TX_CODE_DESCRIPTION;
use oid4vci::{
    AuthorizationServerMetadata, CredentialIssuerMetadata, CredentialOffer, CredentialResponse,
    ErrorResponse, NonceResponse, OfferReference, OfferUri, OfferUriOptions,
    PRE_AUTHORIZED_CODE_GRANT, TokenResponse,
};
use serde_json::{Map, Value, json};
use symbolon_fuzz::{assert_printable, extra_members, has_float, member, put, text};

const ISSUER: &str = "https://issuer.example";

fn check_offer(o: &CredentialOffer) {
    assert!(!o.credential_issuer.is_empty());
    let ids = &o.credential_configuration_ids;
    assert!(!ids.is_empty());
    for (i, id) in ids.iter().enumerate() {
        assert!(!ids.iter().take(i).any(|e| e == id), "`{id}` repeated");
    }
    if let Some(g) = &o.pre_authorized_code {
        assert!(!g.pre_authorized_code.is_empty());
        if let Some(tx) = &g.tx_code {
            assert_ne!(tx.length, Some(0));
            let described = tx.description.as_deref().unwrap_or("");
            assert!(described.chars().count() <= MAX_TX_CODE_DESCRIPTION);
        }
    }
    assert_eq!(
        CredentialOffer::from_json(o.to_json().as_bytes()).as_ref(),
        Ok(o)
    );
}

fn offer(body: &[u8]) {
    match CredentialOffer::from_json(body) {
        Ok(o) => check_offer(&o),
        Err(e) => assert_printable(&e),
    }
}

fn offer_uri(text: &str, options: OfferUriOptions) {
    let uri = match OfferUri::parse(text, options) {
        Ok(uri) => uri,
        Err(e) => return assert_printable(&e),
    };
    assert!(
        uri.endpoint.starts_with("openid-credential-offer:") || uri.endpoint.starts_with("https:"),
        "{}",
        uri.endpoint
    );
    match &uri.offer {
        OfferReference::ByValue(o) => check_offer(o),
        OfferReference::ByReference(location) => {
            let Ok(url) = url::Url::parse(location) else {
                panic!("offer location `{location}` is not a URL");
            };
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            let http_ok = options.allow_http_loopback && loopback && url.scheme() == "http";
            assert!(url.scheme() == "https" || http_ok, "{location}");
        }
    }
    let again = OfferUri::parse(&uri.to_uri(), options).map(|u| u.offer);
    assert_eq!(again.as_ref(), Ok(&uri.offer));
}

fn responses(body: &[u8]) {
    if let Ok(r) = TokenResponse::from_json(body) {
        let again = TokenResponse::from_json(r.to_value().to_string().as_bytes());
        if !has_float(&r.to_value()) {
            assert_eq!(again, Ok(r));
        }
    }
    if let Ok(r) = NonceResponse::from_json(body) {
        assert!(!r.c_nonce.is_empty());
        let again = NonceResponse::from_json(r.to_value().to_string().as_bytes());
        assert_eq!(again, Ok(r));
    }
    if let Ok(r) = CredentialResponse::from_json(body) {
        match &r {
            CredentialResponse::Issued { credentials, .. } => assert!(!credentials.is_empty()),
            CredentialResponse::Deferred { interval, .. } => assert!(*interval > 0),
        }
        let again = CredentialResponse::from_json(r.to_value().to_string().as_bytes());
        if !has_float(&r.to_value()) {
            assert_eq!(again.ok(), Some(r));
        }
    }
    if let Ok(e) = ErrorResponse::from_json(body) {
        let _ = e.code();
    }
}

fn metadata(body: &[u8]) {
    if let Ok(m) = CredentialIssuerMetadata::from_json(body, ISSUER) {
        assert_eq!(m.credential_issuer, ISSUER);
        assert!(!m.credential_configurations_supported.is_empty());
        let again =
            CredentialIssuerMetadata::from_json(m.to_value().to_string().as_bytes(), ISSUER);
        if !has_float(&m.to_value()) {
            assert_eq!(again.ok(), Some(m));
        }
    }
    if let Ok(m) = AuthorizationServerMetadata::from_json(body, ISSUER) {
        assert_eq!(m.issuer, ISSUER);
    }
}

fn tx_code(u: &mut Unstructured<'_>) -> Result<Value> {
    let mut m = Map::new();
    put(&mut m, "input_mode", member(u, json!("numeric"))?);
    let length = match u.choose_index(3)? {
        0 => json!(0),
        1 => json!(u.arbitrary::<u64>()?),
        _ => json!(6),
    };
    put(&mut m, "length", member(u, length)?);
    if u.arbitrary()? {
        let long = "x".repeat(u.int_in_range(299..=301)?);
        put(&mut m, "description", member(u, json!(long))?);
    }
    Ok(Value::Object(m))
}

fn offer_object(u: &mut Unstructured<'_>) -> Result<Value> {
    let mut m = Map::new();
    put(&mut m, "credential_issuer", member(u, json!(ISSUER))?);
    let n = u.int_in_range(0..=3)?;
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        ids.push(member(u, json!("ClassroomPass"))?.unwrap_or(Value::Null));
    }
    put(
        &mut m,
        "credential_configuration_ids",
        member(u, Value::Array(ids))?,
    );
    let mut grants = Map::new();
    if u.arbitrary()? {
        let mut g = Map::new();
        put(&mut g, "pre-authorized_code", member(u, json!("code-1"))?);
        if u.arbitrary()? {
            let good = tx_code(u)?;
            put(&mut g, "tx_code", member(u, good)?);
        }
        put(&mut g, "authorization_server", member(u, json!(ISSUER))?);
        put(
            &mut grants,
            PRE_AUTHORIZED_CODE_GRANT,
            member(u, Value::Object(g))?,
        );
    }
    if u.arbitrary()? {
        let mut g = Map::new();
        put(&mut g, "issuer_state", member(u, json!("state-1"))?);
        put(
            &mut grants,
            "authorization_code",
            member(u, Value::Object(g))?,
        );
    }
    put(&mut m, "grants", member(u, Value::Object(grants))?);
    extra_members(u, &mut m)?;
    Ok(Value::Object(m))
}

/// An offer URI: scheme, query parameters by value and by reference, repeated or both.
fn offer_uri_text(u: &mut Unstructured<'_>) -> Result<String> {
    let endpoint = match u.choose_index(5)? {
        0 => "https://wallet.example/offer".to_owned(),
        1 => "http://wallet.example/offer".to_owned(),
        2 => text(u)?,
        _ => "openid-credential-offer://".to_owned(),
    };
    let mut f = url::form_urlencoded::Serializer::new(String::new());
    for _ in 0..u.int_in_range(1..=3)? {
        match u.choose_index(4)? {
            0 => {
                let location = match u.choose_index(5)? {
                    0 => "http://localhost:8080/o/1".to_owned(),
                    1 => "http://[::1]/o/1".to_owned(),
                    2 => "http://issuer.example/o/1".to_owned(),
                    3 => text(u)?,
                    _ => "https://issuer.example/o/1".to_owned(),
                };
                f.append_pair("credential_offer_uri", &location);
            }
            1 => {
                let (name, value) = (text(u)?, text(u)?);
                f.append_pair(&name, &value);
            }
            _ => {
                f.append_pair("credential_offer", &offer_object(u)?.to_string());
            }
        }
    }
    let fragment = if u.ratio(1, 8)? { "#frag" } else { "" };
    Ok(format!("{endpoint}?{}{fragment}", f.finish()))
}

fn structured(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let options = OfferUriOptions {
        allow_http_loopback: u.arbitrary()?,
    };
    if u.arbitrary()? {
        offer(offer_object(&mut u)?.to_string().as_bytes());
    } else {
        offer_uri(&offer_uri_text(&mut u)?, options);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        offer(rest);
        responses(rest);
        metadata(rest);
        if let Ok(text) = std::str::from_utf8(rest) {
            for allow_http_loopback in [false, true] {
                offer_uri(
                    text,
                    OfferUriOptions {
                        allow_http_loopback,
                    },
                );
            }
        }
    } else {
        let _ = structured(rest);
    }
});
