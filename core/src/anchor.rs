//! Anchors for the audit chain: nodes' ed25519 public keys and the checkpoints they sign.
//!
//! A checkpoint says "node `node` had applied the audit chain up to record `index`, whose
//! hash was `hash`". Its signature covers, byte for byte:
//!
//! ```text
//! b"warden-audit-checkpoint-v1\0"   27 bytes, the domain separator
//! node                              8 bytes, big-endian
//! index                             8 bytes, big-endian
//! hash                              32 bytes (record `index`'s `hash`)
//! ```
//!
//! 75 bytes in all, signed with ed25519 (RFC 8032) by the node's audit signing key, which
//! lives outside its data directory. Like the record encoding in `audit.rs`, this is a
//! persisted format: a change to it needs a new domain separator.
//!
//! Because the hash of record `index` covers every record before it, a valid checkpoint
//! pins the whole chain up to `index`: whoever rewrites a record at or before it (and every
//! hash after it) cannot make the checkpoint's hash match without the node's secret key.

use ed25519_dalek::Signer;
use serde::{Deserialize, Serialize};

use crate::hash::Hash;
use crate::names::NodeId;

/// The domain separator in front of every signed checkpoint.
pub const CHECKPOINT_DOMAIN: &[u8] = b"warden-audit-checkpoint-v1\0";
/// How many records a node lets pass between its own checkpoints when the cluster was
/// initialized without saying.
pub const DEFAULT_CHECKPOINT_INTERVAL: u64 = 1000;
/// The smallest interval a cluster may be initialized with: every checkpoint is a record
/// too, so each node's own checkpoints must not keep calling for the next one.
pub const MIN_CHECKPOINT_INTERVAL: u64 = 10;
/// The action name of an accepted or refused checkpoint in the audit chain.
pub const CHECKPOINT_ACTION: &str = "audit.checkpoint";

/// A node's ed25519 public key for audit checkpoints, shown as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AuditKey(pub [u8; 32]);

impl AuditKey {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Option<AuditKey> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes).ok()?;
        Some(AuditKey(bytes))
    }
}

impl std::fmt::Display for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey({})", &self.to_hex()[..12])
    }
}

/// A signed checkpoint, with the public key it was signed with (so a checkpoint made
/// before its node was added again under a new key stays verifiable).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub node: NodeId,
    /// The 1-based position of the signed record.
    pub index: u64,
    /// The signed record's `hash`.
    pub hash: Hash,
    pub key: AuditKey,
    /// 64 bytes; a `Vec` because serde has no impls for arrays this long.
    pub signature: Vec<u8>,
}

impl std::fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Checkpoint(node {} record {} {:?})",
            self.node, self.index, self.hash
        )
    }
}

/// Why a checkpoint's signature does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the key {0} is not an ed25519 public key")]
    BadKey(AuditKey),
    #[error("the signature is {0} bytes, not 64")]
    BadLength(usize),
    #[error("the signature does not verify under key {0}")]
    Invalid(AuditKey),
}

/// The bytes a checkpoint's signature covers, as documented at the top of this module.
pub fn signed_bytes(node: NodeId, index: u64, hash: &Hash) -> [u8; 75] {
    let mut out = [0u8; 75];
    out[..27].copy_from_slice(CHECKPOINT_DOMAIN);
    out[27..35].copy_from_slice(&node.0.to_be_bytes());
    out[35..43].copy_from_slice(&index.to_be_bytes());
    out[43..].copy_from_slice(&hash.0);
    out
}

/// The public half of `secret`.
pub fn public_key(secret: &ed25519_dalek::SigningKey) -> AuditKey {
    AuditKey(secret.verifying_key().to_bytes())
}

/// Signs record `index` (of hash `hash`) as node `node`.
pub fn sign(
    secret: &ed25519_dalek::SigningKey,
    node: NodeId,
    index: u64,
    hash: Hash,
) -> Checkpoint {
    let signature = secret.sign(&signed_bytes(node, index, &hash));
    Checkpoint {
        node,
        index,
        hash,
        key: public_key(secret),
        signature: signature.to_bytes().to_vec(),
    }
}

