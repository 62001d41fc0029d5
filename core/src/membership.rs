//! A cluster admin's membership change, recorded in the log (and so in the audit chain
//! under the admin's name) right before the Raft membership change it authorizes.
//! openraft's own membership entries carry no principal.

use serde::{Deserialize, Serialize};

use crate::names::NodeId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MembershipChange {
    /// Node `node`, which proved its identity at `address`, joins as a learner.
    AddLearner {
        node: NodeId,
        address: String,
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
            MembershipChange::AddLearner { node, address } => {
                write!(f, "add node {node} at {address} as a learner")
            }
            MembershipChange::Promote { node } => write!(f, "promote node {node} to voter"),
            MembershipChange::Remove { node } => write!(f, "remove node {node}"),
        }
    }
}
