//! RFC 9901 §7.1 step 3–5: rebuilding the claims from the Issuer-signed JWT payload and the
//! Disclosures, shared by the Verifier (which consumes the Disclosures) and the Holder
//! (which keeps them to present later).
//!
//! One recursive walk does everything: it finds the digests (`_sd` arrays and
//! `{"...": digest}` array elements), inserts the matching Disclosures (checking their shape,
//! name and uniqueness), recurses into disclosed values, drops unmatched array digests,
//! removes `_sd`/`_sd_alg`, and records where each Disclosure landed. Nesting of the rebuilt
//! document and of Disclosures inside Disclosures is bounded while walking.

use crate::disclosure::{Disclosure, SD_ALG};
use crate::error::VerifyError;
use crate::limits::Limits;
use crate::path::{ClaimPath, Trail, TrailElement};
use serde_json::{Map, Value};

/// Where the Disclosure values come from: moved out (verification consumes the SD-JWT) or
/// cloned (the Holder keeps its SD-JWT).
pub(crate) enum Values<'a> {
    Owned(Vec<Value>),
    Borrowed(&'a [Disclosure]),
}

impl Values<'_> {
    fn take(&mut self, i: usize) -> Value {
        match self {
            Values::Owned(v) => v.get_mut(i).map(std::mem::take).unwrap_or_default(),
            Values::Borrowed(d) => d.get(i).map(|d| d.value().clone()).unwrap_or_default(),
        }
    }
}

/// The rebuilt claims and, for each Disclosure used, the path of the claim it disclosed (in
/// the order the walk met them: parents before their children).
pub(crate) struct Processed {
    pub(crate) claims: Map<String, Value>,
    pub(crate) disclosed: Vec<(ClaimPath, usize)>,
}

struct Walker<'a> {
    disclosures: &'a [Disclosure],
    /// Disclosure digests (ASCII bytes) sorted, for binary search.
    index: Vec<(&'a [u8], usize)>,
    values: Values<'a>,
    used: Vec<bool>,
    /// Embedded digests that matched no Disclosure (decoys, undisclosed claims), to find
    /// repeats among them; a repeated *matching* digest is caught by `used`.
    seen: Vec<String>,
    disclosed: Vec<(ClaimPath, usize)>,
    limits: &'a Limits,
}

const RESERVED: [&str; 3] = ["_sd", "...", "_sd_alg"];

/// Processes `claims` with `disclosures` (RFC 9901 §7.1 steps 2.d and 3–5).
///
/// `order` lists the Disclosure indices sorted by digest (as [`SdJwt`](crate::SdJwt)
/// parsing computed them).
pub(crate) fn process(
    mut claims: Map<String, Value>,
    disclosures: &[Disclosure],
    order: &[usize],
    values: Values<'_>,
    limits: &Limits,
) -> Result<Processed, VerifyError> {
    match claims.shift_remove("_sd_alg") {
        None => {}
        Some(Value::String(s)) if s == SD_ALG => {}
        Some(Value::String(s)) => return Err(VerifyError::UnsupportedSdAlg(s)),
        Some(_) => return Err(VerifyError::SdAlgNotString),
    }
    let index: Vec<(&[u8], usize)> = order
        .iter()
        .filter_map(|&i| disclosures.get(i).map(|d| (d.digest_bytes(), i)))
        .collect();
    let mut w = Walker {
        disclosures,
        index,
        values,
        used: vec![false; disclosures.len()],
        seen: Vec::new(),
        disclosed: Vec::with_capacity(disclosures.len()),
        limits,
    };
    w.object(&mut claims, &Trail::ROOT, 1, 0)?;
    if let Some(i) = w.used.iter().position(|u| !u) {
        let digest = disclosures
            .get(i)
            .map(Disclosure::digest)
            .unwrap_or_default();
        return Err(VerifyError::DisclosureNotReferenced(digest.to_owned()));
    }
    w.seen.sort_unstable();
    if let Some(pair) = w.seen.windows(2).find(|p| p.first() == p.get(1)) {
        let d = pair.first().cloned().unwrap_or_default();
        return Err(VerifyError::DigestUsedTwice(d));
    }
    Ok(Processed {
        claims,
        disclosed: w.disclosed,
    })
}

impl<'a> Walker<'a> {
    fn lookup(&self, digest: &str) -> Option<usize> {
        self.index
            .binary_search_by(|(d, _)| (*d).cmp(digest.as_bytes()))
            .ok()
            .and_then(|pos| self.index.get(pos))
            .map(|(_, i)| *i)
    }

