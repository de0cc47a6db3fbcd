//! The DCQL query itself (OpenID4VP 1.0 §6): its types, parsing with every validity rule
//! checked once ([`DcqlQuery::from_value`]), and its JSON form.
//!
//! A [`DcqlQuery`] can only be obtained valid: from JSON, or from parts through
//! [`DcqlQuery::new`], which runs the same checks. Unknown members are ignored, as §6
//! requires, and are not carried through.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::error::DcqlError;
use super::path::{ClaimsPathPointer, PathElement};

/// The credential format identifier of IETF SD-JWT VC (Appendix B.3.1).
pub const FORMAT_SD_JWT_VC: &str = "dc+sd-jwt";
/// The credential format identifier of ISO mdoc (Appendix B.2).
pub const FORMAT_MSO_MDOC: &str = "mso_mdoc";

/// A valid DCQL query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DcqlQuery {
    credentials: Vec<CredentialQuery>,
    credential_sets: Option<Vec<CredentialSetQuery>>,
}

/// A Credential Query (§6.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialQuery {
    /// `id`: names the credential in the response and in `credential_sets`.
    pub id: String,
    /// `format` and `meta`, together since `meta`'s members depend on the format.
    pub meta: Meta,
    /// `multiple` (default false): whether several credentials may answer this query.
    pub multiple: bool,
    /// `trusted_authorities`, if present.
    pub trusted_authorities: Option<Vec<TrustedAuthorityQuery>>,
    /// `require_cryptographic_holder_binding` (default true).
    pub require_cryptographic_holder_binding: bool,
    /// `claims`, if present.
    pub claims: Option<Vec<ClaimsQuery>>,
    /// `claim_sets`, if present: alternatives of claim ids, most preferred first.
    pub claim_sets: Option<Vec<Vec<String>>>,
}

/// A credential query's `format` with its format-specific `meta`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Meta {
    /// `dc+sd-jwt` with `meta.vct_values` (Appendix B.3.5).
    SdJwtVc {
        /// Accepted `vct` values.
        vct_values: Vec<String>,
    },
    /// `mso_mdoc` with `meta.doctype_value` (Appendix B.2.3).
    MsoMdoc {
        /// The requested document type.
        doctype_value: String,
    },
    /// Any other format, with its `meta` object as given.
    Other {
        /// The format identifier.
        format: String,
        /// The `meta` object.
        meta: Map<String, Value>,
    },
}

impl Meta {
    /// The format identifier.
    pub fn format(&self) -> &str {
        match self {
            Meta::SdJwtVc { .. } => FORMAT_SD_JWT_VC,
            Meta::MsoMdoc { .. } => FORMAT_MSO_MDOC,
            Meta::Other { format, .. } => format,
        }
    }
}

/// A Trusted Authorities Query (§6.1.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedAuthorityQuery {
    /// `type`: `aki`, `etsi_tl`, `openid_federation` or another identifier.
    pub kind: String,
    /// `values`.
    pub values: Vec<String>,
}

/// A Claims Query (§6.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimsQuery {
    /// `id`, required when the credential query has `claim_sets`.
    pub id: Option<String>,
    /// `path`.
    pub path: ClaimsPathPointer,
    /// `values`: the claim is requested only with one of these values.
    pub values: Option<Vec<ClaimValue>>,
    /// `intent_to_retain` (mdoc only, Appendix B.2.4).
    pub intent_to_retain: Option<bool>,
}

/// A value a claims query accepts: a string, an integer or a boolean (§6.3). Matching is
/// by type and value, so `1` never matches `"1"` or `1.0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimValue {
    /// A string.
    String(String),
    /// An integer.
    Integer(i128),
    /// A boolean.
    Bool(bool),
}

impl ClaimValue {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::String(s) => Some(ClaimValue::String(s.clone())),
            Value::Bool(b) => Some(ClaimValue::Bool(*b)),
            Value::Number(n) => n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from))
                .map(ClaimValue::Integer),
            _ => None,
        }
    }

    fn to_value(&self) -> Value {
        match self {
            ClaimValue::String(s) => Value::String(s.clone()),
            ClaimValue::Bool(b) => Value::Bool(*b),
            ClaimValue::Integer(i) => i64::try_from(*i)
                .map(Value::from)
                .or_else(|_| u64::try_from(*i).map(Value::from))
                .unwrap_or(Value::Null),
        }
    }

    /// Whether a claim's JSON value equals this value, type included.
    pub fn matches(&self, v: &Value) -> bool {
        match (self, v) {
            (ClaimValue::String(a), Value::String(b)) => a == b,
            (ClaimValue::Bool(a), Value::Bool(b)) => a == b,
            (ClaimValue::Integer(a), Value::Number(n)) => {
                n.as_i64().map(i128::from) == Some(*a) || n.as_u64().map(i128::from) == Some(*a)
            }
            _ => false,
        }
    }
}