impl Checkpoint {
    /// Checks the signature under the checkpoint's own key; whether that key is the one
    /// registered for the node is the caller's question. Strict verification: no
    /// malleable signatures, no weak keys.
    pub fn verify_signature(&self) -> Result<(), SignatureError> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(&self.key.0)
            .map_err(|_| SignatureError::BadKey(self.key))?;
        let bytes: [u8; 64] = self
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| SignatureError::BadLength(self.signature.len()))?;
        let signature = ed25519_dalek::Signature::from_bytes(&bytes);
        key.verify_strict(&signed_bytes(self.node, self.index, &self.hash), &signature)
            .map_err(|_| SignatureError::Invalid(self.key))?;
        Ok(())
    }

    /// The detail of the checkpoint's audit record, so an export carries its checkpoints
    /// inline: `checkpoint v1 node=N index=I hash=H key=K signature=S` (hex).
    pub fn detail(&self) -> String {
        format!(
            "checkpoint v1 node={} index={} hash={} key={} signature={}",
            self.node,
            self.index,
            self.hash,
            self.key,
            hex::encode(&self.signature)
        )
    }

    /// Reads a checkpoint back from its record's detail; `None` when it is not one.
    pub fn parse_detail(detail: &str) -> Option<Checkpoint> {
        let rest = detail.strip_prefix("checkpoint v1 ")?;
        let mut fields = rest.split(' ');
        let mut field = |name: &str| -> Option<String> {
            fields
                .next()?
                .strip_prefix(name)?
                .strip_prefix('=')
                .map(str::to_owned)
        };
        let node = NodeId(field("node")?.parse().ok()?);
        let index = field("index")?.parse().ok()?;
        let hash = Hash::from_hex(&field("hash")?)?;
        let key = AuditKey::from_hex(&field("key")?)?;
        let signature = hex::decode(field("signature")?).ok()?;
        if fields.next().is_some() {
            return None;
        }
        Some(Checkpoint {
            node,
            index,
            hash,
            key,
            signature,
        })
    }
}

/// What the cluster knows of a node for its audit anchors: every public key it was
/// registered with (oldest first), the one it signs with now (none when it joined without
/// one), and whether it is still a member (an authorized removal ends that; its keys
/// stay, so its checkpoints stay verifiable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub node: NodeId,
    pub audit_keys: Vec<AuditKey>,
    pub signing_key: Option<AuditKey>,
    pub member: bool,
    /// The chain position of the record that first registered a key for the node (0 while
    /// none was): offline verification expects checkpoints from there on.
    pub keyed_since: u64,
}

impl NodeRecord {
    /// The key the node signs with now, if it is a member that registered one.
    pub fn current_key(&self) -> Option<AuditKey> {
        self.signing_key.filter(|_| self.member)
    }

    /// Whether `key` was ever registered for this node.
    pub fn knows(&self, key: &AuditKey) -> bool {
        self.audit_keys.contains(key)
    }

    /// `existing` (or a new record for `node`) as a member signing with `key`. A key is
    /// appended to the history unless it is already the last one.
    /// `at` is the chain position of the registering record.
    pub fn registered(
        existing: Option<NodeRecord>,
        node: NodeId,
        key: Option<AuditKey>,
        at: u64,
    ) -> NodeRecord {
        let mut record = existing.unwrap_or(NodeRecord {
            node,
            audit_keys: Vec::new(),
            signing_key: None,
            member: true,
            keyed_since: 0,
        });
        record.member = true;
        record.signing_key = key;
        if let Some(key) = key {
            if record.audit_keys.last() != Some(&key) {
                record.audit_keys.push(key);
            }
            if record.keyed_since == 0 {
                record.keyed_since = at;
            }
        }
        record
    }
}

/// Cluster-wide audit settings, fixed when the cluster is initialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditSettings {
    /// Each node signs its applied head once the chain grew this many records past its
    /// own last checkpoint.
    pub checkpoint_interval: u64,
}

#[cfg(test)]
mod tests;
