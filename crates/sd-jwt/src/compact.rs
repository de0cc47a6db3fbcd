//! The compact serialization (RFC 9901 §4): `<Issuer-signed JWT>~<D1>~…~<Dn>~[<KB-JWT>]`.
//!
//! [`SdJwt::parse`] splits and decodes every part once, keeps the text exactly as received
//! and applies the [`Limits`] before any expensive work. Nothing is trusted yet: only the
//! header and the unverified claims are visible (to find the Issuer's key); the claims
//! themselves come out of [`SdJwt::verify`](crate::SdJwt::verify) as a
//! [`Verified`](crate::Verified).

use crate::disclosure::Disclosure;
use crate::error::{JsonPart, ParseError};
use crate::limits::{Limits, count_bytes, json_too_deep};
use jose::{CompactJws, Header, json};
use serde_json::{Map, Value};
use std::sync::Arc;

/// A parsed SD-JWT or SD-JWT+KB, not yet verified.
#[derive(Clone, Debug)]
pub struct SdJwt {
    /// Shared with the Disclosures, which are ranges of it.
    text: Arc<str>,
    /// Length of `<JWT>~<D1>~…~<Dn>~` (the `sd_hash` input, §4.3.1).
    sd_len: usize,
    jws: CompactJws,
    claims: Map<String, Value>,
    disclosures: Vec<Disclosure>,
    /// Disclosure indices sorted by digest (digests are unique).
    order: Vec<usize>,
    kb: Option<CompactJws>,
    limits: Limits,
}

impl SdJwt {
    /// Parses an SD-JWT or an SD-JWT+KB.
    pub fn parse(text: &str, limits: &Limits) -> Result<Self, ParseError> {
        if text.len() > limits.max_size {
            return Err(ParseError::TooLarge {
                size: text.len(),
                max: limits.max_size,
            });
        }
        let last = text.rfind('~').ok_or(ParseError::NotSdJwt)?;
        let (head, kb_text) = (
            text.get(..last).unwrap_or_default(),
            text.get(last + 1..).unwrap_or_default(),
        );
        // `~` count bounds the Disclosure count before anything is decoded.
        let count = count_bytes(head.as_bytes(), b'~', b'~');
        if count > limits.max_disclosures {
            return Err(ParseError::TooManyDisclosures {
                count,
                max: limits.max_disclosures,
            });
        }
        let shared: Arc<str> = Arc::from(text);
        let mut parts = head.split('~');
        let jwt = parts.next().unwrap_or_default();
        let jws = CompactJws::parse(jwt).map_err(ParseError::IssuerJwt)?;
        let payload = jws.payload_unverified();
        if json_too_deep(payload, limits.max_json_depth) {
            return Err(ParseError::JsonTooDeep {
                part: JsonPart::Payload,
                max: limits.max_json_depth,
            });
        }
        let claims = json::parse_object(payload).map_err(ParseError::PayloadNotJson)?;
        let mut disclosures = Vec::with_capacity(count);
        let mut buf = Vec::with_capacity(256);
        // Offsets of each part inside `text`, for the shared ranges.
        let mut start = jwt.len() + 1;
        for (index, part) in parts.enumerate() {
            if part.is_empty() {
                return Err(ParseError::EmptyDisclosure { index });
            }
            let range = start..start + part.len();
            start = range.end + 1;
            let d = Disclosure::parse_in(&shared, range, limits.max_json_depth, &mut buf)
                .map_err(|source| ParseError::Disclosure { index, source })?;
            disclosures.push(d);
        }
        let order = sorted_unique(&disclosures)?;
        let kb = if kb_text.is_empty() {
            None
        } else {
            Some(CompactJws::parse(kb_text).map_err(ParseError::KbJwt)?)
        };
        Ok(SdJwt {
            text: shared,
            sd_len: last + 1,
            jws,
            claims,
            disclosures,
            order,
            kb,
            limits: *limits,
        })
    }

    /// Parses an SD-JWT received from an Issuer for storage: an SD-JWT+KB is refused
    /// (RFC 9901 §7.2).
    pub fn parse_issued(text: &str, limits: &Limits) -> Result<Self, ParseError> {
        let s = Self::parse(text, limits)?;
        if s.kb.is_some() {
            return Err(ParseError::KeyBindingFromIssuer);
        }
        Ok(s)
    }

    /// The compact serialization exactly as received.
    pub fn as_str(&self) -> &str {
        &self.text
    }
    /// The Issuer-signed JWT as received.
    pub fn issuer_jwt(&self) -> &str {
        self.jws.as_str()
    }
    /// `<Issuer-signed JWT>~<D1>~…~<Dn>~` as received: what `sd_hash` covers.
    pub fn sd_jwt_part(&self) -> &str {
        self.text.get(..self.sd_len).unwrap_or_default()
    }
    /// The Issuer-signed JWT's header (not verified).
    pub fn issuer_header(&self) -> &Header {
        self.jws.header()
    }
    /// The Issuer-signed JWT payload, **not verified** and with digests unresolved: for
    /// finding the Issuer's key (`iss`) and for decoding tools, never for decisions.
    pub fn unverified_claims(&self) -> &Map<String, Value> {
        &self.claims
    }
    /// The Disclosures, in the order received.
    pub fn disclosures(&self) -> &[Disclosure] {
        &self.disclosures
    }
    /// The Key Binding JWT as received, if any.
    pub fn kb_jwt(&self) -> Option<&str> {
        self.kb.as_ref().map(CompactJws::as_str)
    }
    /// The limits this SD-JWT was parsed with (reused while processing it).
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub(crate) fn take_values(&mut self) -> Vec<Value> {
        self.disclosures
            .iter_mut()
            .map(Disclosure::take_value)
            .collect()
    }

    pub(crate) fn claims_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.claims
    }

    pub(crate) fn order(&self) -> &[usize] {
        &self.order
    }

    pub(crate) fn into_parts(self) -> Parts {
        Parts {
            sd_len: self.sd_len,
            text: self.text,
            jws: self.jws,
            claims: self.claims,
            disclosures: self.disclosures,
            order: self.order,
            kb: self.kb,
        }
    }
}

/// An [`SdJwt`] taken apart for verification (which consumes it).
pub(crate) struct Parts {
    pub(crate) text: Arc<str>,
    pub(crate) sd_len: usize,
    pub(crate) jws: CompactJws,
    pub(crate) claims: Map<String, Value>,
    pub(crate) disclosures: Vec<Disclosure>,
    pub(crate) order: Vec<usize>,
    pub(crate) kb: Option<CompactJws>,
}

/// The Disclosure indices sorted by digest, refusing a Disclosure sent twice (§4). Equal
/// strings have equal digests, so comparing digests finds them; different strings with
/// equal digests would be a SHA-256 collision.
fn sorted_unique(disclosures: &[Disclosure]) -> Result<Vec<usize>, ParseError> {
    let mut order: Vec<usize> = (0..disclosures.len()).collect();
    let digest = |i: &usize| {
        disclosures
            .get(*i)
            .map_or(&[][..], Disclosure::digest_bytes)
    };
    order.sort_unstable_by(|a, b| digest(a).cmp(digest(b)));
    for pair in order.windows(2) {
        if let [i, j] = pair
            && digest(i) == digest(j)
        {
            return Err(ParseError::DuplicateDisclosure {
                index: (*i).max(*j),
            });
        }
    }
    Ok(order)
}
