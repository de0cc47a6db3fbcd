//! Claims path pointers (OpenID4VP 1.0 §7): the `path` of a DCQL claims query, and the
//! concrete claim paths that processing one against a credential yields.
//!
//! A [`ClaimsPathPointer`] may contain `null` ("every element of the selected arrays"); a
//! [`ClaimPath`] never does: it names exactly one claim, by object keys and array indices.
//! Processing a pointer ([`ClaimsPathPointer::select`]) returns every concrete claim it
//! reaches, so a wallet can tell which selectively disclosable claims a query touches and
//! a verifier can tell whether a disclosed claim is there.

use std::fmt;

use serde_json::Value;

/// One component of a claims path pointer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathElement {
    /// A string: the member of that name in the selected object(s).
    Key(String),
    /// A non-negative integer: the element at that index of the selected array(s).
    Index(usize),
    /// `null`: every element of the selected array(s).
    AllElements,
}

/// A claims path pointer: a non-empty array of strings, non-negative integers and nulls.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClaimsPathPointer(Vec<PathElement>);

/// Why a JSON value is not a claims path pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PointerSyntaxError {
    /// The pointer is not an array.
    #[error("a claims path pointer must be an array")]
    NotAnArray,
    /// The array is empty (§7: MUST be non-empty).
    #[error("a claims path pointer must not be empty")]
    Empty,
    /// A component is neither a string, a non-negative integer nor null.
    #[error("component {0} of a claims path pointer is not a string, non-negative integer or null")]
    BadComponent(usize),
}

/// Why processing a claims path pointer against a credential failed (§7.1.1: "abort
/// processing and return an error").
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// A string component met a selected element that is not an object.
    #[error("`{at}` is not an object")]
    NotAnObject {
        /// The concrete path of the offending element.
        at: ClaimPath,
    },
    /// An integer or null component met a selected element that is not an array.
    #[error("`{at}` is not an array")]
    NotAnArray {
        /// The concrete path of the offending element.
        at: ClaimPath,
    },
    /// Nothing is left selected: the claim does not exist in the credential.
    #[error("no claim matches the path")]
    NothingSelected,
}

impl ClaimsPathPointer {
    /// A pointer from its components; `None` if there are none.
    pub fn new(elements: Vec<PathElement>) -> Option<Self> {
        if elements.is_empty() {
            None
        } else {
            Some(ClaimsPathPointer(elements))
        }
    }

    /// A pointer of object keys only (e.g. `["address", "locality"]`); `None` if empty.
    pub fn keys<I, S>(keys: I) -> Option<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::new(
            keys.into_iter()
                .map(|k| PathElement::Key(k.into()))
                .collect(),
        )
    }

    /// Parses the JSON form.
    pub fn from_value(v: &Value) -> Result<Self, PointerSyntaxError> {
        let Value::Array(items) = v else {
            return Err(PointerSyntaxError::NotAnArray);
        };
        if items.is_empty() {
            return Err(PointerSyntaxError::Empty);
        }
        let mut elements = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            elements.push(match item {
                Value::String(s) => PathElement::Key(s.clone()),
                Value::Null => PathElement::AllElements,
                Value::Number(n) => match n.as_u64().and_then(|n| usize::try_from(n).ok()) {
                    Some(n) => PathElement::Index(n),
                    None => return Err(PointerSyntaxError::BadComponent(i)),
                },
                _ => return Err(PointerSyntaxError::BadComponent(i)),
            });
        }
        Ok(ClaimsPathPointer(elements))
    }

    /// The JSON form.
    pub fn to_value(&self) -> Value {
        Value::Array(
            self.0
                .iter()
                .map(|e| match e {
                    PathElement::Key(k) => Value::String(k.clone()),
                    PathElement::Index(i) => Value::from(*i),
                    PathElement::AllElements => Value::Null,
                })
                .collect(),
        )
    }

    /// The components.
    pub fn elements(&self) -> &[PathElement] {
        &self.0
    }

    /// The concrete path this pointer names when it has no `null` component.
    pub fn as_claim_path(&self) -> Option<ClaimPath> {
        self.0
            .iter()
            .map(|e| match e {
                PathElement::Key(k) => Some(ClaimStep::Key(k.clone())),
                PathElement::Index(i) => Some(ClaimStep::Index(*i)),
                PathElement::AllElements => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(ClaimPath)
    }

    /// Whether `path` is one of the claims this pointer can select (same length, keys and
    /// indices equal, `null` matching any index).
    pub fn matches(&self, path: &ClaimPath) -> bool {
        self.0.len() == path.0.len()
            && self.0.iter().zip(&path.0).all(|(p, c)| match (p, c) {
                (PathElement::Key(a), ClaimStep::Key(b)) => a == b,
                (PathElement::Index(a), ClaimStep::Index(b)) => a == b,
                (PathElement::AllElements, ClaimStep::Index(_)) => true,
                _ => false,
            })
    }

    /// Processes the pointer against a JSON credential (§7.1.1) and returns the selected
    /// claims with their concrete paths, in document order.
    pub fn select<'a>(&self, root: &'a Value) -> Result<Vec<Selected<'a>>, PathError> {
        let mut current = vec![Selected {
            path: ClaimPath::root(),
            value: root,
        }];
        for element in &self.0 {
            let mut next = Vec::new();
            for sel in current {
                match element {
                    PathElement::Key(key) => {
                        let Value::Object(map) = sel.value else {
                            return Err(PathError::NotAnObject { at: sel.path });
                        };
                        if let Some(v) = map.get(key) {
                            next.push(Selected {
                                path: sel.path.child_key(key),
                                value: v,
                            });
                        }
                    }
                    PathElement::Index(i) => {
                        let Value::Array(items) = sel.value else {
                            return Err(PathError::NotAnArray { at: sel.path });
                        };
                        if let Some(v) = items.get(*i) {
                            next.push(Selected {
                                path: sel.path.child_index(*i),
                                value: v,
                            });
                        }
                    }
                    PathElement::AllElements => {
                        let Value::Array(items) = sel.value else {
                            return Err(PathError::NotAnArray { at: sel.path });
                        };
                        for (i, v) in items.iter().enumerate() {
                            next.push(Selected {
                                path: sel.path.child_index(i),
                                value: v,
                            });
                        }
                    }
                }
            }
            current = next;
        }
        if current.is_empty() {
            return Err(PathError::NothingSelected);
        }
        Ok(current)
    }
}

