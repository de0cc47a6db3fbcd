//! Presentation by the Holder (RFC 9901 §7.2): choose Disclosures by claim path, assemble
//! `<JWT>~<selected>~`, and optionally append a Key Binding JWT signed through a
//! [`jose::Signer`] or, in two steps, by a remote signer (a wallet client).
//!
//! Selection rules:
//! - [`Presenter::select`] discloses the claim at a path **and every Disclosure on the way
//!   to it** (a nested claim brings its parents' Disclosures: RFC 9901 §4.2.6 forbids a
//!   Disclosure that does not connect to the Issuer-signed JWT). It does not disclose the
//!   selectively disclosable members *inside* the selected claim: selecting `address`
//!   reveals the address object with its always-visible members only; select
//!   `address.locality` too, or use [`Presenter::select_subtree`].
//! - [`Presenter::select_subtree`] discloses the claim and everything below it (what an
//!   OpenID4VP claims path pointer to an object or array asks for).
//! - `[*]` / `null` selects every element of an array.
//! - Array indices count the elements of the Holder's fully disclosed view
//!   ([`Presenter::all_claims`]).
//! - A path that names no claim is an error, not an empty selection.
//!
//! Disclosures keep the order in which the Issuer sent them.

use crate::compact::SdJwt;
use crate::error::PresentError;
use crate::kb::{self, KbInput};
use crate::path::{ClaimPath, PathElement};
use crate::process::{self, Values};
use jose::jws::attach_signature;
use jose::{Algorithm, Signer};
use serde_json::{Map, Value};

enum Source<'s> {
    Borrowed(&'s SdJwt),
    Owned(Box<SdJwt>),
}

impl Source<'_> {
    fn get(&self) -> &SdJwt {
        match self {
            Source::Borrowed(s) => s,
            Source::Owned(s) => s,
        }
    }
}

/// Builds presentations of one SD-JWT.
pub struct Presenter<'s> {
    source: Source<'s>,
    claims: Map<String, Value>,
    locations: Vec<(ClaimPath, usize)>,
    selected: Vec<bool>,
}

impl std::fmt::Debug for Presenter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presenter")
            .field("locations", &self.locations)
            .field("selected", &self.selected)
            .finish_non_exhaustive()
    }
}

impl SdJwt {
    /// A presenter over this SD-JWT (which stays usable for further presentations).
    ///
    /// The Issuer signature is not checked here: a Holder checks it once on receipt
    /// ([`SdJwt::verify`] with [`KeyBinding::Forbidden`](crate::KeyBinding::Forbidden)).
    pub fn presenter(&self) -> Result<Presenter<'_>, PresentError> {
        let processed = process::process(
            self.unverified_claims().clone(),
            self.disclosures(),
            self.order(),
            Values::Borrowed(self.disclosures()),
            self.limits(),
        )
        .map_err(PresentError::Invalid)?;
        Ok(Presenter {
            selected: vec![false; self.disclosures().len()],
            source: Source::Borrowed(self),
            claims: processed.claims,
            locations: processed.disclosed,
        })
    }

    /// A presenter that takes this SD-JWT over (avoids copying the claims).
    pub fn into_presenter(self) -> Result<Presenter<'static>, PresentError> {
        let mut this = Box::new(self);
        let values = this.take_values();
        let claims = std::mem::take(this.claims_mut());
        let processed = process::process(
            claims,
            this.disclosures(),
            this.order(),
            Values::Owned(values),
            this.limits(),
        )
        .map_err(PresentError::Invalid)?;
        Ok(Presenter {
            selected: vec![false; this.disclosures().len()],
            source: Source::Owned(this),
            claims: processed.claims,
            locations: processed.disclosed,
        })
    }
}

fn exists(v: &Value, path: &[PathElement]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return true;
    };
    match (first, v) {
        (PathElement::Name(n), Value::Object(o)) => o.get(n).is_some_and(|c| exists(c, rest)),
        (PathElement::Index(i), Value::Array(a)) => a.get(*i).is_some_and(|c| exists(c, rest)),
        (PathElement::All, Value::Array(a)) => rest.is_empty() || a.iter().any(|c| exists(c, rest)),
        _ => false,
    }
}

