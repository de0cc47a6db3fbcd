//! Issuance (RFC 9901 §4.1, §4.2): a [`Frame`] names the selectively disclosable claims by
//! path, at any depth, in objects and arrays, recursively (a disclosable claim whose own
//! members are disclosable too); the claims are turned into Disclosures bottom-up, digests
//! go into sorted `_sd` arrays (§4.2.4.1) or `{"...": digest}` array elements (§4.2.4.2),
//! decoys are added on request (§4.2.5), `_sd_alg` is `sha-256`, and the payload is signed
//! through a [`jose::Signer`].
//!
//! Salts are 128 bits from the injected [`SaltSource`], one per Disclosure (§9.3). A frame
//! path that names no claim is an error: a typo must not leave a claim in plaintext.

use crate::disclosure::{Disclosure, SD_ALG, sha256_b64};
use crate::error::{IssueError, SaltError};
use crate::path::{ClaimPath, PathElement, Trail, TrailElement};
use crate::salt::SaltSource;
use jose::{HeaderBuilder, Signer, b64};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// How many decoy digests to add (RFC 9901 §4.2.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Decoys {
    /// Added to every `_sd` array the Issuer creates.
    pub per_object: usize,
    /// Added, at random positions, to every array that has disclosable elements.
    pub per_array: usize,
}

#[derive(Clone, Debug, Default)]
struct FrameNode {
    sd: bool,
    members: Vec<(String, FrameNode)>,
    elements: Vec<(usize, FrameNode)>,
    all: Option<Box<FrameNode>>,
}

impl FrameNode {
    /// The child node for `e`, created when absent (`None` cannot happen).
    fn child(&mut self, e: &PathElement) -> Option<&mut FrameNode> {
        match e {
            PathElement::Name(n) => {
                let pos = match self.members.iter().position(|(m, _)| m == n) {
                    Some(p) => p,
                    None => {
                        self.members.push((n.clone(), FrameNode::default()));
                        self.members.len() - 1
                    }
                };
                self.members.get_mut(pos).map(|(_, c)| c)
            }
            PathElement::Index(i) => {
                let pos = match self.elements.iter().position(|(j, _)| j == i) {
                    Some(p) => p,
                    None => {
                        self.elements.push((*i, FrameNode::default()));
                        self.elements.len() - 1
                    }
                };
                self.elements.get_mut(pos).map(|(_, c)| c)
            }
            PathElement::All => Some(self.all.get_or_insert_with(Box::default)),
        }
    }

    fn merged(a: &FrameNode, b: &FrameNode) -> FrameNode {
        let mut out = a.clone();
        out.sd |= b.sd;
        let children = b
            .members
            .iter()
            .map(|(n, c)| (PathElement::Name(n.clone()), c))
            .chain(b.elements.iter().map(|(i, c)| (PathElement::Index(*i), c)))
            .chain(b.all.iter().map(|c| (PathElement::All, &**c)));
        for (e, node) in children {
            if let Some(slot) = out.child(&e) {
                *slot = FrameNode::merged(slot, node);
            }
        }
        out
    }

    /// A path below this node, for error messages.
    fn some_child_path(&self, trail: &Trail<'_>) -> ClaimPath {
        let element = if let Some((n, _)) = self.members.first() {
            PathElement::Name(n.clone())
        } else if let Some((i, _)) = self.elements.first() {
            PathElement::Index(*i)
        } else {
            PathElement::All
        };
        trail.to_path().join(element)
    }

    fn has_children(&self) -> bool {
        !self.members.is_empty() || !self.elements.is_empty() || self.all.is_some()
    }
}

/// Which claims are selectively disclosable, and how many decoys to add.
#[derive(Clone, Debug, Default)]
pub struct Frame {
    root: FrameNode,
    paths: Vec<ClaimPath>,
    decoys: Decoys,
}

impl Frame {
    /// A frame with no disclosable claim.
    pub fn new() -> Self {
        Frame::default()
    }

    /// A frame making every path in `paths` disclosable.
    pub fn from_paths<I: IntoIterator<Item = ClaimPath>>(paths: I) -> Self {
        let mut f = Frame::new();
        for p in paths {
            f.disclose(p);
        }
        f
    }

    /// Makes the claim at `path` selectively disclosable (with `All`: every element of the
    /// array). Paths may nest: `address` and `address.locality` together make the address
    /// disclosable and, inside it, the locality.
    pub fn disclose(&mut self, path: ClaimPath) -> &mut Self {
        let mut node = Some(&mut self.root);
        for e in path.elements() {
            node = node.and_then(|n| n.child(e));
        }
        if let Some(node) = node {
            node.sd = true;
        }
        self.paths.push(path);
        self
    }

