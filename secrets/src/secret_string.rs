//! `SecretString`: a plaintext secret in memory, redacted when formatted, zeroed when dropped.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// A plaintext secret such as a provider's API key. `expose()` is the only way to read it:
/// `Debug` and `Display` print `<redacted>`, and it has no `Serialize`, so it cannot reach a
/// log line or the replicated state by accident. Its buffer is zeroed when it is dropped.
pub struct SecretString(String);

impl SecretString {
    pub fn new(plaintext: String) -> Self {
        Self(plaintext)
    }

    /// The plaintext. Copies made from it (`to_owned`, `format!`) are not zeroed.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(plaintext: String) -> Self {
        Self::new(plaintext)
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for SecretString {}

impl fmt::Debug for SecretString {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("SecretString(<redacted>)")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("<redacted>")
    }
}
