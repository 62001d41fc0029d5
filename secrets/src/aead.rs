//! The one AEAD both layers use: XChaCha20-Poly1305 with random 24-byte nonces from the
//! operating system, and associated data that binds each ciphertext to where it belongs.

use chacha20poly1305::{
    Key, XChaCha20Poly1305, XNonce,
    aead::{Aead, KeyInit, Payload},
};
use rand::{TryRngCore, rngs::OsRng};

use crate::Error;

pub(crate) const KEY_LEN: usize = 32;
pub(crate) const NONCE_LEN: usize = 24;

/// What a ciphertext is, written in front of its associated data. A wrapped workspace key
/// and a sealed secret use different labels, so one can never be opened as the other even
/// when a workspace id and a context happen to be the same string.
#[derive(Clone, Copy)]
pub(crate) enum Label {
    WrappedWorkspaceKey,
    SealedSecret,
}

impl Label {
    fn prefix(self) -> &'static [u8] {
        match self {
            Label::WrappedWorkspaceKey => b"warden wrapped workspace key v1\0",
            Label::SealedSecret => b"warden sealed secret v1\0",
        }
    }
}

fn associated_data(label: Label, binding: &str) -> Vec<u8> {
    let prefix = label.prefix();
    let mut data = Vec::with_capacity(prefix.len() + binding.len());
    data.extend_from_slice(prefix);
    data.extend_from_slice(binding.as_bytes());
    data
}

/// Fills `bytes` from the operating system's random number generator.
pub(crate) fn fill_random(bytes: &mut [u8]) -> Result<(), Error> {
    OsRng.try_fill_bytes(bytes).map_err(Error::Randomness)
}

/// Encrypts `plaintext` under a fresh random nonce; returns `(nonce, ciphertext)`. Fails only
/// when the random number generator does or when the plaintext exceeds the AEAD's limit;
/// `what` names the plaintext for that error.
pub(crate) fn encrypt(
    key: &[u8; KEY_LEN],
    label: Label,
    binding: &str,
    plaintext: &[u8],
    what: impl FnOnce() -> String,
) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;
    let cipher = XChaCha20Poly1305::new(Key::from_slice(key));
    let aad = associated_data(label, binding);
    let payload = Payload {
        msg: plaintext,
        aad: &aad,
    };
    // The only error `encrypt` has is a plaintext beyond the cipher's limit (about 256 GiB).
    let ciphertext = cipher
        .encrypt(XNonce::from_slice(&nonce), payload)
        .map_err(|_| Error::PlaintextTooLarge {
            what: what(),
            len: plaintext.len(),
        })?;
    Ok((nonce.to_vec(), ciphertext))
}

/// Why a ciphertext did not decrypt.
pub(crate) enum DecryptFailure {
    /// The nonce has the wrong length: the record is not something this crate wrote.
    NonceLength(usize),
    /// The tag did not verify: wrong key, wrong binding, or tampered nonce or ciphertext.
    Authentication,
}

pub(crate) fn decrypt(
    key: &[u8; KEY_LEN],
    label: Label,
    binding: &str,
    nonce: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, DecryptFailure> {
    // `XNonce::from_slice` panics on a wrong length, and the nonce comes from stored data.
    if nonce.len() != NONCE_LEN {
        return Err(DecryptFailure::NonceLength(nonce.len()));
    }
    let cipher = XChaCha20Poly1305::new(Key::from_slice(key));
    let aad = associated_data(label, binding);
    let payload = Payload {
        msg: ciphertext,
        aad: &aad,
    };
    cipher
        .decrypt(XNonce::from_slice(nonce), payload)
        .map_err(|_| DecryptFailure::Authentication)
}