/// A Credential Set Query (§6.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialSetQuery {
    /// `options`: each a set of credential query ids that together satisfy the use case.
    pub options: Vec<Vec<String>>,
    /// `required` (default true).
    pub required: bool,
}

impl ClaimsQuery {
    /// A claims query for `path` with no id and no value restriction.
    pub fn new(path: ClaimsPathPointer) -> Self {
        ClaimsQuery {
            id: None,
            path,
            values: None,
            intent_to_retain: None,
        }
    }

    /// Whether `v` is acceptable under `values` (always, without `values`).
    pub fn accepts(&self, v: &Value) -> bool {
        self.values
            .as_ref()
            .is_none_or(|values| values.iter().any(|x| x.matches(v)))
    }
}

impl CredentialQuery {
    /// An SD-JWT VC query for the given types, with defaults for everything else.
    pub fn sd_jwt_vc(id: impl Into<String>, vct_values: Vec<String>) -> Self {
        CredentialQuery {
            id: id.into(),
            meta: Meta::SdJwtVc { vct_values },
            multiple: false,
            trusted_authorities: None,
            require_cryptographic_holder_binding: true,
            claims: None,
            claim_sets: None,
        }
    }

    /// The format identifier.
    pub fn format(&self) -> &str {
        self.meta.format()
    }

    /// The claims query with this `id`.
    pub fn claim_by_id(&self, id: &str) -> Option<(usize, &ClaimsQuery)> {
        self.claims
            .iter()
            .flatten()
            .enumerate()
            .find(|(_, c)| c.id.as_deref() == Some(id))
    }

    /// The claim alternatives a credential may satisfy, most preferred first, as indices
    /// into `claims`: the `claim_sets` when present, else one set with every claim, else
    /// (no `claims`) one empty set.
    pub fn claim_alternatives(&self) -> Vec<Vec<usize>> {
        match (&self.claims, &self.claim_sets) {
            (None, _) => vec![Vec::new()],
            (Some(claims), None) => vec![(0..claims.len()).collect()],
            (Some(_), Some(sets)) => sets
                .iter()
                .map(|set| {
                    set.iter()
                        .filter_map(|id| self.claim_by_id(id).map(|(i, _)| i))
                        .collect()
                })
                .collect(),
        }
    }
}

impl DcqlQuery {
    /// A query from parts, checked like a parsed one.
    pub fn new(
        credentials: Vec<CredentialQuery>,
        credential_sets: Option<Vec<CredentialSetQuery>>,
    ) -> Result<Self, DcqlError> {
        let q = DcqlQuery {
            credentials,
            credential_sets,
        };
        // One set of rules: check the JSON form, which is what a peer would see.
        Self::from_value(&q.to_value())
    }

    /// The credential queries, in request order.
    pub fn credentials(&self) -> &[CredentialQuery] {
        &self.credentials
    }

    /// The credential set queries, if any.
    pub fn credential_sets(&self) -> Option<&[CredentialSetQuery]> {
        self.credential_sets.as_deref()
    }

    /// The credential query with this `id`.
    pub fn credential(&self, id: &str) -> Option<&CredentialQuery> {
        self.credentials.iter().find(|c| c.id == id)
    }

    /// Parses JSON text (duplicate member names are refused).
    pub fn from_json(text: &[u8]) -> Result<Self, DcqlError> {
        let v = jose::json::parse_value(text).map_err(|_| DcqlError::NotJson)?;
        Self::from_value(&v)
    }

