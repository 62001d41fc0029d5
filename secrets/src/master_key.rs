//! `MasterKey`, the key-encryption key of a node, and the `WrappedKey`s it produces.

use std::{fmt, path::Path};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{
    Error, WorkspaceKey,
    aead::{self, DecryptFailure, KEY_LEN, Label},
    key_file::{self, MasterKeySource},
};

/// 32 bytes that wrap every workspace key. It is never stored in the replicated state: it
/// comes from a file outside the data directory or from an environment variable (see
/// [`MasterKeySource`]). Zeroed when dropped; `Debug` prints `MasterKey(<redacted>)`.
pub struct MasterKey {
    // Boxed so that moving the key does not leave copies of it on the stack.
    bytes: Box<[u8; KEY_LEN]>,
    id: String,
}

/// A workspace key encrypted by a master key, as stored in the replicated state.
/// `master_key_id` says which master key wrapped it, so that unwrapping with another one
/// is reported as such rather than as a failed decryption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedKey {
    pub master_key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl MasterKey {
    pub(crate) fn from_box(bytes: Box<[u8; KEY_LEN]>) -> Self {
        let id = key_id(&bytes);
        Self { bytes, id }
    }

    /// A new random key, in memory only. To keep one, use [`MasterKey::generate_file`].
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = Box::new([0u8; KEY_LEN]);
        aead::fill_random(bytes.as_mut_slice())?;
        Ok(Self::from_box(bytes))
    }

    /// Reads the key from a file (mode 0600 or stricter on unix) or from an environment
    /// variable's value; either holds the 32 bytes as hex or base64. Errors name the source.
    pub fn load(source: &MasterKeySource) -> Result<Self, Error> {
        key_file::load(source).map(Self::from_box)
    }

    /// Creates a new key file with mode 0600 and returns its key. Never overwrites: an
    /// existing file is an error. The file and its directory are synced before returning.
    pub fn generate_file(path: &Path) -> Result<Self, Error> {
        let key = Self::generate()?;
        key_file::write_new(path, &key.bytes)?;
        Ok(key)
    }

    /// The first 8 bytes of SHA-256("warden master key id" || key), in hex. It identifies
    /// the key without revealing it.
    pub fn key_id(&self) -> &str {
        &self.id
    }

    /// A 32-byte secret for `purpose` derived from this key (SHA-256 of a fixed label,
    /// the purpose and the key), so every node with the same master key derives the same
    /// value without the key itself leaving this type. Used for the node-to-node credential.
    pub fn derive(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        let mut hasher = Sha256::new();
        hasher.update(b"warden derived secret v1\0");
        hasher.update(purpose.as_bytes());
        hasher.update(b"\0");
        hasher.update(self.bytes.as_slice());
        Zeroizing::new(hasher.finalize().into())
    }

    /// Encrypts `workspace_key` for the workspace `workspace_id`. The id is authenticated,
    /// so the wrapped key only unwraps for that workspace.
    pub fn wrap(
        &self,
        workspace_key: &WorkspaceKey,
        workspace_id: &str,
    ) -> Result<WrappedKey, Error> {
        let (nonce, ciphertext) = aead::encrypt(
            &self.bytes,
            Label::WrappedWorkspaceKey,
            workspace_id,
            workspace_key.bytes(),
            || format!("workspace key for workspace {workspace_id}"),
        )?;
        Ok(WrappedKey {
            master_key_id: self.id.clone(),
            nonce,
            ciphertext,
        })
    }

    pub fn unwrap(&self, wrapped: &WrappedKey, workspace_id: &str) -> Result<WorkspaceKey, Error> {
        if wrapped.master_key_id != self.id {
            return Err(Error::MasterKeyMismatch {
                workspace_id: workspace_id.to_owned(),
                wrapped_by: wrapped.master_key_id.clone(),
                loaded: self.id.clone(),
            });
        }
        let malformed = |reason: String| Error::MalformedWrappedKey {
            workspace_id: workspace_id.to_owned(),
            reason,
        };
        let plaintext = aead::decrypt(
            &self.bytes,
            Label::WrappedWorkspaceKey,
            workspace_id,
            &wrapped.nonce,
            &wrapped.ciphertext,
        )
        .map_err(|failure| match failure {
            DecryptFailure::NonceLength(len) => malformed(format!(
                "nonce is {len} bytes, expected {}",
                aead::NONCE_LEN
            )),
            DecryptFailure::Authentication => Error::WrappedKeyAuthentication {
                workspace_id: workspace_id.to_owned(),
            },
        })?;
        let plaintext = Zeroizing::new(plaintext);
        let key: &[u8; KEY_LEN] = plaintext.as_slice().try_into().map_err(|_| {
            malformed(format!(
                "key is {} bytes, expected {KEY_LEN}",
                plaintext.len()
            ))
        })?;
        Ok(WorkspaceKey::from_slice(key))
    }
}

fn key_id(key: &[u8; KEY_LEN]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"warden master key id");
    hasher.update(key);
    let digest = hasher.finalize();
    hex::encode(&digest[..8])
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl ZeroizeOnDrop for MasterKey {}

impl fmt::Debug for MasterKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("MasterKey(<redacted>)")
    }
}
