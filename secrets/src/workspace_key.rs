//! `WorkspaceKey`, the data-encryption key of one workspace, and the `SealedSecret`s it
//! seals.

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{
    Error, SecretString,
    aead::{self, DecryptFailure, KEY_LEN, Label},
};

/// 32 random bytes that seal the secrets of one workspace. It is stored only wrapped by the
/// master key (`MasterKey::wrap`). Zeroed when dropped; `Debug` prints no key bytes.
pub struct WorkspaceKey {
    // Boxed so that moving the key does not leave copies of it on the stack.
    bytes: Box<[u8; KEY_LEN]>,
}

/// A secret encrypted by a workspace key, as stored in the replicated state. `open` needs
/// the same workspace key and the same context string it was sealed with.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSecret {
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl WorkspaceKey {
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = Box::new([0u8; KEY_LEN]);
        aead::fill_random(bytes.as_mut_slice())?;
        Ok(Self { bytes })
    }

    /// Takes the bytes of an unwrapped key; the caller zeroes its own copy.
    pub(crate) fn from_slice(key: &[u8; KEY_LEN]) -> Self {
        let mut bytes = Box::new([0u8; KEY_LEN]);
        bytes.copy_from_slice(key);
        Self { bytes }
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// Encrypts `plaintext` for the record named by `context` (for example
    /// `workspace/acme/provider/openai`). The context is authenticated, not stored: a sealed
    /// secret copied to another record does not open there.
    pub fn seal(&self, plaintext: &SecretString, context: &str) -> Result<SealedSecret, Error> {
        let (nonce, ciphertext) = aead::encrypt(
            &self.bytes,
            Label::SealedSecret,
            context,
            plaintext.expose().as_bytes(),
            || format!("secret for {context}"),
        )?;
        Ok(SealedSecret { nonce, ciphertext })
    }

    pub fn open(&self, sealed: &SealedSecret, context: &str) -> Result<SecretString, Error> {
        let plaintext = aead::decrypt(
            &self.bytes,
            Label::SealedSecret,
            context,
            &sealed.nonce,
            &sealed.ciphertext,
        )
        .map_err(|failure| match failure {
            DecryptFailure::NonceLength(len) => Error::MalformedSealedSecret {
                context: context.to_owned(),
                reason: format!("nonce is {len} bytes, expected {}", aead::NONCE_LEN),
            },
            DecryptFailure::Authentication => Error::SealedSecretAuthentication {
                context: context.to_owned(),
            },
        })?;
        match String::from_utf8(plaintext) {
            Ok(plaintext) => Ok(SecretString::new(plaintext)),
            Err(not_utf8) => {
                drop(Zeroizing::new(not_utf8.into_bytes()));
                Err(Error::SecretNotUtf8 {
                    context: context.to_owned(),
                })
            }
        }
    }
}

impl Drop for WorkspaceKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl ZeroizeOnDrop for WorkspaceKey {}

impl fmt::Debug for WorkspaceKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("WorkspaceKey(<redacted>)")
    }
}

/// Prints the nonce and only the length of the ciphertext: the ciphertext is no secret, but
/// in full it would flood logs.
impl fmt::Debug for SealedSecret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SealedSecret")
            .field("nonce", &hex::encode(&self.nonce))
            .field(
                "ciphertext",
                &format_args!("<{} bytes>", self.ciphertext.len()),
            )
            .finish()
    }
}
