//! The audit hash chain: one record per applied command, each hashed over the one
//! before it, so any node or an offline tool can prove the history was not altered.
//!
//! `hash_n = SHA-256(hash_{n-1} || canonical_bytes(record_n))`, with `hash_0` all
//! zeros. `canonical_bytes` concatenates, in this order: `index`, `log_index`,
//! `time_ms` as 8-byte big-endian integers; `principal`, `action`, `resource`,
//! `outcome`, `detail` each as a 4-byte big-endian length followed by its UTF-8 bytes;
//! then the 32 bytes of `payload_hash`. The encoding is versioned by this comment: a
//! change to it is a change of the persisted format.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::hash::Hash;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// 1-based position in the chain.
    pub index: u64,
    /// The Raft log index of the entry that produced the record.
    pub log_index: u64,
    pub time_ms: u64,
    pub principal: String,
    pub action: String,
    pub resource: String,
    /// `accepted` or `rejected`.
    pub outcome: String,
    /// For a rejection: `CODE: message`.
    pub detail: String,
    pub payload_hash: Hash,
    pub prev_hash: Hash,
    pub hash: Hash,
}

pub const OUTCOME_ACCEPTED: &str = "accepted";
pub const OUTCOME_REJECTED: &str = "rejected";

/// The fields of a record before it is chained.
#[derive(Debug, Clone)]
pub struct RecordBody {
    pub log_index: u64,
    pub time_ms: u64,
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub outcome: String,
    pub detail: String,
    pub payload_hash: Hash,
}

/// The end of the chain: how many records it holds and the hash of the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuditHead {
    pub count: u64,
    pub hash: Hash,
    /// The time of the last record; inherited by records whose entry carries no clock.
    pub time_ms: u64,
}

impl AuditHead {
    /// Chains `body` after this head.
    pub fn append(&self, body: RecordBody) -> AuditRecord {
        let mut record = AuditRecord {
            index: self.count + 1,
            log_index: body.log_index,
            time_ms: body.time_ms,
            principal: body.principal,
            action: body.action,
            resource: body.resource,
            outcome: body.outcome,
            detail: body.detail,
            payload_hash: body.payload_hash,
            prev_hash: self.hash,
            hash: Hash::ZERO,
        };
        record.hash = chain_hash(&self.hash, &record);
        record
    }

    /// The head after `record`.
    pub fn advanced(record: &AuditRecord) -> AuditHead {
        AuditHead {
            count: record.index,
            hash: record.hash,
            time_ms: record.time_ms,
        }
    }
}

/// The canonical bytes of a record, as documented at the top of this module.
pub fn canonical_bytes(record: &AuditRecord) -> Vec<u8> {
    let strings = [
        &record.principal,
        &record.action,
        &record.resource,
        &record.outcome,
        &record.detail,
    ];
    let mut out = Vec::with_capacity(24 + 32 + strings.iter().map(|s| 4 + s.len()).sum::<usize>());
    out.extend_from_slice(&record.index.to_be_bytes());
    out.extend_from_slice(&record.log_index.to_be_bytes());
    out.extend_from_slice(&record.time_ms.to_be_bytes());
    for text in strings {
        // Fields are bounded far below 4 GiB by the API's size limits.
        out.extend_from_slice(&(text.len() as u32).to_be_bytes());
        out.extend_from_slice(text.as_bytes());
    }
    out.extend_from_slice(&record.payload_hash.0);
    out
}

/// `SHA-256(prev || canonical_bytes(record))`.
pub fn chain_hash(prev: &Hash, record: &AuditRecord) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(prev.0);
    hasher.update(canonical_bytes(record));
    Hash(hasher.finalize().into())
}

/// The first way a chain failed to verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("record {index}: expected index {expected}")]
    IndexGap { index: u64, expected: u64 },
    #[error("record {index}: prev_hash does not match the hash of record {}", index - 1)]
    PrevHashMismatch { index: u64 },
    #[error("record {index}: stored hash does not match its contents")]
    HashMismatch { index: u64 },
}

impl ChainError {
    /// The index of the record that failed.
    pub fn index(&self) -> u64 {
        match self {
            ChainError::IndexGap { index, .. }
            | ChainError::PrevHashMismatch { index }
            | ChainError::HashMismatch { index } => *index,
        }
    }
}

/// Verifies a chain one record at a time, oldest first, so a caller can stream
/// records from storage or from an export file.
#[derive(Debug, Default)]
pub struct ChainVerifier {
    head: AuditHead,
}

impl ChainVerifier {
    pub fn new() -> ChainVerifier {
        ChainVerifier::default()
    }

    pub fn push(&mut self, record: &AuditRecord) -> Result<(), ChainError> {
        let expected = self.head.count + 1;
        if record.index != expected {
            return Err(ChainError::IndexGap {
                index: record.index,
                expected,
            });
        }
        if record.prev_hash != self.head.hash {
            return Err(ChainError::PrevHashMismatch {
                index: record.index,
            });
        }
        if chain_hash(&record.prev_hash, record) != record.hash {
            return Err(ChainError::HashMismatch {
                index: record.index,
            });
        }
        self.head = AuditHead::advanced(record);
        Ok(())
    }

    /// The verified head so far.
    pub fn head(&self) -> AuditHead {
        self.head
    }
}
