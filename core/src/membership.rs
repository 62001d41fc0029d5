//! A cluster admin's membership change, recorded in the log (and so in the audit chain
//! under the admin's name) right before the Raft membership change it authorizes.
//! openraft's own membership entries carry no principal.

use serde::{Deserialize, Serialize};

use crate::anchor::AuditKey;
use crate::names::NodeId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MembershipChange {
    /// Node `node`, which proved its identity at `address`, joins as a learner; its audit
    /// checkpoints will be verified under `audit_key` (the key it named when asked who it
    /// is; none when it has no signing key).
    AddLearner {
        node: NodeId,
        address: String,
        audit_key: Option<AuditKey>,
    },
    /// Learner `node`, caught up, becomes a voter.
    Promote {
        node: NodeId,
    },
    Remove {
        node: NodeId,
    },
}

impl MembershipChange {
    pub fn node(&self) -> NodeId {
        match self {
            MembershipChange::AddLearner { node, .. }
            | MembershipChange::Promote { node }
            | MembershipChange::Remove { node } => *node,
        }
    }
}

impl std::fmt::Display for MembershipChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MembershipChange::AddLearner {
                node,
                address,
                audit_key,
            } => {
                write!(f, "add node {node} at {address} as a learner, ")?;
                match audit_key {
                    Some(key) => write!(f, "audit key {key}"),
                    None => write!(f, "without an audit key"),
                }
            }
            MembershipChange::Promote { node } => write!(f, "promote node {node} to voter"),
            MembershipChange::Remove { node } => write!(f, "remove node {node}"),
        }
    }
}
