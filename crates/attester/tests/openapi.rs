//! The committed OpenAPI document (`docs/openapi/attester.json`) is the one the code
//! generates: a handler, parameter or schema change that is not reflected there fails
//! here. `UPDATE_OPENAPI=1 cargo test -p symbolon-attester --test openapi` rewrites it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::PathBuf;

use axum::http::{StatusCode, header};
use common::{ADMIN, Harness, IDENTIFIER, Options};

fn committed_path() -> PathBuf {
    // The workspace root is two levels above the crate; no `canonicalize`, so that
    // `UPDATE_OPENAPI=1` can also create the file.
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = crate_dir.parent().and_then(|p| p.parent()).unwrap();
    root.join("docs/openapi/attester.json")
}

fn generated() -> serde_json::Value {
    serde_json::from_str(&attester::openapi::document_json()).unwrap()
}

#[test]
fn issue11_committed_openapi_document_matches_the_code() {
    let generated = attester::openapi::document_json();
    let path = committed_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} differs from the document the attester's handlers generate; if the change is \
         intended, regenerate it with\n    UPDATE_OPENAPI=1 cargo test -p symbolon-attester \
         --test openapi\nand commit it",
        path.display()
    );
}

#[test]
fn issue11_openapi_document_describes_every_route() {
    let doc = generated();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/challenge", "post"),
        ("/v1/attestations", "post"),
        ("/.well-known/jwks.json", "get"),
        ("/v1/certificate", "get"),
        ("/admin/audit", "get"),
        ("/openapi.json", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not in the document"
        );
    }
    assert_eq!(paths.len(), 6, "a path the router does not have");
    // The admin API is the only one behind the bearer token.
    assert_eq!(
        paths["/admin/audit"]["get"]["security"],
        serde_json::json!([{"admin_bearer": []}])
    );
    assert!(paths["/admin/audit"]["get"]["responses"]["401"].is_object());
    for (path, method) in [
        ("/v1/challenge", "post"),
        ("/v1/attestations", "post"),
        ("/.well-known/jwks.json", "get"),
        ("/v1/certificate", "get"),
    ] {
        assert!(paths[path][method].get("security").is_none(), "{path}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["admin_bearer"]["scheme"],
        "bearer"
    );
    // Every refusal of the attestation endpoint in `error.rs`'s table is documented.
    let responses = paths["/v1/attestations"]["post"]["responses"]
        .as_object()
        .unwrap();
    for status in ["200", "400", "401", "403", "429", "500", "503"] {
        assert!(responses.contains_key(status), "{status}");
    }
    assert!(
        responses["429"]["headers"]["retry-after"].is_object(),
        "429 documents Retry-After"
    );
    // Configuration-independent: the served copy adds the instance's base URL.
    assert!(doc.get("servers").is_none());
}

/// The error body is the one type every role shares, and its `error` names the codes the
/// attester answers (the codes of `error::codes` and the shared ones it uses).
#[test]
fn issue11_error_body_is_the_shared_type_naming_the_attester_codes() {
    let doc = generated();
    let body = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(body["required"], serde_json::json!(["error"]));
    let codes = body["properties"]["error"]["description"].as_str().unwrap();
    for code in [
        attester::error::codes::INVALID_REQUEST,
        attester::error::codes::UNSUPPORTED_EVIDENCE_TYPE,
        attester::error::codes::INVALID_PROOF,
        attester::error::codes::INVALID_CHALLENGE,
        attester::error::codes::INVALID_EVIDENCE,
        attester::error::codes::ACCESS_DENIED,
        attester::error::codes::RATE_LIMITED,
        attester::error::codes::INVALID_TOKEN,
        service::error::codes::NOT_FOUND,
        service::error::codes::TEMPORARILY_UNAVAILABLE,
        service::error::codes::SERVER_ERROR,
    ] {
        assert!(codes.contains(&format!("`{code}`")), "{code}: {codes}");
    }
}

#[tokio::test]
async fn issue11_openapi_json_is_served_publicly_with_the_instance_base_url() {
    let h = Harness::new(Options::default()).await;
    // No bearer token, and from any address: the document is public.
    let a = h.get("/openapi.json").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(a.headers[header::CACHE_CONTROL], "public, max-age=300");
    let mut served = a.json;
    assert_eq!(served["servers"], serde_json::json!([{"url": IDENTIFIER}]));
    // Apart from the servers entry, it is the committed document.
    served.as_object_mut().unwrap().remove("servers");
    assert_eq!(served, generated());
}

/// The properties and required members of a component schema, following `allOf` (a
/// flattened member) and `$ref`s.
fn members(doc: &serde_json::Value, schema: &serde_json::Value) -> (Vec<String>, Vec<String>) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        return members(doc, &doc["components"]["schemas"][name]);
    }
    let mut properties: Vec<String> = schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    let mut required: Vec<String> = schema["required"]
        .as_array()
        .map(|r| r.iter().map(|m| m.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        let (p, r) = members(doc, part);
        properties.extend(p);
        required.extend(r);
    }
    properties.sort();
    required.sort();
    (properties, required)
}

fn object_keys(v: &serde_json::Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

/// The bodies the handlers write have exactly the documented members (the schemathesis run
/// in `crates/symbolon/tests/openapi_conformance.rs` checks every answer it provokes; this
/// covers the attestation and a non-empty audit page, which it cannot reach without a valid
/// proof).
#[tokio::test]
async fn issue11_issued_attestation_and_audit_record_have_the_documented_members() {
    let h = Harness::new(Options {
        dev: true,
        ..Options::default()
    })
    .await;
    let doc = generated();
    let schema = |name: &str| doc["components"]["schemas"][name].clone();

    let ci = common::ci_key();
    let body = h
        .request(&ci, "wallet-1", serde_json::json!({"type": "dev"}))
        .await;
    let issued = h.post_attestation(&body).await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.text);
    let (properties, required) = members(&doc, &schema("AttestationIssued"));
    assert_eq!(object_keys(&issued.json), properties);
    assert_eq!(required, properties);

    let page = h.admin_get("/admin/audit", Some(ADMIN)).await;
    assert_eq!(page.status, StatusCode::OK);
    let (properties, required) = members(&doc, &schema("AuditPage"));
    assert_eq!(object_keys(&page.json), properties);
    assert_eq!(required, properties);
    let record = &page.json["records"][0];
    let (properties, required) = members(&doc, &schema("AuditRecord"));
    assert_eq!(object_keys(record), properties, "{record}");
    // Every member is always written (`pod` is `null` for dev evidence).
    assert_eq!(required, properties);
    assert_eq!(record["pod"], serde_json::Value::Null);
    let (properties, _) = members(&doc, &schema("AuditHead"));
    assert_eq!(object_keys(&page.json["head"]), properties);
}
