//! Envelope encryption of the secrets kept in Warden's replicated state: model providers'
//! API keys and MCP servers' credentials.
//!
//! Two layers, both XChaCha20-Poly1305 with random 24-byte nonces:
//! - a [`MasterKey`] per cluster, outside the replicated state, wraps one [`WorkspaceKey`]
//!   per workspace into a [`WrappedKey`], bound to the workspace's id;
//! - a workspace key seals each secret into a [`SealedSecret`], bound to a context string
//!   naming the record it belongs to.
//!
//! Only wrapped keys and sealed secrets are stored. Plaintext lives in [`SecretString`],
//! which never prints and is zeroed when dropped, as are the keys.

mod aead;
pub mod error;
mod key_file;
mod master_key;
mod secret_string;
mod workspace_key;

pub use error::Error;
pub use key_file::{MasterKeySource, ensure_outside_data_dir, write_new as write_new_key_file};
pub use master_key::{MasterKey, WrappedKey};
pub use secret_string::SecretString;
pub use workspace_key::{SealedSecret, WorkspaceKey};

#[cfg(test)]
mod tests;
