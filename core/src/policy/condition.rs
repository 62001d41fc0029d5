//! Evaluating one condition against a call's arguments, and checking that a test is
//! well-formed (its JSON parses, its regex compiles).

use std::cmp::Ordering;

use regex::{Regex, RegexBuilder};
use serde_json::{Number, Value};

use super::file_path::{ClimbsAboveRoot, NormalPath};
use super::path::{JsonPath, PathError};
use super::rule::{Condition, Test};

/// The most memory one compiled regex may take, so that a rule cannot exhaust a node.
pub const REGEX_SIZE_LIMIT: usize = 64 * 1024;

/// A test that cannot be run as written. Messages name the test's field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TestError {
    #[error("test.{field} {text:?} is not valid JSON: {reason}")]
    InvalidJson {
        field: String,
        text: String,
        reason: String,
    },
    #[error("test.regex {pattern:?}: {reason}")]
    InvalidRegex { pattern: String, reason: String },
    #[error("test.path_prefix {prefix:?}: {reason}")]
    InvalidPathPrefix {
        prefix: String,
        reason: &'static str,
    },
}

/// Why a condition could not be evaluated against a call. A rule whose condition cannot
/// be evaluated denies the call rather than being skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    #[error("path: {0}")]
    Path(#[from] PathError),
    #[error(transparent)]
    Test(#[from] TestError),
    #[error("test.{test} needs a {expected}, found {found}")]
    WrongType {
        test: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    #[error("test.path_prefix: the value's '..' segments climb above its start")]
    PathClimbsAboveRoot,
}

impl Condition {
    /// Whether the condition holds for `arguments`. A missing path is not an error: the
    /// condition is false, except `Exists(false)`, which is true.
    pub fn holds(&self, arguments: &Value) -> Result<bool, ConditionError> {
        let path = JsonPath::parse(&self.path)?;
        // Prepare the test before looking the value up, so that a broken test denies
        // whether or not the call happens to carry the value.
        let test = PreparedTest::new(&self.test)?;
        test.holds(path.lookup(arguments))
    }
}

/// A test with its JSON parsed and its regex compiled.
pub(crate) enum PreparedTest<'t> {
    Equals(Value),
    Prefix(&'t str),
    PathPrefix(NormalPath<'t>),
    Regex(Regex),
    Range {
        min: Option<&'t Number>,
        max: Option<&'t Number>,
    },
    Exists(bool),
    OneOf(Vec<Value>),
}

impl<'t> PreparedTest<'t> {
    pub(crate) fn new(test: &'t Test) -> Result<PreparedTest<'t>, TestError> {
        Ok(match test {
            Test::Equals { value_json } => {
                PreparedTest::Equals(parse_json("equals.value_json".to_owned(), value_json)?)
            }
            Test::Prefix(prefix) => PreparedTest::Prefix(prefix),
            Test::PathPrefix(prefix) => PreparedTest::PathPrefix(path_prefix(prefix)?),
            Test::Regex(pattern) => PreparedTest::Regex(compile_regex(pattern)?),
            Test::Range { min, max } => PreparedTest::Range {
                min: min.as_ref(),
                max: max.as_ref(),
            },
            Test::Exists(present) => PreparedTest::Exists(*present),
            Test::OneOf { values_json } => PreparedTest::OneOf(
                values_json
                    .iter()
                    .enumerate()
                    .map(|(i, text)| parse_json(format!("one_of.values_json[{i}]"), text))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    fn holds(&self, value: Option<&Value>) -> Result<bool, ConditionError> {
        let Some(value) = value else {
            return Ok(matches!(self, PreparedTest::Exists(false)));
        };
        Ok(match self {
            PreparedTest::Equals(expected) => json_equal(value, expected),
            PreparedTest::Prefix(prefix) => expect_string("prefix", value)?.starts_with(prefix),
            PreparedTest::PathPrefix(prefix) => {
                NormalPath::of(expect_string("path_prefix", value)?)
                    .map_err(|ClimbsAboveRoot| ConditionError::PathClimbsAboveRoot)?
                    .starts_with(prefix)
            }
            PreparedTest::Regex(regex) => regex.is_match(expect_string("regex", value)?),
            PreparedTest::Range { min, max } => {
                let Value::Number(number) = value else {
                    return Err(wrong_type("range", "number", value));
                };
                min.is_none_or(|min| compare_numbers(number, min).is_ge())
                    && max.is_none_or(|max| compare_numbers(number, max).is_le())
            }
            PreparedTest::Exists(present) => *present,
            PreparedTest::OneOf(candidates) => candidates
                .iter()
                .any(|candidate| json_equal(value, candidate)),
        })
    }
}

/// A `path_prefix` test's own path, normalized: it must be non-empty and hold no `..`
/// segment (what it would climb to is for the tool to decide, not the policy).
fn path_prefix(prefix: &str) -> Result<NormalPath<'_>, TestError> {
    let invalid = |reason| TestError::InvalidPathPrefix {
        prefix: prefix.to_owned(),
        reason,
    };
    if prefix.is_empty() {
        return Err(invalid("must not be empty"));
    }
    if prefix.split('/').any(|segment| segment == "..") {
        return Err(invalid("must not contain a '..' segment"));
    }
    NormalPath::of(prefix).map_err(|ClimbsAboveRoot| invalid("must not contain a '..' segment"))
}

fn parse_json(field: String, text: &str) -> Result<Value, TestError> {
    serde_json::from_str(text).map_err(|error| TestError::InvalidJson {
        field,
        text: text.to_owned(),
        reason: error.to_string(),
    })
}

/// Compiles a condition's regex within [`REGEX_SIZE_LIMIT`].
pub(crate) fn compile_regex(pattern: &str) -> Result<Regex, TestError> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(4 * REGEX_SIZE_LIMIT)
        .build()
        .map_err(|error| TestError::InvalidRegex {
            pattern: pattern.to_owned(),
            reason: regex_problem(error),
        })
}

/// The gist of a regex error on one line: syntax errors come as a multi-line picture of
/// the pattern whose last line says what is wrong.
fn regex_problem(error: regex::Error) -> String {
    match error {
        regex::Error::CompiledTooBig(limit) => {
            format!("compiles to more than the limit of {limit} bytes")
        }
        regex::Error::Syntax(text) => {
            let last_line = text.lines().last().unwrap_or_default().trim();
            last_line
                .strip_prefix("error: ")
                .unwrap_or(last_line)
                .to_owned()
        }
        other => other.to_string(),
    }
}

fn expect_string<'v>(test: &'static str, value: &'v Value) -> Result<&'v str, ConditionError> {
    value
        .as_str()
        .ok_or_else(|| wrong_type(test, "string", value))
}

fn wrong_type(test: &'static str, expected: &'static str, value: &Value) -> ConditionError {
    ConditionError::WrongType {
        test,
        expected,
        found: json_type(value),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// JSON equality in which numbers compare by value, so `1` equals `1.0`.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y).is_eq(),
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .all(|(key, x)| ys.get(key).is_some_and(|y| json_equal(x, y)))
        }
        _ => a == b,
    }
}

/// Compares two JSON numbers by value: exactly when both are integers, as floats
/// otherwise.
pub(crate) fn compare_numbers(a: &Number, b: &Number) -> Ordering {
    fn integer(number: &Number) -> Option<i128> {
        number
            .as_i64()
            .map(i128::from)
            .or_else(|| number.as_u64().map(i128::from))
    }
    match (integer(a), integer(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        // JSON numbers are finite (never NaN), so floats always compare.
        _ => {
            let x = a.as_f64().unwrap_or_default();
            let y = b.as_f64().unwrap_or_default();
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
    }
}
