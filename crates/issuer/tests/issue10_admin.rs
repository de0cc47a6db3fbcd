//! Issue 10: the admin token is checked before the query string is parsed, so an
//! unauthenticated caller gets 401 whatever it sends, and a bad query from an
//! authenticated one is a JSON `invalid_request`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::body::Body;
use axum::http::{Request, header};
use common::*;
use store::Backend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_admin_token_is_checked_before_the_query_is_parsed() {
    let h = harness(Backend::Sqlite).await;
    for auth in [None, Some("Bearer wrong-token")] {
        let mut req = Request::get("/admin/credentials?limit=many&before=yesterday");
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        h.send(req.body(Body::empty()).unwrap())
            .await
            .assert_error(401, "invalid_token");
    }
    let r = h
        .admin_get("/admin/credentials?limit=many&before=yesterday")
        .await;
    r.assert_error(400, "invalid_request");
    let description = r.json()["error_description"].as_str().unwrap().to_owned();
    assert!(description.contains("query"), "{description}");
}