    /// Marks Disclosure `i` used; a second use means its digest appeared twice.
    fn claim(&mut self, i: usize, digest: &str) -> Result<&'a Disclosure, VerifyError> {
        match self.used.get_mut(i) {
            Some(u) if !*u => *u = true,
            _ => return Err(VerifyError::DigestUsedTwice(digest.to_owned())),
        }
        self.disclosures
            .get(i)
            .ok_or_else(|| VerifyError::DigestUsedTwice(digest.to_owned()))
    }

    fn value(
        &mut self,
        v: &mut Value,
        path: &Trail<'_>,
        depth: usize,
        sd_depth: usize,
    ) -> Result<(), VerifyError> {
        match v {
            Value::Object(o) => self.object(o, path, depth + 1, sd_depth),
            Value::Array(a) => self.array(a, path, depth + 1, sd_depth),
            _ => Ok(()),
        }
    }

    fn object(
        &mut self,
        obj: &mut Map<String, Value>,
        path: &Trail<'_>,
        depth: usize,
        sd_depth: usize,
    ) -> Result<(), VerifyError> {
        if depth > self.limits.max_json_depth {
            return Err(VerifyError::JsonTooDeep(self.limits.max_json_depth));
        }
        let sd = obj.shift_remove("_sd");
        if obj.contains_key("...") {
            return Err(VerifyError::ReservedClaimName("...".into()));
        }
        if obj.contains_key("_sd_alg") {
            return Err(VerifyError::SdAlgNotAtTopLevel);
        }
        // Plaintext members first, so that disclosed values (processed below) are walked
        // exactly once.
        for (name, v) in obj.iter_mut() {
            let child = path.child(TrailElement::Name(name));
            self.value(v, &child, depth, sd_depth)?;
        }
        let Some(sd) = sd else { return Ok(()) };
        let Value::Array(digests) = sd else {
            return Err(VerifyError::SdNotArrayOfStrings);
        };
        if digests.iter().any(|d| !d.is_string()) {
            return Err(VerifyError::SdNotArrayOfStrings);
        }
        for d in digests {
            let Value::String(digest) = d else { continue };
            if let Some(i) = self.lookup(&digest) {
                let disclosure = self.claim(i, &digest)?;
                let Some(name) = disclosure.name() else {
                    return Err(VerifyError::WrongDisclosureShape {
                        digest,
                        expected: 3,
                    });
                };
                if RESERVED.contains(&name) {
                    return Err(VerifyError::ReservedClaimName(name.to_owned()));
                }
                if obj.contains_key(name) {
                    return Err(VerifyError::ClaimAlreadyExists(name.to_owned()));
                }
                if sd_depth >= self.limits.max_sd_depth {
                    return Err(VerifyError::DisclosureNestingTooDeep(
                        self.limits.max_sd_depth,
                    ));
                }
                let child = path.child(TrailElement::Name(name));
                self.disclosed.push((child.to_path(), i));
                let mut value = self.values.take(i);
                self.value(&mut value, &child, depth, sd_depth + 1)?;
                obj.insert(name.to_owned(), value);
            } else {
                self.seen.push(digest);
            }
        }
        Ok(())
    }

    fn array(
        &mut self,
        arr: &mut Vec<Value>,
        path: &Trail<'_>,
        depth: usize,
        sd_depth: usize,
    ) -> Result<(), VerifyError> {
        if depth > self.limits.max_json_depth {
            return Err(VerifyError::JsonTooDeep(self.limits.max_json_depth));
        }
        let old = std::mem::take(arr);
        arr.reserve(old.len());
        for element in old {
            let at = arr.len();
            let child = path.child(TrailElement::Index(at));
            match element {
                Value::Object(mut o) if o.contains_key("...") => {
                    let digest = match (o.len(), o.shift_remove("...")) {
                        (1, Some(Value::String(d))) => d,
                        _ => return Err(VerifyError::MalformedArrayDigest),
                    };
                    if let Some(i) = self.lookup(&digest) {
                        let disclosure = self.claim(i, &digest)?;
                        if disclosure.name().is_some() {
                            return Err(VerifyError::WrongDisclosureShape {
                                digest,
                                expected: 2,
                            });
                        }
                        if sd_depth >= self.limits.max_sd_depth {
                            return Err(VerifyError::DisclosureNestingTooDeep(
                                self.limits.max_sd_depth,
                            ));
                        }
                        self.disclosed.push((child.to_path(), i));
                        let mut value = self.values.take(i);
                        self.value(&mut value, &child, depth, sd_depth + 1)?;
                        arr.push(value);
                    } else {
                        // An unmatched digest is a decoy or an undisclosed element: the
                        // element is removed (§7.1 step 3.d).
                        self.seen.push(digest);
                    }
                }
                mut other => {
                    self.value(&mut other, &child, depth, sd_depth)?;
                    arr.push(other);
                }
            }
        }
        Ok(())
    }
}
