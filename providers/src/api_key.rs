//! The provider credential, which never prints.

use std::fmt;

use serde::Deserialize;

/// A provider API key. `Debug` and `Display` print `[redacted]`, and it has no `Serialize`, so
/// it cannot leak through logs, error messages or a serialized config; [`ApiKey::expose`] is
/// the one way to read it, used only to set the request header.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("[redacted]")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact_the_key() {
        let key = ApiKey::new("sk-secret-123");
        assert_eq!(format!("{key:?}"), "[redacted]");
        assert_eq!(key.to_string(), "[redacted]");
        assert_eq!(key.expose(), "sk-secret-123");
    }

    #[test]
    fn deserializes_from_a_plain_string() -> Result<(), serde_json::Error> {
        let key: ApiKey = serde_json::from_str("\"sk-secret-123\"")?;
        assert_eq!(key.expose(), "sk-secret-123");
        Ok(())
    }
}
