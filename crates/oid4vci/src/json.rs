//! Small helpers for reading JSON members with the exact types a message needs, so each
//! message module reports a missing or mistyped member by name.

use serde_json::{Map, Value};

/// A member is present with the wrong JSON type, or absent when required.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Member {
    Missing(&'static str),
    WrongType(&'static str),
}

pub(crate) fn opt_str<'a>(
    m: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, Member> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Member::WrongType(name)),
    }
}

pub(crate) fn req_str<'a>(
    m: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, Member> {
    opt_str(m, name)?.ok_or(Member::Missing(name))
}

pub(crate) fn opt_object<'a>(
    m: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a Map<String, Value>>, Member> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(Member::WrongType(name)),
    }
}

pub(crate) fn opt_u64(m: &Map<String, Value>, name: &'static str) -> Result<Option<u64>, Member> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or(Member::WrongType(name)),
        Some(_) => Err(Member::WrongType(name)),
    }
}

/// Inserts `value` under `name` when it is `Some`.
pub(crate) fn put<T: Into<Value>>(m: &mut Map<String, Value>, name: &str, value: Option<T>) {
    if let Some(v) = value {
        m.insert(name.to_owned(), v.into());
    }
}
