//! Signed checkpoints of the audit chain and the node registry they are checked against.
//!
//! A checkpoint is accepted only from the node it names (authorized in `authz.rs`), while
//! that node is a member registered with the key it was signed with, when the signature
//! holds and the record it signs exists here with the signed hash. Every node applying
//! the same log decides the same, so a node whose chain was rewritten has its
//! checkpoints refused (and audited as refusals) by every honest node.

use super::{Decision, StateRead, Write};
use crate::anchor::{Checkpoint, NodeRecord};
use crate::audit::AuditHead;
use crate::membership::MembershipChange;
use crate::outcome::{Code, Outcome, Rejection};

pub(super) fn record<S: StateRead>(
    state: &S,
    head: &AuditHead,
    checkpoint: &Checkpoint,
) -> Result<Decision, S::Error> {
    let node = checkpoint.node;
    let index = checkpoint.index;
    let refuse = |code, message: String| Ok(Err(Rejection::new(code, message)));
    let registered = state.node_record(node)?;
    let Some(key) = registered.as_ref().and_then(NodeRecord::current_key) else {
        return refuse(
            Code::FailedPrecondition,
            format!("node {node} is not a member with a registered audit key"),
        );
    };
    if key != checkpoint.key {
        return refuse(
            Code::PermissionDenied,
            format!(
                "checkpoint of node {node} is signed with key {}, but node {node} is registered with key {key}",
                checkpoint.key
            ),
        );
    }
    if let Err(error) = checkpoint.verify_signature() {
        return refuse(
            Code::PermissionDenied,
            format!("checkpoint of node {node} at record {index}: {error}"),
        );
    }
    if index == 0 || index > head.count {
        return refuse(
            Code::InvalidArgument,
            format!(
                "checkpoint of node {node}: index {index} is outside the chain (1..={})",
                head.count
            ),
        );
    }
    let stored = state.audit_record(index)?.map(|record| record.hash);
    if stored != Some(checkpoint.hash) {
        return refuse(
            Code::FailedPrecondition,
            format!(
                "checkpoint of node {node}: record {index} has hash {} here, node {node} signed {}",
                stored.map_or_else(|| "-".to_owned(), |hash| hash.to_hex()),
                checkpoint.hash
            ),
        );
    }
    Ok(Ok((
        Outcome::CheckpointRecorded(checkpoint.clone()),
        vec![Write::Checkpoint(checkpoint.clone())],
    )))
}

/// The registry write an authorized membership change makes: an added node is a member
/// under the key it named (appended to its keys, so older checkpoints stay verifiable);
/// a removed one is no longer a member.
pub(super) fn membership<S: StateRead>(
    state: &S,
    head: &AuditHead,
    change: &MembershipChange,
) -> Result<Vec<Write>, S::Error> {
    let node = change.node();
    let existing = state.node_record(node)?;
    let write = match change {
        MembershipChange::AddLearner { audit_key, .. } => Some(NodeRecord::registered(
            existing,
            node,
            *audit_key,
            head.count + 1,
        )),
        MembershipChange::Remove { .. } => existing.map(|mut record| {
            record.member = false;
            record
        }),
        MembershipChange::Promote { .. } => None,
    };
    Ok(write.map(Write::Node).into_iter().collect())
}
