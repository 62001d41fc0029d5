//! Reading a request's JSON, with errors that name the path of the offending field, as the
//! real providers' 400s do.

use serde_json::Value;

fn path(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

pub(crate) fn string<'a>(value: &'a Value, key: &str, at: &str) -> Result<&'a str, String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{} must be a string", path(at, key)))
}

pub(crate) fn non_empty_string<'a>(
    value: &'a Value,
    key: &str,
    at: &str,
) -> Result<&'a str, String> {
    match string(value, key, at)? {
        "" => Err(format!("{} must not be empty", path(at, key))),
        text => Ok(text),
    }
}

pub(crate) fn non_empty_array<'a>(
    value: &'a Value,
    key: &str,
    at: &str,
) -> Result<&'a [Value], String> {
    match value.get(key) {
        Some(Value::Array(items)) if !items.is_empty() => Ok(items),
        Some(Value::Array(_)) => Err(format!("{} must not be empty", path(at, key))),
        _ => Err(format!("{} must be an array", path(at, key))),
    }
}

/// An absent or null field is an empty list.
pub(crate) fn optional_array<'a>(
    value: &'a Value,
    key: &str,
    at: &str,
) -> Result<&'a [Value], String> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(format!("{} must be an array", path(at, key))),
    }
}

pub(crate) fn object<'a>(value: &'a Value, key: &str, at: &str) -> Result<&'a Value, String> {
    match value.get(key) {
        Some(object @ Value::Object(_)) => Ok(object),
        _ => Err(format!("{} must be an object", path(at, key))),
    }
}

pub(crate) fn optional_positive_integer(value: &Value, key: &str) -> Result<Option<u64>, String> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(number) => match number.as_u64() {
            Some(positive) if positive > 0 => Ok(Some(positive)),
            _ => Err(format!("{key} must be a positive integer")),
        },
    }
}
