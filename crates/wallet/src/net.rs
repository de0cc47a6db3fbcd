//! Outbound HTTP for the wallet core: every call goes through the SSRF-guarded client;
//! answers are read in full (size-capped), error bodies turned into [`PeerError`]s, and
//! each exchange is reported to the observer the caller installed (the demo prints them).

use std::sync::Arc;

use http_client::{Fetched, GuardedClient};
use serde_json::Value;

use crate::error::PeerError;

/// One HTTP exchange, as the wallet saw it (for transcripts; the observer decides what
/// to show and must not log it in production: bodies carry credentials).
#[derive(Clone, Debug)]
pub struct Exchange {
    /// Which endpoint, in words ("token endpoint").
    pub what: &'static str,
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The URL.
    pub url: String,
    /// Request headers worth showing (attestation headers, content type).
    pub request_headers: Vec<(String, String)>,
    /// The request body, if any.
    pub request_body: Option<String>,
    /// HTTP status.
    pub status: u16,
    /// The response body (lossy UTF-8).
    pub response_body: String,
}

/// Receives every exchange.
pub type Observer = Arc<dyn Fn(&Exchange) + Send + Sync>;

/// A request to send.
pub(crate) struct Outgoing<'a> {
    pub(crate) what: &'static str,
    pub(crate) method: reqwest::Method,
    pub(crate) url: &'a str,
    pub(crate) accept: &'a str,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Option<(&'static str, String)>,
}

impl<'a> Outgoing<'a> {
    pub(crate) fn get(what: &'static str, url: &'a str, accept: &'a str) -> Self {
        Outgoing {
            what,
            method: reqwest::Method::GET,
            url,
            accept,
            headers: Vec::new(),
            body: None,
        }
    }

    pub(crate) fn post(
        what: &'static str,
        url: &'a str,
        accept: &'a str,
        content_type: &'static str,
        body: String,
    ) -> Self {
        Outgoing {
            what,
            method: reqwest::Method::POST,
            url,
            accept,
            headers: Vec::new(),
            body: Some((content_type, body)),
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// The client and the observer.
#[derive(Clone)]
pub(crate) struct Net {
    pub(crate) http: GuardedClient,
    pub(crate) observer: Option<Observer>,
}

impl Net {
    /// Sends, reads the answer, reports the exchange. Any status is returned.
    pub(crate) async fn send(&self, out: Outgoing<'_>) -> Result<Fetched, PeerError> {
        let unreachable = |source| PeerError::Unreachable {
            what: out.what,
            source,
        };
        let mut request = self
            .http
            .request(out.method.clone(), out.url)
            .map_err(unreachable)?
            .header(reqwest::header::ACCEPT, out.accept);
        for (name, value) in &out.headers {
            request = request.header(*name, value);
        }
        if let Some((content_type, body)) = &out.body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, *content_type)
                .body(body.clone());
        }
        let fetched = self.http.send(request).await.map_err(unreachable)?;
        if let Some(observer) = &self.observer {
            let mut request_headers: Vec<(String, String)> = out
                .headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect();
            if let Some((ct, _)) = &out.body {
                request_headers.push(("Content-Type".into(), (*ct).to_owned()));
            }
            observer(&Exchange {
                what: out.what,
                method: if out.method == reqwest::Method::GET {
                    "GET"
                } else {
                    "POST"
                },
                url: out.url.to_owned(),
                request_headers,
                request_body: out.body.as_ref().map(|(_, b)| b.clone()),
                status: fetched.status.as_u16(),
                response_body: String::from_utf8_lossy(&fetched.body).into_owned(),
            });
        }
        Ok(fetched)
    }

    /// Sends and requires a 2xx answer.
    pub(crate) async fn send_ok(&self, out: Outgoing<'_>) -> Result<Fetched, PeerError> {
        let what = out.what;
        let fetched = self.send(out).await?;
        if fetched.status.is_success() {
            Ok(fetched)
        } else {
            Err(refused(what, &fetched))
        }
    }
}

/// The error a non-2xx answer stands for: its OAuth-style `error` and description, when
/// the body has them (only printable, bounded text is kept).
pub(crate) fn refused(what: &'static str, fetched: &Fetched) -> PeerError {
    let body = jose::json::parse_value(&fetched.body).ok();
    let text = |name: &str| {
        body.as_ref()
            .and_then(|b| b.get(name))
            .and_then(Value::as_str)
            .filter(|s| s.len() <= 512 && s.chars().all(|c| !c.is_control()))
            .map(str::to_owned)
    };
    PeerError::Refused {
        what,
        status: fetched.status.as_u16(),
        error: text("error"),
        description: text("error_description"),
    }
}

/// The body as a JSON object.
pub(crate) fn json_object(
    what: &'static str,
    fetched: &Fetched,
) -> Result<serde_json::Map<String, Value>, PeerError> {
    jose::json::parse_object(&fetched.body).map_err(|_| PeerError::Malformed {
        what,
        detail: "not a JSON object".into(),
    })
}
