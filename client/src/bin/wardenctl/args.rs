//! Parsers and argument groups shared by several subcommands: durations, endpoints,
//! `KEY=VALUE` pairs, text from standard input and the read consistency.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use warden_client::{Consistency, Error};

/// Parses a human-readable, positive duration: one or more `<integer><unit>` pairs with
/// units `ms`, `s`, `m`, `h` or `d` (24 hours), e.g. `500ms`, `30s`, `2m`, `1h30m`, `30d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".to_owned());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits_end == 0 {
            return Err(format!(
                "expected a number in {text:?} (e.g. 30s, 500ms, 2m)"
            ));
        }
        let amount: u64 = rest[..digits_end]
            .parse()
            .map_err(|_| format!("number too large in {text:?}"))?;
        rest = &rest[digits_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_end] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            "d" => Duration::from_secs(86_400),
            "" => return Err(format!("missing unit in {text:?} (use ms, s, m, h or d)")),
            other => {
                return Err(format!(
                    "unknown unit {other:?} in {text:?} (use ms, s, m, h or d)"
                ));
            }
        };
        let part = unit
            .checked_mul(
                u32::try_from(amount).map_err(|_| format!("number too large in {text:?}"))?,
            )
            .ok_or_else(|| format!("duration too large: {text:?}"))?;
        total = total
            .checked_add(part)
            .ok_or_else(|| format!("duration too large: {text:?}"))?;
        rest = &rest[unit_end..];
    }
    if total.is_zero() {
        return Err("duration must be greater than zero".to_owned());
    }
    Ok(total)
}

/// Validates one entry of `--endpoints`; the scheme a bare `host:port` gets depends on
/// whether `--ca` is given, so it is decided when the client is built.
pub fn parse_endpoint(text: &str) -> Result<String, String> {
    warden_client::normalize_endpoint(text, false)
        .map(|_| text.trim().to_owned())
        .map_err(|error| match error {
            Error::InvalidEndpoint { reason, .. } => {
                format!("{reason} (expected host:port, https://host:port or http://host:port)")
            }
            other => other.to_string(),
        })
}

/// Parses `KEY=VALUE`: a non-empty key, and a value that may be empty or contain `=`.
pub fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

/// `text` itself, or all of standard input when it is `-`.
pub fn text_or_stdin(text: String) -> anyhow::Result<String> {
    if text != "-" {
        return Ok(text);
    }
    let mut read = String::new();
    std::io::stdin()
        .read_to_string(&mut read)
        .context("read standard input")?;
    Ok(read)
}

/// The contents of the file at `path`, or all of standard input when it is `-`.
pub fn file_or_stdin(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        return text_or_stdin("-".to_owned());
    }
    std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))
}

/// A secret read from a file (`-` for standard input): its text without surrounding
/// whitespace, which must leave something. Errors name the file, never its contents.
pub fn read_secret(path: &Path) -> anyhow::Result<String> {
    let text = file_or_stdin(path)?;
    let secret = text.trim();
    if secret.is_empty() {
        anyhow::bail!("{} holds no secret (it is empty)", path.display());
    }
    Ok(secret.to_owned())
}

/// The `--consistency` of a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConsistencyArg {
    /// Sees every write acknowledged before the read (confirms the leader with a quorum)
    Linearizable,
    /// Whatever the serving node has applied: faster, may be stale on a lagging follower
    Local,
}

impl From<ConsistencyArg> for Consistency {
    fn from(arg: ConsistencyArg) -> Self {
        match arg {
            ConsistencyArg::Linearizable => Consistency::Linearizable,
            ConsistencyArg::Local => Consistency::Local,
        }
    }
}

/// Options of every read.
#[derive(Debug, Clone, Args)]
pub struct ReadArgs {
    /// How the serving node answers the read
    #[arg(long, value_enum, default_value_t = ConsistencyArg::Linearizable)]
    pub consistency: ConsistencyArg,
}

impl ReadArgs {
    pub fn consistency(&self) -> Consistency {
        self.consistency.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        for (text, expected) in [
            ("500ms", Duration::from_millis(500)),
            ("30s", Duration::from_secs(30)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            ("30d", Duration::from_secs(30 * 86_400)),
            ("1d12h", Duration::from_secs(36 * 3600)),
            ("1m30s", Duration::from_secs(90)),
            ("1s250ms", Duration::from_millis(1250)),
            (" 10s ", Duration::from_secs(10)),
        ] {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn rejects_bad_durations() {
        for text in [
            "",
            "30",
            "s",
            "1.5s",
            "10 s",
            "5w",
            "-1s",
            "0s",
            "0ms",
            "99999999999999999999s",
        ] {
            assert!(parse_duration(text).is_err(), "{text:?} should be rejected");
        }
    }

    #[test]
    fn key_value_pairs_split_at_the_first_equals_sign() {
        assert_eq!(
            parse_key_value("A=b=c"),
            Ok(("A".to_owned(), "b=c".to_owned()))
        );
        assert_eq!(parse_key_value("A="), Ok(("A".to_owned(), String::new())));
        assert!(parse_key_value("=b").is_err());
        assert!(parse_key_value("novalue").is_err());
    }

    #[test]
    fn endpoint_errors_explain_the_expected_form() {
        assert_eq!(
            parse_endpoint(" 10.0.0.1:7400").as_deref(),
            Ok("10.0.0.1:7400")
        );
        let error = parse_endpoint("10.0.0.1").expect_err("no port");
        assert!(error.contains("missing port"), "{error}");
        assert!(error.contains("host:port"), "{error}");
    }
}
