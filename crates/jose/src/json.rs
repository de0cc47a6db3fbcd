//! Strict JSON for security-relevant objects: duplicate member names are an error at any
//! depth (RFC 7515 §5.2 allows either rejecting or taking the last; taking the last lets two
//! parsers disagree about what was signed, so we reject).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Why a JSON text was refused.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// Not valid JSON (or nested deeper than the parser's recursion limit of 128).
    #[error("invalid JSON: {0}")]
    Syntax(#[from] serde_json::Error),
    /// The same member name appears twice in one object.
    #[error("duplicate JSON member name `{}`", crate::escape_input(.0))]
    Duplicate(String),
    /// A JSON object was required.
    #[error("expected a JSON object")]
    NotObject,
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

const DUP_PREFIX: &str = "\u{0}duplicate member:";

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Strict, E> {
        Ok(Strict(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Strict, E> {
        Ok(Strict(
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }
    fn visit_str<E>(self, v: &str) -> Result<Strict, E> {
        Ok(Strict(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Strict, E> {
        Ok(Strict(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }
    fn visit_none<E>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Strict(Value::Array(out)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(v) = map.next_value()?;
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("{DUP_PREFIX}{key}")));
            }
            out.insert(key, v);
        }
        Ok(Strict(Value::Object(out)))
    }
}

fn map_err(e: serde_json::Error) -> JsonError {
    let msg = e.to_string();
    if let Some(rest) = msg.strip_prefix(DUP_PREFIX) {
        // serde_json appends " at line L column C"; keep only the name.
        let name = rest.rsplit_once(" at line ").map_or(rest, |(n, _)| n);
        return JsonError::Duplicate(name.to_owned());
    }
    JsonError::Syntax(e)
}

/// Parses any JSON value, refusing duplicate member names.
pub fn parse_value(bytes: &[u8]) -> Result<Value, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let Strict(v) = Strict::deserialize(&mut de).map_err(map_err)?;
    de.end().map_err(JsonError::Syntax)?;
    Ok(v)
}

/// Parses a JSON object, refusing duplicate member names.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, JsonError> {
    match parse_value(bytes)? {
        Value::Object(m) => Ok(m),
        _ => Err(JsonError::NotObject),
    }
}

/// Nesting depth of a value: scalars are 0, `[]`/`{}` are 1, `[[1]]` is 2.
pub fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_duplicate_member_at_top_level() {
        let e = parse_object(br#"{"a":1,"a":2}"#).unwrap_err();
        assert!(
            matches!(e, JsonError::Duplicate(ref n) if n == "a"),
            "{e:?}"
        );
    }

    #[test]
    fn rejects_duplicate_member_nested() {
        let e = parse_object(br#"{"a":{"b":[{"c":1,"c":1}]}}"#).unwrap_err();
        assert!(
            matches!(e, JsonError::Duplicate(ref n) if n == "c"),
            "{e:?}"
        );
    }

    #[test]
    fn rejects_trailing_data_and_non_objects() {
        assert!(matches!(
            parse_object(br#"{"a":1} x"#),
            Err(JsonError::Syntax(_))
        ));
        assert!(matches!(parse_object(b"[1]"), Err(JsonError::NotObject)));
    }

    #[test]
    fn keeps_member_order_and_numbers() {
        let m = parse_object(br#"{"z":1,"a":-2,"f":1.5,"u":18446744073709551615}"#).unwrap();
        assert_eq!(m.keys().collect::<Vec<_>>(), ["z", "a", "f", "u"]);
        assert_eq!(m["u"], Value::from(u64::MAX));
    }

    #[test]
    fn depth_counts_containers() {
        assert_eq!(depth(&parse_value(b"1").unwrap()), 0);
        assert_eq!(depth(&parse_value(b"[[1],{}]").unwrap()), 2);
    }
}
