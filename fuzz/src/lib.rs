//! Input generators shared by the fuzz targets that build structured messages.
//!
//! Random bytes rarely get past a signature check or a JSON parse, so targets that verify
//! signed JWTs or parse JSON objects also build their input from the fuzzer's bytes: each
//! member is, at the fuzzer's choice, absent, the value a valid message would carry, or
//! something else (a string, a number, any JSON value). That keeps most of a message
//! right while one part is wrong, which is where verifiers go deep and where their checks
//! can be compared with what they promise.

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use serde_json::{Map, Value};

/// Deepest JSON value [`json_value`] builds: enough for objects in arrays in objects,
/// small enough that a generated value stays cheap to serialize.
const MAX_DEPTH: usize = 3;

/// Longest string [`text`] builds.
const MAX_TEXT: usize = 48;

/// Strings the parsers give a meaning to, so that a member set to "some string" is often
/// one of them rather than random text no check distinguishes.
const INTERESTING: &[&str] = &[
    "",
    " ",
    "jwt",
    "attestation",
    "DEF",
    "ECDH-ES",
    "A128GCM",
    "A256GCM",
    "numeric",
    "text",
    "credential_accepted",
    "credential_failure",
    "credential_deleted",
    "urn:ietf:params:oauth:grant-type:pre-authorized_code",
    "authorization_code",
    "https://issuer.example",
    "http://127.0.0.1:8080/offer",
    "wallet-1",
    "\u{0}",
    "\"\\",
    "é🦀",
];

/// A short string: one the parsers know, or arbitrary UTF-8.
pub fn text(u: &mut Unstructured<'_>) -> Result<String> {
    if u.ratio(1, 3)? {
        return Ok((*u.choose(INTERESTING)?).to_owned());
    }
    let len = u.int_in_range(0..=MAX_TEXT)?;
    let mut s = String::with_capacity(len);
    for _ in 0..len {
        s.push(u.arbitrary::<char>()?);
    }
    Ok(s)
}

/// Any JSON value, at most [`MAX_DEPTH`] deep.
pub fn json_value(u: &mut Unstructured<'_>) -> Result<Value> {
    json_at(u, 0)
}

fn json_at(u: &mut Unstructured<'_>, depth: usize) -> Result<Value> {
    let leaf_only = depth >= MAX_DEPTH;
    let kinds = if leaf_only { 5 } else { 7 };
    Ok(match u.choose_index(kinds)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::from(u.arbitrary::<i64>()?),
        3 => serde_json::Number::from_f64(u.arbitrary::<f64>()?).map_or(Value::Null, Value::Number),
        4 => Value::String(text(u)?),
        5 => {
            let n = u.int_in_range(0..=3)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(json_at(u, depth + 1)?);
            }
            Value::Array(items)
        }
        _ => {
            let n = u.int_in_range(0..=3)?;
            let mut m = Map::new();
            for _ in 0..n {
                m.insert(text(u)?, json_at(u, depth + 1)?);
            }
            Value::Object(m)
        }
    })
}

/// A member a generated message may carry: absent, `good` (what a valid message has),
/// a string, or any JSON value.
pub fn member(u: &mut Unstructured<'_>, good: Value) -> Result<Option<Value>> {
    Ok(match u.choose_index(6)? {
        0 => None,
        1 => Some(Value::String(text(u)?)),
        2 => Some(json_value(u)?),
        _ => Some(good),
    })
}

/// A NumericDate member around `now`: absent, near it (either side of every window the
/// verifiers apply), far from it, fractional, or not a number.
pub fn date(u: &mut Unstructured<'_>, now: i64) -> Result<Option<Value>> {
    Ok(match u.choose_index(7)? {
        0 => None,
        1 => Some(Value::from(now.saturating_add(u.int_in_range(-700..=700)?))),
        2 => Some(Value::from(u.arbitrary::<i64>()?)),
        3 => serde_json::Number::from_f64(now as f64 + u.arbitrary::<f64>()?).map(Value::Number),
        4 => Some(json_value(u)?),
        _ => Some(Value::from(now)),
    })
}

/// Puts `value` into `m` under `name` when there is one.
pub fn put(m: &mut Map<String, Value>, name: &str, value: Option<Value>) {
    if let Some(v) = value {
        m.insert(name.to_owned(), v);
    }
}

/// Up to two members the verifier does not know, which it must ignore.
pub fn extra_members(u: &mut Unstructured<'_>, m: &mut Map<String, Value>) -> Result<()> {
    for _ in 0..u.int_in_range(0..=2)? {
        let name = text(u)?;
        let value = json_value(u)?;
        m.entry(name).or_insert(value);
    }
    Ok(())
}

/// Whether `v` holds a non-integer number anywhere. serde_json's default float parser may
/// read a printed `f64` back one unit in the last place off, so round-trip assertions over
/// arbitrary JSON compare only values without one.
pub fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(a) => a.iter().any(has_float),
        Value::Object(m) => m.values().any(has_float),
        Value::Null | Value::Bool(_) | Value::String(_) => false,
    }
}

/// Asserts that an error message carries no line break or other control character:
/// messages are logged and sent back as descriptions, and text from the sender in them is
/// escaped (`jose::escape_input`) so it cannot forge a log line.
pub fn assert_printable(message: &impl std::fmt::Display) {
    let text = message.to_string();
    assert!(!text.contains(char::is_control), "{text:?}");
}