    /// Parses and validates the JSON form.
    pub fn from_value(v: &Value) -> Result<Self, DcqlError> {
        let root = object(v, "dcql_query")?;
        let creds =
            non_empty_array(root, "credentials", "")?.ok_or_else(|| missing("credentials"))?;
        let mut credentials = Vec::with_capacity(creds.len());
        let mut ids = BTreeSet::new();
        for (i, c) in creds.iter().enumerate() {
            let q = parse_credential(c, &format!("credentials[{i}]"))?;
            if !ids.insert(q.id.clone()) {
                return Err(DcqlError::DuplicateCredentialId(q.id));
            }
            credentials.push(q);
        }
        let credential_sets = match non_empty_array(root, "credential_sets", "")? {
            None => None,
            Some(sets) => {
                let mut out = Vec::with_capacity(sets.len());
                for (i, s) in sets.iter().enumerate() {
                    out.push(parse_set(s, &format!("credential_sets[{i}]"), &ids)?);
                }
                Some(out)
            }
        };
        Ok(DcqlQuery {
            credentials,
            credential_sets,
        })
    }

    /// The JSON form.
    pub fn to_value(&self) -> Value {
        let mut root = Map::new();
        root.insert(
            "credentials".into(),
            Value::Array(self.credentials.iter().map(credential_to_value).collect()),
        );
        if let Some(sets) = &self.credential_sets {
            root.insert(
                "credential_sets".into(),
                Value::Array(
                    sets.iter()
                        .map(|s| {
                            let mut m = Map::new();
                            m.insert(
                                "options".into(),
                                Value::Array(s.options.iter().map(|o| strings(o)).collect()),
                            );
                            if !s.required {
                                m.insert("required".into(), Value::Bool(false));
                            }
                            Value::Object(m)
                        })
                        .collect(),
                ),
            );
        }
        Value::Object(root)
    }
}

impl serde::Serialize for DcqlQuery {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for DcqlQuery {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        DcqlQuery::from_value(&v).map_err(serde::de::Error::custom)
    }
}

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().cloned().map(Value::String).collect())
}

fn credential_to_value(c: &CredentialQuery) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), Value::String(c.id.clone()));
    m.insert("format".into(), Value::String(c.format().to_owned()));
    let meta = match &c.meta {
        Meta::SdJwtVc { vct_values } => {
            let mut meta = Map::new();
            meta.insert("vct_values".into(), strings(vct_values));
            meta
        }
        Meta::MsoMdoc { doctype_value } => {
            let mut meta = Map::new();
            meta.insert("doctype_value".into(), Value::String(doctype_value.clone()));
            meta
        }
        Meta::Other { meta, .. } => meta.clone(),
    };
    m.insert("meta".into(), Value::Object(meta));
    if c.multiple {
        m.insert("multiple".into(), Value::Bool(true));
    }
    if let Some(tas) = &c.trusted_authorities {
        m.insert(
            "trusted_authorities".into(),
            Value::Array(
                tas.iter()
                    .map(|t| {
                        let mut o = Map::new();
                        o.insert("type".into(), Value::String(t.kind.clone()));
                        o.insert("values".into(), strings(&t.values));
                        Value::Object(o)
                    })
                    .collect(),
            ),
        );
    }
    if !c.require_cryptographic_holder_binding {
        m.insert(
            "require_cryptographic_holder_binding".into(),
            Value::Bool(false),
        );
    }
    if let Some(claims) = &c.claims {
        m.insert(
            "claims".into(),
            Value::Array(
                claims
                    .iter()
                    .map(|q| {
                        let mut o = Map::new();
                        if let Some(id) = &q.id {
                            o.insert("id".into(), Value::String(id.clone()));
                        }
                        o.insert("path".into(), q.path.to_value());
                        if let Some(values) = &q.values {
                            o.insert(
                                "values".into(),
                                Value::Array(values.iter().map(ClaimValue::to_value).collect()),
                            );
                        }
                        if let Some(r) = q.intent_to_retain {
                            o.insert("intent_to_retain".into(), Value::Bool(r));
                        }
                        Value::Object(o)
                    })
                    .collect(),
            ),
        );
    }
    if let Some(sets) = &c.claim_sets {
        m.insert(
            "claim_sets".into(),
            Value::Array(sets.iter().map(|s| strings(s)).collect()),
        );
    }
    Value::Object(m)
}

fn missing(at: &str) -> DcqlError {
    DcqlError::Missing { at: at.to_owned() }
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

fn object<'a>(v: &'a Value, at: &str) -> Result<&'a Map<String, Value>, DcqlError> {
    v.as_object().ok_or_else(|| DcqlError::WrongType {
        at: at.to_owned(),
        expected: "an object",
    })
}

