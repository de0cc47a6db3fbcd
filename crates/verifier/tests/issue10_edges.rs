//! Issue 10, clean edges of the wallet-facing response endpoint: a presentation whose JWT
//! names a refused algorithm or repeats a disclosure gets the specific code (not
//! `malformed_vp_token`), and a body that is not a form is refused before anything is
//! looked at.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;
use serde_json::json;

/// Starts a transaction, answers it with the holder's presentation after `tamper`, and
/// returns the endpoint's answer and the transaction as the RP sees it.
async fn answer_with(
    h: &Harness,
    tamper: impl FnOnce(String) -> String,
) -> (Answer, serde_json::Value) {
    let (id, link) = h.start(json!({})).await;
    let request = h.resolve(&link, None).await;
    let (qid, vp) = h.presentation(&h.pass(), &request, None);
    let a = h
        .form(
            "/response",
            h.answer(&request, h.vp_token(&qid, tamper(vp))),
        )
        .await;
    (a, h.view(&id).await)
}

/// `vp` with the issuer-signed JWT's header replaced by `header` (payload kept).
fn with_issuer_header(vp: &str, header: &str, signature: &str) -> String {
    let (jwt, rest) = vp.split_once('~').unwrap();
    let mut parts = jwt.split('.');
    let (_, payload) = (parts.next().unwrap(), parts.next().unwrap());
    format!(
        "{}.{payload}.{signature}~{rest}",
        jose::b64::encode(header.as_bytes())
    )
}

#[tokio::test]
async fn issue10_alg_none_or_hs256_in_a_vp_token_is_unsupported_algorithm() {
    let h = harness(Setup::default()).await;
    for (header, signature) in [
        (r#"{"alg":"none","typ":"dc+sd-jwt"}"#, String::new()),
        (
            r#"{"alg":"HS256","typ":"dc+sd-jwt"}"#,
            jose::b64::encode([7u8; 32]),
        ),
    ] {
        let (a, v) = answer_with(&h, |vp| with_issuer_header(&vp, header, &signature)).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{header}: {}", a.text());
        assert_eq!(a.error(), "unsupported_algorithm", "{header}: {}", a.text());
        let description = a.json()["error_description"].as_str().unwrap().to_owned();
        assert!(description.contains("alg"), "{description}");
        assert_eq!(v["status"], "failed");
        assert_eq!(v["error"], "unsupported_algorithm");
    }
}

#[tokio::test]
async fn issue10_a_duplicate_disclosure_is_invalid_disclosure() {
    let h = harness(Setup::default()).await;
    let (a, v) = answer_with(&h, |vp| {
        // jwt~d1~d2~…~kb → jwt~d1~d1~d2~…~kb
        let (jwt, rest) = vp.split_once('~').unwrap();
        let (first, _) = rest.split_once('~').unwrap();
        format!("{jwt}~{first}~{rest}")
    })
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    assert_eq!(a.error(), "invalid_disclosure", "{}", a.text());
    assert_eq!(v["status"], "failed");
    assert_eq!(v["error"], "invalid_disclosure");
}

#[tokio::test]
async fn issue10_response_endpoint_refuses_a_body_that_is_not_a_form() {
    let h = harness(Setup::default()).await;
    let (id, link) = h.start(json!({})).await;
    let request = h.resolve(&link, None).await;
    let (qid, vp) = h.presentation(&h.pass(), &request, None);
    let form = h.answer(&request, h.vp_token(&qid, vp));
    for content_type in [
        Some("application/json"),
        Some("text/plain"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let mut req = Request::post("/response");
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let response = h.call(req.body(Body::from(form.clone())).unwrap()).await;
        assert_eq!(
            response.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}: {}",
            response.text()
        );
        assert_eq!(response.error(), "invalid_request", "{content_type:?}");
        // Nothing was looked at: the transaction still waits for its answer.
        assert_eq!(h.view(&id).await["status"], "pending");
    }
    // The same body as a form (parameters allowed, any case) is accepted.
    let response = h
        .call(
            Request::post("/response")
                .header(
                    header::CONTENT_TYPE,
                    "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
                )
                .body(Body::from(form))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(h.view(&id).await["status"], "success");
}
