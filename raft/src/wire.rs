//! The encoding of Raft RPCs on the node-to-node wire: openraft's serde types as
//! bincode inside the `bytes` field of `warden.internal.v1.RaftPayload`.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A payload that could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[error("raft rpc payload ({what}): {reason}")]
pub struct WireError {
    pub what: &'static str,
    pub reason: String,
}

pub fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, WireError> {
    bincode::serde::encode_to_vec(value, bincode::config::standard()).map_err(|error| WireError {
        what,
        reason: error.to_string(),
    })
}

pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, WireError> {
    let (value, read) = bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .map_err(|error| WireError {
            what,
            reason: error.to_string(),
        })?;
    if read != bytes.len() {
        return Err(WireError {
            what,
            reason: format!("{} trailing bytes", bytes.len() - read),
        });
    }
    Ok(value)
}

/// The length of `value`'s encoding, counted without building it; `None` when it could
/// not be encoded at all.
pub fn encoded_len<T: Serialize>(value: &T) -> Option<usize> {
    let mut size = bincode::enc::write::SizeWriter::default();
    bincode::serde::encode_into_writer(value, &mut size, bincode::config::standard()).ok()?;
    Some(size.bytes_written)
}