impl fmt::Display for ClaimsPathPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_value().to_string())
    }
}

/// One step of a concrete claim path.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClaimStep {
    /// An object member.
    Key(String),
    /// An array element.
    Index(usize),
}

/// The concrete path of one claim in a credential: object keys and array indices from the
/// top-level object. The empty path is the credential itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClaimPath(Vec<ClaimStep>);

impl ClaimPath {
    /// The credential itself.
    pub fn root() -> Self {
        ClaimPath(Vec::new())
    }

    /// A path from its steps.
    pub fn new(steps: Vec<ClaimStep>) -> Self {
        ClaimPath(steps)
    }

    /// A path of object keys only, e.g. `ClaimPath::keys(["address", "locality"])`.
    pub fn keys<I, S>(keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ClaimPath(keys.into_iter().map(|k| ClaimStep::Key(k.into())).collect())
    }

    /// The steps.
    pub fn steps(&self) -> &[ClaimStep] {
        &self.0
    }

    /// Whether this is the credential itself.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// This path followed by object member `key`.
    #[must_use]
    pub fn child_key(&self, key: &str) -> Self {
        let mut steps = self.0.clone();
        steps.push(ClaimStep::Key(key.to_owned()));
        ClaimPath(steps)
    }

    /// This path followed by array index `i`.
    #[must_use]
    pub fn child_index(&self, i: usize) -> Self {
        let mut steps = self.0.clone();
        steps.push(ClaimStep::Index(i));
        ClaimPath(steps)
    }

    /// Whether `self` is `other` or one of its ancestors.
    pub fn is_prefix_of(&self, other: &ClaimPath) -> bool {
        other.0.len() >= self.0.len() && other.0.iter().zip(&self.0).all(|(a, b)| a == b)
    }

    /// The value at this path in `root`, if there is one.
    pub fn lookup<'a>(&self, root: &'a Value) -> Option<&'a Value> {
        let mut v = root;
        for step in &self.0 {
            v = match (step, v) {
                (ClaimStep::Key(k), Value::Object(m)) => m.get(k)?,
                (ClaimStep::Index(i), Value::Array(a)) => a.get(*i)?,
                _ => return None,
            };
        }
        Some(v)
    }

    /// The JSON form: an array of strings and integers (a null-free claims path pointer).
    pub fn to_value(&self) -> Value {
        Value::Array(
            self.0
                .iter()
                .map(|s| match s {
                    ClaimStep::Key(k) => Value::String(k.clone()),
                    ClaimStep::Index(i) => Value::from(*i),
                })
                .collect(),
        )
    }

    /// Parses the JSON form (strings and non-negative integers; no nulls). The empty
    /// array is the root.
    pub fn from_value(v: &Value) -> Option<Self> {
        let Value::Array(items) = v else {
            return None;
        };
        items
            .iter()
            .map(|item| match item {
                Value::String(s) => Some(ClaimStep::Key(s.clone())),
                Value::Number(n) => n
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .map(ClaimStep::Index),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(ClaimPath)
    }
}

impl fmt::Display for ClaimPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_value().to_string())
    }
}

