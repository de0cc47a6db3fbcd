//! Claim paths: where a claim sits in the JSON tree. Used by issuance frames (which claims
//! are selectively disclosable), by presentation (which claims to disclose) and in verified
//! output (which claims were disclosed).
//!
//! A path is a non-empty list of elements, as in the OpenID4VP claims path pointer: a
//! string names an object member, a non-negative integer indexes an array, `null` stands for
//! every element of an array. Two text forms are accepted:
//! - JSON: `["address","locality"]`, `["nationalities",null]`, `["degrees",0,"type"]`;
//! - dotted, for command lines: `address.locality`, `nationalities[*]`, `degrees[0].type`.
//!   A dotted segment is a member name followed by any number of `[N]` or `[*]`; names
//!   containing `.`, `[` or `]` (or empty names) need the JSON form. Digits are names in
//!   the dotted form (`age_equal_or_over.18` is the member `"18"`).

use serde_json::Value;
use std::fmt;

/// One step of a [`ClaimPath`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathElement {
    /// An object member.
    Name(String),
    /// An array element.
    Index(usize),
    /// Every element of an array (`null` in JSON, `[*]` dotted).
    All,
}

impl PathElement {
    /// Whether this element (of a selection or frame) covers `other` (of a concrete
    /// location): equal, or `All` against any index.
    pub fn covers(&self, other: &PathElement) -> bool {
        match (self, other) {
            (PathElement::All, PathElement::Index(_) | PathElement::All) => true,
            (a, b) => a == b,
        }
    }
}

/// Why a claim path was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path has no element.
    #[error("claim path is empty")]
    Empty,
    /// The JSON form is not an array.
    #[error("claim path must be a JSON array")]
    NotArray,
    /// A JSON element is neither a string, a non-negative integer nor null.
    #[error("claim path element {0} must be a string, a non-negative integer or null")]
    InvalidElement(usize),
    /// The dotted form has an empty member name.
    #[error("empty member name in dotted claim path")]
    EmptySegment,
    /// The dotted form has a malformed `[...]`.
    #[error("malformed `[...]` in dotted claim path")]
    BadIndex,
}

/// A path from the top of the claims to one claim (or, with [`PathElement::All`], to every
/// element of an array).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClaimPath(Vec<PathElement>);

impl ClaimPath {
    /// A path from its elements; empty paths are refused.
    pub fn new(elements: Vec<PathElement>) -> Result<Self, PathError> {
        if elements.is_empty() {
            Err(PathError::Empty)
        } else {
            Ok(ClaimPath(elements))
        }
    }

    /// The path of a top-level claim.
    pub fn claim(name: impl Into<String>) -> Self {
        ClaimPath(vec![PathElement::Name(name.into())])
    }

    /// This path extended by one element.
    #[must_use]
    pub fn join(mut self, element: PathElement) -> Self {
        self.0.push(element);
        self
    }

    /// The elements.
    pub fn elements(&self) -> &[PathElement] {
        &self.0
    }

    /// The top-level claim name this path starts with, if it starts with a name.
    pub fn first_name(&self) -> Option<&str> {
        match self.0.first() {
            Some(PathElement::Name(n)) => Some(n),
            _ => None,
        }
    }

    /// Parses the JSON array form.
    pub fn from_json(value: &Value) -> Result<Self, PathError> {
        let items = value.as_array().ok_or(PathError::NotArray)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, v) in items.iter().enumerate() {
            out.push(match v {
                Value::String(s) => PathElement::Name(s.clone()),
                Value::Null => PathElement::All,
                Value::Number(n) => PathElement::Index(
                    n.as_u64()
                        .and_then(|n| usize::try_from(n).ok())
                        .ok_or(PathError::InvalidElement(i))?,
                ),
                _ => return Err(PathError::InvalidElement(i)),
            });
        }
        Self::new(out)
    }

    /// Parses either text form: JSON when the text starts with `[`, dotted otherwise.
    pub fn parse(text: &str) -> Result<Self, PathError> {
        if text.trim_start().starts_with('[') {
            let v: Value = serde_json::from_str(text).map_err(|_| PathError::NotArray)?;
            return Self::from_json(&v);
        }
        let mut out = Vec::new();
        for segment in text.split('.') {
            let (name, mut rest) = match segment.find('[') {
                Some(i) => (
                    segment.get(..i).unwrap_or_default(),
                    segment.get(i..).unwrap_or_default(),
                ),
                None => (segment, ""),
            };
            if name.is_empty() || name.contains(']') {
                return Err(PathError::EmptySegment);
            }
            out.push(PathElement::Name(name.to_owned()));
            while !rest.is_empty() {
                let inner = rest.strip_prefix('[').ok_or(PathError::BadIndex)?;
                let close = inner.find(']').ok_or(PathError::BadIndex)?;
                let index = inner.get(..close).unwrap_or_default();
                out.push(if index == "*" {
                    PathElement::All
                } else if !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) {
                    PathElement::Index(index.parse().map_err(|_| PathError::BadIndex)?)
                } else {
                    return Err(PathError::BadIndex);
                });
                rest = inner.get(close + 1..).unwrap_or_default();
            }
        }
        Self::new(out)
    }

    /// The JSON array form.
    pub fn to_json(&self) -> Value {
        Value::Array(
            self.0
                .iter()
                .map(|e| match e {
                    PathElement::Name(n) => Value::String(n.clone()),
                    PathElement::Index(i) => Value::from(*i),
                    PathElement::All => Value::Null,
                })
                .collect(),
        )
    }

    /// Whether `self` (possibly with `All`) covers the first `self.len()` elements of
    /// `location`, i.e. `self` selects `location` or one of its ancestors.
    pub(crate) fn covers_prefix_of(&self, location: &[PathElement]) -> bool {
        self.0.len() <= location.len() && self.0.iter().zip(location).all(|(s, l)| s.covers(l))
    }

    /// Whether the first `location.len()` elements of `self` are covered by `location`
    /// (a concrete location that is an ancestor of, or equal to, what `self` selects).
    pub(crate) fn is_covered_prefix(&self, location: &[PathElement]) -> bool {
        location.len() <= self.0.len() && self.0.iter().zip(location).all(|(s, l)| s.covers(l))
    }
}

