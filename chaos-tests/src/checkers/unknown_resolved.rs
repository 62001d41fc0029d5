//! Every submission whose outcome was unknown was resolved afterwards by retrying its key, and the resolution
//! agrees with what the cluster holds.

use std::collections::BTreeMap;

use super::{Checker, Violation, violations};
use crate::history::{FinalState, History, Operation, Outcome, TaskKey};

pub struct UnknownResolved;

impl Checker for UnknownResolved {
    fn name(&self) -> &'static str {
        "unknown_resolved"
    }

    fn check(&self, history: &History, state: &FinalState) -> Vec<Violation> {
        // Each node's task ids by key, built once so judging each resolution is a lookup rather than a scan.
        let nodes: Vec<(u64, BTreeMap<TaskKey<'_>, Vec<&str>>)> = state
            .nodes
            .iter()
            .map(|node| {
                let mut ids_by_key: BTreeMap<TaskKey<'_>, Vec<&str>> = BTreeMap::new();
                for task in &node.tasks {
                    ids_by_key.entry(task.key()).or_default().push(&task.id);
                }
                (node.node_id, ids_by_key)
            })
            .collect();
        let mut messages = Vec::new();
        for (key, operations) in history.by_key() {
            check_resolved(key, &operations, &mut messages);
            for resolve in &operations {
                if resolve.op.is_resolve() {
                    check_agrees(key, resolve, &operations, &nodes, &mut messages);
                }
            }
        }
        violations(self.name(), messages)
    }
}

/// Without a successful resolution an unknown outcome stays unjudged, and a lost task could hide behind it.
fn check_resolved(key: TaskKey<'_>, operations: &[&Operation], messages: &mut Vec<String>) {
    let unknown: Vec<&&Operation> = operations
        .iter()
        .filter(|op| !op.op.is_resolve() && matches!(op.outcome, Outcome::Unknown { .. }))
        .collect();
    let Some(first) = unknown.first() else { return };
    let resolves: Vec<&&Operation> = operations.iter().filter(|op| op.op.is_resolve()).collect();
    if resolves.iter().any(|op| op.acked_task_id().is_some()) {
        return;
    }
    let reason = match &first.outcome {
        Outcome::Unknown { reason } => reason.as_str(),
        Outcome::Ok { .. } | Outcome::Failed { .. } => "",
    };
    let how = match resolves.last().map(|op| &op.outcome) {
        None => "it was never resolved".to_string(),
        Some(Outcome::Failed { code, message }) => {
            format!("its resolution failed with {code}: {message}")
        }
        Some(Outcome::Unknown { reason }) => format!("its resolution ended unknown too ({reason})"),
        Some(Outcome::Ok { .. }) => return,
    };
    messages.push(format!(
        "key {key}: {} ended unknown ({reason}){}, and {how}",
        first.describe(),
        match unknown.len() {
            1 => String::new(),
            count => format!(" with {} more unknown submissions", count - 1),
        }
    ));
}

/// A resolution that was not deduplicated says it created the key's task just now, so nothing acknowledged
/// earlier and no other task on any node may exist for that key.
fn check_agrees(
    key: TaskKey<'_>,
    resolve: &Operation,
    operations: &[&Operation],
    nodes: &[(u64, BTreeMap<TaskKey<'_>, Vec<&str>>)],
    messages: &mut Vec<String>,
) {
    let Outcome::Ok {
        task_id: created,
        deduplicated: false,
    } = &resolve.outcome
    else {
        return;
    };
    let earlier_ack = operations.iter().find_map(|op| {
        let earlier = !std::ptr::eq(*op, resolve) && op.end_ms <= resolve.start_ms;
        op.acked_task_id()
            .filter(|_| earlier)
            .map(|task_id| (op, task_id))
    });
    if let Some((earlier, earlier_task_id)) = earlier_ack {
        messages.push(format!(
            "resolution disagrees: {} of key {key} created task {created} (not deduplicated), but {} was already \
             acknowledged task {}",
            resolve.describe(),
            earlier.describe(),
            earlier_task_id
        ));
    }
    for (node_id, ids_by_key) in nodes {
        let others = ids_by_key
            .get(&key)
            .into_iter()
            .flatten()
            .filter(|id| **id != created.as_str());
        for task_id in others {
            messages.push(format!(
                "resolution disagrees: {} of key {key} created task {created} (not deduplicated), but node {} also \
                 holds task {} for that key",
                resolve.describe(),
                node_id,
                task_id
            ));
        }
    }
}
