//! Everything a wallet or a verifier parses from the other side: direct_post bodies (and
//! decrypted payloads), request_uri POST bodies, wallet metadata, invocation URIs; must
//! never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oid4vp::{AuthorizationResponse, DirectPostBody, Invocation, RequestUriPost, WalletMetadata};

fuzz_target!(|data: &[u8]| {
    let _ = DirectPostBody::from_form(data);
    let _ = RequestUriPost::from_form(data);
    if let Ok(map) = jose::json::parse_object(data) {
        let _ = AuthorizationResponse::from_payload(&map);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = WalletMetadata::from_json(text);
        let _ = Invocation::parse(text);
        let _ = oid4vp::ClientId::parse(text);
    }
});