fn dotted_name(n: &str) -> bool {
    !n.is_empty() && !n.contains(['.', '[', ']'])
}

impl fmt::Display for ClaimPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dotted = matches!(self.0.first(), Some(PathElement::Name(_)))
            && self.0.iter().all(|e| match e {
                PathElement::Name(n) => dotted_name(n),
                _ => true,
            });
        if !dotted {
            return write!(f, "{}", self.to_json());
        }
        for (i, e) in self.0.iter().enumerate() {
            match e {
                PathElement::Name(n) if i == 0 => f.write_str(n)?,
                PathElement::Name(n) => write!(f, ".{n}")?,
                PathElement::Index(n) => write!(f, "[{n}]")?,
                PathElement::All => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for ClaimPath {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The path to the node being walked, as a chain of stack frames, so that walking
/// allocates nothing unless a path has to be reported.
pub(crate) struct Trail<'a> {
    pub(crate) parent: Option<&'a Trail<'a>>,
    pub(crate) element: TrailElement<'a>,
}

#[derive(Clone, Copy)]
pub(crate) enum TrailElement<'a> {
    Root,
    Name(&'a str),
    Index(usize),
}

impl<'a> Trail<'a> {
    pub(crate) const ROOT: Trail<'static> = Trail {
        parent: None,
        element: TrailElement::Root,
    };

    pub(crate) fn child(&'a self, element: TrailElement<'a>) -> Trail<'a> {
        Trail {
            parent: Some(self),
            element,
        }
    }

    pub(crate) fn to_path(&self) -> ClaimPath {
        let mut rev = Vec::new();
        let mut node = Some(self);
        while let Some(n) = node {
            match n.element {
                TrailElement::Root => {}
                TrailElement::Name(s) => rev.push(PathElement::Name(s.to_owned())),
                TrailElement::Index(i) => rev.push(PathElement::Index(i)),
            }
            node = n.parent;
        }
        rev.reverse();
        ClaimPath(rev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PathElement::*;

    #[test]
    fn parses_dotted_and_json_forms_alike() {
        let a = ClaimPath::parse("degrees[0].type").unwrap();
        let b = ClaimPath::parse(r#"["degrees",0,"type"]"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            ClaimPath::parse("nationalities[*]").unwrap().elements(),
            &[Name("nationalities".into()), All]
        );
        assert_eq!(
            ClaimPath::parse("age_equal_or_over.18").unwrap().elements(),
            &[Name("age_equal_or_over".into()), Name("18".into())]
        );
        assert_eq!(
            ClaimPath::parse("m[1][*]").unwrap().elements(),
            &[Name("m".into()), Index(1), All]
        );
    }

    #[test]
    fn display_round_trips() {
        for t in ["address.locality", "a[3].b[*]", r#"["a.b",null]"#, r#"[0]"#] {
            let p = ClaimPath::parse(t).unwrap();
            assert_eq!(ClaimPath::parse(&p.to_string()).unwrap(), p, "{t}");
        }
        assert_eq!(ClaimPath::parse("x.y[2]").unwrap().to_string(), "x.y[2]");
    }

    #[test]
    fn rejects_malformed_paths() {
        assert_eq!(ClaimPath::parse("a..b"), Err(PathError::EmptySegment));
        assert_eq!(ClaimPath::parse(""), Err(PathError::EmptySegment));
        assert_eq!(ClaimPath::parse("a[x]"), Err(PathError::BadIndex));
        assert_eq!(ClaimPath::parse("a[1"), Err(PathError::BadIndex));
        assert_eq!(ClaimPath::parse("a[-1]"), Err(PathError::BadIndex));
        assert_eq!(ClaimPath::parse("[]"), Err(PathError::Empty));
        assert_eq!(ClaimPath::parse("[1.5]"), Err(PathError::InvalidElement(0)));
        assert_eq!(
            ClaimPath::parse(r#"[true]"#),
            Err(PathError::InvalidElement(0))
        );
    }
}
