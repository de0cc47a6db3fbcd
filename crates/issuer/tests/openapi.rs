//! The committed OpenAPI document (`docs/openapi/issuer.json`) is the one the code
//! generates: a handler, parameter or schema change that is not reflected there fails
//! here. `UPDATE_OPENAPI=1 cargo test -p symbolon-issuer --test openapi` rewrites it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::PathBuf;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;
use store::Backend;

fn committed_path() -> PathBuf {
    // The workspace root is two levels above the crate; no `canonicalize`, so that
    // `UPDATE_OPENAPI=1` can also create the file.
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = crate_dir.parent().and_then(|p| p.parent()).unwrap();
    root.join("docs/openapi/issuer.json")
}

fn generated() -> serde_json::Value {
    serde_json::from_str(&issuer::openapi::document_json()).unwrap()
}

#[test]
fn issue11_committed_openapi_document_matches_the_code() {
    let generated = issuer::openapi::document_json();
    let path = committed_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} differs from the document the issuer's handlers generate; if the change is \
         intended, regenerate it with\n    UPDATE_OPENAPI=1 cargo test -p symbolon-issuer \
         --test openapi\nand commit it",
        path.display()
    );
}

#[test]
fn issue11_openapi_document_describes_every_route() {
    let doc = generated();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let routes = [
        ("/.well-known/openid-credential-issuer", "get"),
        ("/.well-known/oauth-authorization-server", "get"),
        ("/.well-known/jwt-vc-issuer", "get"),
        ("/jwks", "get"),
        ("/status/{list}", "get"),
        ("/openapi.json", "get"),
        ("/token", "post"),
        ("/challenge", "post"),
        ("/nonce", "post"),
        ("/credential", "post"),
        ("/notification", "post"),
        ("/offers/{handle}", "get"),
        ("/admin/offers", "post"),
        ("/admin/credentials", "get"),
        ("/admin/credentials/{id}", "get"),
        ("/admin/credentials/{id}/status", "post"),
    ];
    for (path, method) in routes {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not in the document"
        );
    }
    assert_eq!(
        paths
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum::<usize>(),
        routes.len(),
        "the document has operations the router does not"
    );
    // The admin API is behind its bearer token, the resources behind the access token;
    // nothing else is.
    for (path, method) in routes {
        let operation = &paths[path][method];
        let expected = if path.starts_with("/admin/") {
            Some(serde_json::json!([{"admin_bearer": []}]))
        } else if path == "/credential" || path == "/notification" {
            Some(serde_json::json!([{"access_token": []}]))
        } else {
            None
        };
        assert_eq!(operation.get("security").cloned(), expected, "{path}");
        if expected.is_some() {
            assert!(operation["responses"]["401"].is_object(), "{path}");
        }
    }
    // The token endpoint takes its form and the client attestation headers.
    let token = &paths["/token"]["post"];
    assert!(token["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object());
    let headers: Vec<(&str, bool)> = token["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in"] == "header")
        .map(|p| (p["name"].as_str().unwrap(), p["required"] == true))
        .collect();
    assert_eq!(
        headers,
        [
            ("OAuth-Client-Attestation", true),
            ("OAuth-Client-Attestation-PoP", true),
            ("DPoP", false)
        ]
    );
    // Plain or encrypted credential requests and responses.
    let credential = &paths["/credential"]["post"];
    for content in [
        &credential["requestBody"]["content"],
        &credential["responses"]["200"]["content"],
    ] {
        assert!(content["application/json"].is_object(), "{content}");
        assert!(content["application/jwt"].is_object(), "{content}");
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["admin_bearer"]["scheme"], "bearer");
    assert_eq!(schemes["access_token"]["scheme"], "bearer");
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    // Configuration-independent: the served copy adds the issuer identifier.
    assert!(doc.get("servers").is_none());
}

async fn issue11_openapi_json_is_served_publicly_with_the_issuer_identifier(b: Backend) {
    let h = harness(b).await;
    let r = h
        .send(Request::get("/openapi.json").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(r.headers[header::CACHE_CONTROL], "public, max-age=300");
    let mut served = r.json();
    assert_eq!(served["servers"], serde_json::json!([{"url": ISSUER}]));
    // Apart from the servers entry, it is the committed document.
    served.as_object_mut().unwrap().remove("servers");
    assert_eq!(served, generated());
}

both_backends!(issue11_openapi_json_is_served_publicly_with_the_issuer_identifier);