impl Presenter<'_> {
    /// The Holder's view: every claim, all Disclosures applied (signature not checked by
    /// this type).
    pub fn all_claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// Paths of all selectively disclosable claims, parents before children.
    pub fn disclosable(&self) -> impl Iterator<Item = &ClaimPath> {
        self.locations.iter().map(|(p, _)| p)
    }

    fn check_exists(&self, path: &ClaimPath) -> Result<(), PresentError> {
        let (first, rest) = path
            .elements()
            .split_first()
            .ok_or_else(|| PresentError::ClaimNotFound(path.clone()))?;
        let found = match first {
            PathElement::Name(n) => self.claims.get(n).is_some_and(|v| exists(v, rest)),
            _ => false,
        };
        if found {
            Ok(())
        } else {
            Err(PresentError::ClaimNotFound(path.clone()))
        }
    }

    /// Discloses the claim at `path` and the Disclosures of its ancestors.
    pub fn select(&mut self, path: &ClaimPath) -> Result<&mut Self, PresentError> {
        self.check_exists(path)?;
        for (loc, i) in &self.locations {
            if path.is_covered_prefix(loc.elements())
                && let Some(s) = self.selected.get_mut(*i)
            {
                *s = true;
            }
        }
        Ok(self)
    }

    /// Discloses the claim at `path`, its ancestors and everything inside it.
    pub fn select_subtree(&mut self, path: &ClaimPath) -> Result<&mut Self, PresentError> {
        self.check_exists(path)?;
        for (loc, i) in &self.locations {
            if (path.is_covered_prefix(loc.elements()) || path.covers_prefix_of(loc.elements()))
                && let Some(s) = self.selected.get_mut(*i)
            {
                *s = true;
            }
        }
        Ok(self)
    }

    /// Discloses everything.
    pub fn select_all(&mut self) -> &mut Self {
        self.selected.iter_mut().for_each(|s| *s = true);
        self
    }

    /// Withdraws every selection.
    pub fn clear(&mut self) -> &mut Self {
        self.selected.iter_mut().for_each(|s| *s = false);
        self
    }

    /// The Disclosures currently selected, in issuance order.
    pub fn selected(&self) -> impl Iterator<Item = &crate::Disclosure> {
        self.source
            .get()
            .disclosures()
            .iter()
            .zip(&self.selected)
            .filter_map(|(d, s)| s.then_some(d))
    }

    /// The SD-JWT to present without key binding: `<JWT>~<selected>~`.
    pub fn sd_jwt(&self) -> String {
        let src = self.source.get();
        let jwt = src.issuer_jwt();
        let len = jwt.len() + 1 + self.selected().map(|d| d.as_str().len() + 1).sum::<usize>();
        let mut out = String::with_capacity(len);
        out.push_str(jwt);
        out.push('~');
        for d in self.selected() {
            out.push_str(d.as_str());
            out.push('~');
        }
        out
    }

    /// The SD-JWT+KB: the selection plus a KB-JWT over it signed by `signer`.
    pub fn with_key_binding(
        &self,
        input: &KbInput,
        signer: &dyn Signer,
    ) -> Result<String, PresentError> {
        let unsigned = self.unsigned(signer.algorithm(), input);
        let sig = signer
            .sign(unsigned.signing_input.as_bytes())
            .map_err(PresentError::Sign)?;
        Ok(unsigned.attach_signature(&sig))
    }

    /// The first of two steps for a remote signer: the selection and the KB-JWT signing
    /// input for `alg`. Send [`UnsignedPresentation::signing_input`] to the signer, then
    /// call [`UnsignedPresentation::attach_signature`].
    pub fn unsigned(&self, alg: Algorithm, input: &KbInput) -> UnsignedPresentation {
        let mut sd_jwt_part = self.sd_jwt();
        let payload = kb::payload(input, &sd_jwt_part);
        let signing_input = kb::signing_input(alg, &payload);
        sd_jwt_part.reserve(signing_input.len() + 130);
        UnsignedPresentation {
            sd_jwt_part,
            signing_input,
        }
    }
}

/// A presentation waiting for its KB-JWT signature.
#[derive(Clone, Debug)]
pub struct UnsignedPresentation {
    sd_jwt_part: String,
    signing_input: String,
}

impl UnsignedPresentation {
    /// `<JWT>~<selected>~`, which `sd_hash` covers.
    pub fn sd_jwt_part(&self) -> &str {
        &self.sd_jwt_part
    }
    /// The KB-JWT signing input (ASCII) to sign.
    pub fn signing_input(&self) -> &str {
        &self.signing_input
    }
    /// The SD-JWT+KB with `signature` (JWS form: `r‖s` for ECDSA).
    pub fn attach_signature(self, signature: &[u8]) -> String {
        let mut out = self.sd_jwt_part;
        out.push_str(&attach_signature(self.signing_input, signature));
        out
    }
}