/// `m[key]` as a non-empty array, `None` when absent.
fn non_empty_array<'a>(
    m: &'a Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Option<&'a Vec<Value>>, DcqlError> {
    let at = join(at, key);
    match m.get(key) {
        None => Ok(None),
        Some(Value::Array(a)) if a.is_empty() => Err(DcqlError::Empty { at }),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(_) => Err(DcqlError::WrongType {
            at,
            expected: "an array",
        }),
    }
}

fn optional_bool(m: &Map<String, Value>, key: &str, at: &str) -> Result<Option<bool>, DcqlError> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(DcqlError::WrongType {
            at: join(at, key),
            expected: "a boolean",
        }),
    }
}

fn string<'a>(v: &'a Value, at: &str) -> Result<&'a str, DcqlError> {
    v.as_str().ok_or_else(|| DcqlError::WrongType {
        at: at.to_owned(),
        expected: "a string",
    })
}

fn required_string<'a>(
    m: &'a Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<&'a str, DcqlError> {
    let at = join(at, key);
    string(m.get(key).ok_or_else(|| missing(&at))?, &at)
}

fn string_array(items: &[Value], at: &str) -> Result<Vec<String>, DcqlError> {
    items
        .iter()
        .enumerate()
        .map(|(i, v)| string(v, &format!("{at}[{i}]")).map(str::to_owned))
        .collect()
}

/// §6.1/§6.3: a non-empty string of alphanumerics, `_` and `-`.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn checked_id(id: &str, at: &str) -> Result<String, DcqlError> {
    if valid_id(id) {
        Ok(id.to_owned())
    } else {
        Err(DcqlError::InvalidId {
            at: at.to_owned(),
            id: id.to_owned(),
        })
    }
}

fn parse_credential(v: &Value, at: &str) -> Result<CredentialQuery, DcqlError> {
    let m = object(v, at)?;
    let id = checked_id(required_string(m, "id", at)?, &join(at, "id"))?;
    let format = required_string(m, "format", at)?;
    if format.is_empty() {
        return Err(DcqlError::Empty {
            at: join(at, "format"),
        });
    }
    let meta_at = join(at, "meta");
    let meta_map = object(m.get("meta").ok_or_else(|| missing(&meta_at))?, &meta_at)?;
    let meta = match format {
        FORMAT_SD_JWT_VC => {
            let values = non_empty_array(meta_map, "vct_values", &meta_at)?
                .ok_or_else(|| DcqlError::MissingVctValues { at: at.to_owned() })?;
            Meta::SdJwtVc {
                vct_values: string_array(values, &join(&meta_at, "vct_values"))?,
            }
        }
        FORMAT_MSO_MDOC => {
            let doctype = meta_map
                .get("doctype_value")
                .ok_or_else(|| DcqlError::MissingDoctype { at: at.to_owned() })?;
            Meta::MsoMdoc {
                doctype_value: string(doctype, &join(&meta_at, "doctype_value"))?.to_owned(),
            }
        }
        other => Meta::Other {
            format: other.to_owned(),
            meta: meta_map.clone(),
        },
    };
    let multiple = optional_bool(m, "multiple", at)?.unwrap_or(false);
    let require_cryptographic_holder_binding =
        optional_bool(m, "require_cryptographic_holder_binding", at)?.unwrap_or(true);

    let trusted_authorities = match non_empty_array(m, "trusted_authorities", at)? {
        None => None,
        Some(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, t) in items.iter().enumerate() {
                let tat = format!("{at}.trusted_authorities[{i}]");
                let to = object(t, &tat)?;
                let kind = required_string(to, "type", &tat)?.to_owned();
                let values = non_empty_array(to, "values", &tat)?
                    .ok_or_else(|| missing(&join(&tat, "values")))?;
                out.push(TrustedAuthorityQuery {
                    kind,
                    values: string_array(values, &join(&tat, "values"))?,
                });
            }
            Some(out)
        }
    };

    let claim_sets_raw = non_empty_array(m, "claim_sets", at)?;
    let mdoc = matches!(meta, Meta::MsoMdoc { .. });
    let claims = match non_empty_array(m, "claims", at)? {
        None => None,
        Some(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut claim_ids = BTreeSet::new();
            let mut paths = BTreeSet::new();
            for (i, c) in items.iter().enumerate() {
                let cat = format!("{at}.claims[{i}]");
                let q = parse_claim(c, &cat, mdoc)?;
                if let Some(cid) = &q.id
                    && !claim_ids.insert(cid.clone())
                {
                    return Err(DcqlError::DuplicateClaimId {
                        at: at.to_owned(),
                        id: cid.clone(),
                    });
                }
                if claim_sets_raw.is_some() && q.id.is_none() {
                    return Err(DcqlError::ClaimIdRequired { at: cat });
                }
                if !paths.insert(q.path.clone()) {
                    return Err(DcqlError::DuplicateClaimPath {
                        at: at.to_owned(),
                        path: q.path.to_string(),
                    });
                }
                out.push(q);
            }
            Some(out)
        }
    };
    let claim_sets = match claim_sets_raw {
        None => None,
        Some(sets) => {
            let Some(claims) = &claims else {
                return Err(DcqlError::ClaimSetsWithoutClaims { at: at.to_owned() });
            };
            let mut out = Vec::with_capacity(sets.len());
            for (i, s) in sets.iter().enumerate() {
                let sat = format!("{at}.claim_sets[{i}]");
                let Value::Array(ids) = s else {
                    return Err(DcqlError::WrongType {
                        at: sat,
                        expected: "an array of claim ids",
                    });
                };
                if ids.is_empty() {
                    return Err(DcqlError::Empty { at: sat });
                }
                let ids = string_array(ids, &sat)?;
                for id in &ids {
                    if !claims.iter().any(|c| c.id.as_deref() == Some(id)) {
                        return Err(DcqlError::UnknownClaimId {
                            at: sat.clone(),
                            id: id.clone(),
                        });
                    }
                }
                out.push(ids);
            }
            Some(out)
        }
    };

    Ok(CredentialQuery {
        id,
        meta,
        multiple,
        trusted_authorities,
        require_cryptographic_holder_binding,
        claims,
        claim_sets,
    })
}

