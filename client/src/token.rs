//! The bearer token a client presents on every call.

use tonic::metadata::{Ascii, MetadataValue};

use crate::Error;

/// A Warden token (`wdn_...`), kept as the `authorization` header value it becomes.
/// Never printed.
#[derive(Clone)]
pub struct BearerToken(MetadataValue<Ascii>);

impl BearerToken {
    /// Wraps `token`, as printed by `warden dev`, `cluster init` or `token create`.
    /// Surrounding whitespace (a file's trailing newline) is ignored.
    pub fn new(token: &str) -> Result<BearerToken, Error> {
        let token = token.trim();
        if token.is_empty() {
            return Err(Error::InvalidToken("the token is empty".to_owned()));
        }
        MetadataValue::try_from(format!("Bearer {token}"))
            .map(BearerToken)
            .map_err(|_| Error::InvalidToken("a token is printable ASCII".to_owned()))
    }

    /// Adds the `authorization` header to `request`.
    pub(crate) fn authorize<T>(&self, request: &mut tonic::Request<T>) {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
    }
}

/// Tokens compare in constant time, like any secret.
impl PartialEq for BearerToken {
    fn eq(&self, other: &BearerToken) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl Eq for BearerToken {}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}