    /// Builder form of [`disclose`](Self::disclose).
    #[must_use]
    pub fn with(mut self, path: ClaimPath) -> Self {
        self.disclose(path);
        self
    }

    /// Sets the decoy counts.
    #[must_use]
    pub fn with_decoys(mut self, decoys: Decoys) -> Self {
        self.decoys = decoys;
        self
    }

    /// The disclosable paths, as given.
    pub fn paths(&self) -> &[ClaimPath] {
        &self.paths
    }
}

/// Header options of the Issuer-signed JWT. `alg` comes from the signer and `kid` from
/// [`Signer::key_id`] when the signer has one.
#[derive(Clone, Copy, Debug, Default)]
pub struct IssueOptions<'a> {
    /// `typ` (RFC 9901 §9.11 recommends explicit typing; SD-JWT VC uses `dc+sd-jwt`).
    pub typ: Option<&'a str>,
    /// `x5c`: DER certificates, leaf first.
    pub x5c: Option<&'a [Vec<u8>]>,
}

/// An issued SD-JWT: `<Issuer-signed JWT>~<D1>~…~<Dn>~`.
#[derive(Clone, Debug)]
pub struct Issued {
    compact: String,
    disclosures: Vec<Disclosure>,
}

impl Issued {
    /// The compact serialization.
    pub fn as_str(&self) -> &str {
        &self.compact
    }
    /// The compact serialization, by value.
    pub fn into_string(self) -> String {
        self.compact
    }
    /// The Disclosures, in the order they appear.
    pub fn disclosures(&self) -> &[Disclosure] {
        &self.disclosures
    }
}

/// Random bytes fetched from the [`SaltSource`] in blocks: one generator call serves
/// sixteen salts, which matters when a credential has a dozen Disclosures.
struct Pool<'a> {
    source: &'a dyn SaltSource,
    buf: [u8; 256],
    used: usize,
}

impl Pool<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], IssueError> {
        if self.used + N > self.buf.len() {
            self.source.fill(&mut self.buf).map_err(IssueError::Salt)?;
            self.used = 0;
        }
        let mut out = [0u8; N];
        let chunk = self
            .buf
            .get(self.used..self.used + N)
            .ok_or(IssueError::Salt(SaltError))?;
        out.copy_from_slice(chunk);
        // Bytes handed out are never handed out again.
        self.buf
            .get_mut(self.used..self.used + N)
            .ok_or(IssueError::Salt(SaltError))?
            .fill(0);
        self.used += N;
        Ok(out)
    }
}

struct Ctx<'a> {
    pool: Pool<'a>,
    disclosures: Vec<Disclosure>,
    decoys: Decoys,
    digests: usize,
}

