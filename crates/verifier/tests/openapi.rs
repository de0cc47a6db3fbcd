//! The committed OpenAPI document (`docs/openapi/verifier.json`) is the one the code
//! generates: a handler, parameter or schema change that is not reflected there fails
//! here. `UPDATE_OPENAPI=1 cargo test -p symbolon-verifier --test openapi` rewrites it.

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
use common::{Setup, harness};
use tower::ServiceExt;

fn committed_path() -> PathBuf {
    // The workspace root is two levels above the crate; no `canonicalize`, so that
    // `UPDATE_OPENAPI=1` can also create the file.
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = crate_dir.parent().and_then(|p| p.parent()).unwrap();
    root.join("docs/openapi/verifier.json")
}

#[test]
fn issue11_committed_openapi_document_matches_the_code() {
    let generated = verifier::openapi::document_json();
    let path = committed_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} differs from the document the verifier's handlers generate; if the change is \
         intended, regenerate it with\n    UPDATE_OPENAPI=1 cargo test -p symbolon-verifier \
         --test openapi\nand commit it",
        path.display()
    );
}

#[test]
fn issue11_openapi_document_describes_every_route() {
    let doc: serde_json::Value = serde_json::from_str(&verifier::openapi::document_json()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/transactions", &["post"][..]),
        ("/transactions/{id}", &["get"]),
        ("/transactions/{id}/qr", &["get"]),
        ("/request/{request_id}", &["get", "post"]),
        ("/response", &["post"]),
        ("/jwks", &["get"]),
        ("/openapi.json", &["get"]),
    ] {
        for method in methods {
            assert!(
                paths.get(path).and_then(|p| p.get(method)).is_some(),
                "{method} {path} is not in the document"
            );
        }
    }
    // The RP API is the only one behind the bearer token.
    for (path, method) in [
        ("/transactions", "post"),
        ("/transactions/{id}", "get"),
        ("/transactions/{id}/qr", "get"),
    ] {
        assert_eq!(
            paths[path][method]["security"],
            serde_json::json!([{"rp_bearer": []}])
        );
        assert!(paths[path][method]["responses"]["401"].is_object());
    }
    for (path, method) in [("/request/{request_id}", "post"), ("/response", "post")] {
        assert!(paths[path][method].get("security").is_none());
        assert!(
            paths[path][method]["requestBody"]["content"]["application/x-www-form-urlencoded"]
                .is_object()
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["rp_bearer"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    // Configuration-independent: the served copy adds the instance's base URL.
    assert!(doc.get("servers").is_none());
}

#[tokio::test]
async fn issue11_openapi_json_is_served_publicly_with_the_instance_base_url() {
    let h = harness(Setup::default()).await;
    // No bearer token: the document is public.
    let response = h
        .router
        .clone()
        .oneshot(Request::get("/openapi.json").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(
        response.headers()[header::CACHE_CONTROL],
        "public, max-age=300"
    );
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let mut served: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(served["servers"], serde_json::json!([{"url": h.base}]));
    // Apart from the servers entry, it is the committed document.
    served.as_object_mut().unwrap().remove("servers");
    let generated: serde_json::Value =
        serde_json::from_str(&verifier::openapi::document_json()).unwrap();
    assert_eq!(served, generated);
}

/// A wider schemathesis run (`positive_data_acceptance`) found `format=` documented as any
/// string while the handler takes only `svg` or `png`.
#[test]
fn issue11_qr_format_is_documented_as_svg_or_png() {
    let doc: serde_json::Value = serde_json::from_str(&verifier::openapi::document_json()).unwrap();
    let parameters = doc["paths"]["/transactions/{id}/qr"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let format = parameters.iter().find(|p| p["name"] == "format").unwrap();
    assert_eq!(format["in"], "query");
    let schema = &format["schema"];
    let reference = schema["$ref"]
        .as_str()
        .unwrap_or_else(|| panic!("{schema}"));
    let name = reference.rsplit('/').next().unwrap();
    assert_eq!(
        doc["components"]["schemas"][name]["enum"],
        serde_json::json!(["svg", "png"])
    );
}

#[tokio::test]
async fn issue11_rejects_a_qr_format_outside_the_documented_ones() {
    let h = harness(Setup::default()).await;
    let (id, _) = h
        .start(serde_json::json!({"client_id_prefix": "x509_san_dns"}))
        .await;
    for format in ["", "gif", "SVG"] {
        let a = h
            .rp(
                "GET",
                &format!("/transactions/{id}/qr?format={format}"),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{format:?}");
        assert_eq!(a.error(), "invalid_request");
    }
}
