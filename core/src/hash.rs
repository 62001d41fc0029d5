//! SHA-256 digests as a value type, shown as lowercase hex.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A SHA-256 digest. Human-readable encodings (the JSON of events and of audited
/// payloads) show it as lowercase hex; binary ones (storage) as its 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

impl Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.to_hex())
        } else {
            self.0.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Hash, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            Hash::from_hex(&text)
                .ok_or_else(|| serde::de::Error::custom("a hash is 64 lowercase hex digits"))
        } else {
            <[u8; 32]>::deserialize(deserializer).map(Hash)
        }
    }
}

impl Hash {
    /// The all-zero hash: the `prev_hash` of the first audit record.
    pub const ZERO: Hash = Hash([0; 32]);

    pub fn of(bytes: &[u8]) -> Hash {
        Hash(Sha256::digest(bytes).into())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Option<Hash> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Hash(bytes))
    }
}

impl std::fmt::Display for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hash({})", &self.to_hex()[..12])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shows_hex_and_binary_keeps_the_bytes() {
        let hash = Hash::of(b"warden");
        let json = serde_json::to_string(&hash).expect("json");
        assert_eq!(json, format!("\"{}\"", hash.to_hex()));
        assert_eq!(serde_json::from_str::<Hash>(&json).expect("parse"), hash);
        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(hash, config).expect("bincode");
        assert_eq!(bytes.len(), 32);
        let (decoded, _): (Hash, usize) =
            bincode::serde::decode_from_slice(&bytes, config).expect("decode");
        assert_eq!(decoded, hash);
    }
}