fn parse_claim(v: &Value, at: &str, mdoc: bool) -> Result<ClaimsQuery, DcqlError> {
    let m = object(v, at)?;
    let id = match m.get("id") {
        None => None,
        Some(v) => Some(checked_id(string(v, &join(at, "id"))?, &join(at, "id"))?),
    };
    let path_at = join(at, "path");
    let path = ClaimsPathPointer::from_value(m.get("path").ok_or_else(|| missing(&path_at))?)
        .map_err(|source| DcqlError::InvalidPath {
            at: path_at.clone(),
            source,
        })?;
    if mdoc
        && !(path.elements().len() == 2
            && path
                .elements()
                .iter()
                .all(|e| matches!(e, PathElement::Key(_))))
    {
        return Err(DcqlError::InvalidMdocPath { at: path_at });
    }
    let values = match non_empty_array(m, "values", at)? {
        None => None,
        Some(items) => Some(
            items
                .iter()
                .map(|v| {
                    ClaimValue::from_value(v).ok_or_else(|| DcqlError::InvalidValue {
                        at: join(at, "values"),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let intent_to_retain = if mdoc {
        optional_bool(m, "intent_to_retain", at)?
    } else {
        None
    };
    Ok(ClaimsQuery {
        id,
        path,
        values,
        intent_to_retain,
    })
}

fn parse_set(v: &Value, at: &str, ids: &BTreeSet<String>) -> Result<CredentialSetQuery, DcqlError> {
    let m = object(v, at)?;
    let options_raw =
        non_empty_array(m, "options", at)?.ok_or_else(|| missing(&join(at, "options")))?;
    let mut options = Vec::with_capacity(options_raw.len());
    for (i, o) in options_raw.iter().enumerate() {
        let oat = format!("{at}.options[{i}]");
        let Value::Array(items) = o else {
            return Err(DcqlError::WrongType {
                at: oat,
                expected: "an array of credential query ids",
            });
        };
        if items.is_empty() {
            return Err(DcqlError::Empty { at: oat });
        }
        let option = string_array(items, &oat)?;
        for id in &option {
            if !ids.contains(id) {
                return Err(DcqlError::UnknownCredentialId {
                    at: oat.clone(),
                    id: id.clone(),
                });
            }
        }
        options.push(option);
    }
    let required = optional_bool(m, "required", at)?.unwrap_or(true);
    Ok(CredentialSetQuery { options, required })
}