/// A claim selected by a pointer: where it is and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Selected<'a> {
    /// Its concrete path.
    pub path: ClaimPath,
    /// Its value.
    pub value: &'a Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn example() -> Value {
        // OpenID4VP 1.0 §7.3 example credential.
        json!({
            "name": "Arthur Dent",
            "address": {
                "street_address": "42 Market Street",
                "locality": "Milliways",
                "postal_code": "12345"
            },
            "degrees": [
                {"type": "Bachelor of Science", "university": "University of Betelgeuse"},
                {"type": "Master of Science", "university": "University of Betelgeuse"}
            ],
            "nationalities": ["British", "Betelgeusian"]
        })
    }

    fn ptr(v: Value) -> ClaimsPathPointer {
        ClaimsPathPointer::from_value(&v).unwrap()
    }

    #[test]
    fn oid4vp_s7_3_examples_select_the_documented_claims() {
        let c = example();
        let s = ptr(json!(["name"])).select(&c).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].value, &json!("Arthur Dent"));

        let s = ptr(json!(["address"])).select(&c).unwrap();
        assert_eq!(s[0].value["locality"], json!("Milliways"));

        let s = ptr(json!(["address", "street_address"]))
            .select(&c)
            .unwrap();
        assert_eq!(s[0].value, &json!("42 Market Street"));

        let s = ptr(json!(["degrees", null, "type"])).select(&c).unwrap();
        let types: Vec<&Value> = s.iter().map(|s| s.value).collect();
        assert_eq!(
            types,
            [&json!("Bachelor of Science"), &json!("Master of Science")]
        );
        assert_eq!(
            s[1].path,
            ClaimPath::from_value(&json!(["degrees", 1, "type"])).unwrap()
        );

        let s = ptr(json!(["nationalities", 1])).select(&c).unwrap();
        assert_eq!(s[0].value, &json!("Betelgeusian"));
    }

    #[test]
    fn rejects_a_string_component_on_a_non_object() {
        let c = example();
        assert_eq!(
            ptr(json!(["name", "first"])).select(&c),
            Err(PathError::NotAnObject {
                at: ClaimPath::keys(["name"])
            })
        );
    }

    #[test]
    fn rejects_an_index_or_null_on_a_non_array() {
        let c = example();
        assert!(matches!(
            ptr(json!(["address", 0])).select(&c),
            Err(PathError::NotAnArray { .. })
        ));
        assert!(matches!(
            ptr(json!(["name", null])).select(&c),
            Err(PathError::NotAnArray { .. })
        ));
    }

    #[test]
    fn rejects_a_missing_claim_as_nothing_selected() {
        let c = example();
        assert_eq!(
            ptr(json!(["given_name"])).select(&c),
            Err(PathError::NothingSelected)
        );
        assert_eq!(
            ptr(json!(["nationalities", 7])).select(&c),
            Err(PathError::NothingSelected)
        );
    }

    #[test]
    fn rejects_malformed_pointers() {
        assert_eq!(
            ClaimsPathPointer::from_value(&json!([])),
            Err(PointerSyntaxError::Empty)
        );
        assert_eq!(
            ClaimsPathPointer::from_value(&json!("name")),
            Err(PointerSyntaxError::NotAnArray)
        );
        assert_eq!(
            ClaimsPathPointer::from_value(&json!(["a", -1])),
            Err(PointerSyntaxError::BadComponent(1))
        );
        assert_eq!(
            ClaimsPathPointer::from_value(&json!(["a", 1.5])),
            Err(PointerSyntaxError::BadComponent(1))
        );
        assert_eq!(
            ClaimsPathPointer::from_value(&json!([true])),
            Err(PointerSyntaxError::BadComponent(0))
        );
    }

    #[test]
    fn pointer_matches_concrete_paths_with_wildcards() {
        let p = ptr(json!(["degrees", null, "type"]));
        assert!(p.matches(&ClaimPath::from_value(&json!(["degrees", 3, "type"])).unwrap()));
        assert!(!p.matches(&ClaimPath::from_value(&json!(["degrees", "x", "type"])).unwrap()));
        assert!(!p.matches(&ClaimPath::keys(["degrees"])));
    }

    #[test]
    fn prefix_and_lookup() {
        let c = example();
        let a = ClaimPath::keys(["address"]);
        let b = ClaimPath::keys(["address", "locality"]);
        assert!(a.is_prefix_of(&b) && a.is_prefix_of(&a) && !b.is_prefix_of(&a));
        assert_eq!(b.lookup(&c), Some(&json!("Milliways")));
        assert_eq!(ClaimPath::keys(["nope"]).lookup(&c), None);
        assert!(ClaimPath::root().is_prefix_of(&b));
    }
}