impl Ctx<'_> {
    fn salt(&mut self) -> Result<String, IssueError> {
        Ok(b64::encode(self.pool.take::<16>()?))
    }

    fn decoy(&mut self) -> Result<String, IssueError> {
        Ok(sha256_b64(self.salt()?.as_bytes()))
    }

    fn below(&mut self, n: usize) -> Result<usize, IssueError> {
        let r = u64::from_be_bytes(self.pool.take::<8>()?);
        // n is an array length, far below 2^32: the modulo bias is negligible.
        usize::try_from(r % u64::try_from(n).map_err(|_| IssueError::Salt(SaltError))?)
            .map_err(|_| IssueError::Salt(SaltError))
    }

    fn apply(
        &mut self,
        v: &mut Value,
        node: &FrameNode,
        trail: &Trail<'_>,
    ) -> Result<(), IssueError> {
        match v {
            Value::Object(o) => self.object(o, node, trail),
            Value::Array(a) => self.array(a, node, trail),
            _ if node.has_children() => Err(IssueError::PathNotFound(node.some_child_path(trail))),
            _ => Ok(()),
        }
    }

    fn object(
        &mut self,
        obj: &mut Map<String, Value>,
        node: &FrameNode,
        trail: &Trail<'_>,
    ) -> Result<(), IssueError> {
        if !node.elements.is_empty() || node.all.is_some() {
            return Err(IssueError::PathNotFound(node.some_child_path(trail)));
        }
        for (name, child) in &node.members {
            let path = trail.child(TrailElement::Name(name));
            let v = obj
                .get_mut(name)
                .ok_or_else(|| IssueError::PathNotFound(path.to_path()))?;
            self.apply(v, child, &path)?;
        }
        let mut digests: Vec<Value> = Vec::new();
        for (name, child) in &node.members {
            if !child.sd {
                continue;
            }
            let value = obj.shift_remove(name).unwrap_or_default();
            let d = Disclosure::for_property(self.salt()?, name.clone(), value);
            digests.push(Value::String(d.digest().to_owned()));
            self.disclosures.push(d);
        }
        if !digests.is_empty() {
            for _ in 0..self.decoys.per_object {
                digests.push(Value::String(self.decoy()?));
            }
            // Sorting hides the original order (§4.2.4.1).
            digests.sort_unstable_by(|a, b| a.as_str().cmp(&b.as_str()));
            self.digests += digests.len();
            obj.insert("_sd".into(), Value::Array(digests));
        }
        Ok(())
    }

    fn array(
        &mut self,
        arr: &mut Vec<Value>,
        node: &FrameNode,
        trail: &Trail<'_>,
    ) -> Result<(), IssueError> {
        if !node.members.is_empty() {
            return Err(IssueError::PathNotFound(node.some_child_path(trail)));
        }
        if let Some((i, _)) = node.elements.iter().find(|(i, _)| *i >= arr.len()) {
            return Err(IssueError::PathNotFound(
                trail.to_path().join(PathElement::Index(*i)),
            ));
        }
        let mut any = false;
        for (i, el) in arr.iter_mut().enumerate() {
            let specific = node.elements.iter().find(|(j, _)| *j == i).map(|(_, n)| n);
            let eff: Cow<'_, FrameNode> = match (specific, node.all.as_deref()) {
                (Some(s), Some(a)) => Cow::Owned(FrameNode::merged(a, s)),
                (Some(s), None) | (None, Some(s)) => Cow::Borrowed(s),
                (None, None) => continue,
            };
            let path = trail.child(TrailElement::Index(i));
            self.apply(el, &eff, &path)?;
            if eff.sd {
                let d = Disclosure::for_element(self.salt()?, std::mem::take(el));
                *el = digest_element(d.digest().to_owned());
                self.disclosures.push(d);
                self.digests += 1;
                any = true;
            }
        }
        if any {
            for _ in 0..self.decoys.per_array {
                let at = self.below(arr.len() + 1)?;
                arr.insert(at, digest_element(self.decoy()?));
                self.digests += 1;
            }
        }
        Ok(())
    }
}

fn digest_element(digest: String) -> Value {
    let mut m = Map::with_capacity(1);
    m.insert("...".into(), Value::String(digest));
    Value::Object(m)
}

/// Refuses input using the names RFC 9901 reserves (§4.1 rule 7, §4.1.1).
fn check_reserved(v: &Value) -> Result<(), IssueError> {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                if matches!(k.as_str(), "_sd" | "..." | "_sd_alg") {
                    return Err(IssueError::ReservedClaimName(k.clone()));
                }
                check_reserved(v)?;
            }
            Ok(())
        }
        Value::Array(a) => a.iter().try_for_each(check_reserved),
        _ => Ok(()),
    }
}

/// Issues an SD-JWT over `claims` with the disclosable claims of `frame`, signed by
/// `signer`, salts from `salts`.
pub fn issue(
    mut claims: Map<String, Value>,
    frame: &Frame,
    signer: &dyn Signer,
    salts: &dyn SaltSource,
    options: &IssueOptions<'_>,
) -> Result<Issued, IssueError> {
    for (k, v) in &claims {
        if matches!(k.as_str(), "_sd" | "..." | "_sd_alg") {
            return Err(IssueError::ReservedClaimName(k.clone()));
        }
        check_reserved(v)?;
    }
    let mut ctx = Ctx {
        pool: Pool {
            source: salts,
            buf: [0; 256],
            used: 256,
        },
        disclosures: Vec::with_capacity(frame.paths.len()),
        decoys: frame.decoys,
        digests: 0,
    };
    ctx.object(&mut claims, &frame.root, &Trail::ROOT)?;
    if ctx.digests > 0 {
        claims.insert("_sd_alg".into(), Value::String(SD_ALG.into()));
    }
    let mut header = HeaderBuilder::new();
    if let Some(typ) = options.typ {
        header = header.typ(typ);
    }
    if let Some(kid) = signer.key_id() {
        header = header.kid(kid);
    }
    if let Some(chain) = options.x5c {
        header = header.x5c(chain);
    }
    let payload = Value::Object(claims).to_string();
    let jwt = header
        .sign(payload.as_bytes(), signer)
        .map_err(IssueError::Sign)?;
    let len = jwt.len()
        + 1
        + ctx
            .disclosures
            .iter()
            .map(|d| d.as_str().len() + 1)
            .sum::<usize>();
    let mut compact = String::with_capacity(len);
    compact.push_str(&jwt);
    compact.push('~');
    for d in &ctx.disclosures {
        compact.push_str(d.as_str());
        compact.push('~');
    }
    Ok(Issued {
        compact,
        disclosures: ctx.disclosures,
    })
}
