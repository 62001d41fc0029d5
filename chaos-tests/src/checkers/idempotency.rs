//! At most one task per idempotency key: on every node, across all acknowledgements, and with the input it was
//! first submitted with.

use std::collections::{BTreeMap, BTreeSet};

use super::{Checker, Violation, list, violations};
use crate::history::{FinalState, History, NodeState, Operation, TaskKey};

pub struct Idempotency;

impl Checker for Idempotency {
    fn name(&self) -> &'static str {
        "idempotency"
    }

    fn check(&self, history: &History, state: &FinalState) -> Vec<Violation> {
        let mut messages = Vec::new();
        for (key, operations) in history.by_key() {
            let acks: Vec<&Operation> = operations
                .into_iter()
                .filter(|op| op.acked_task_id().is_some())
                .collect();
            check_acks_agree(key, &acks, &mut messages);
        }
        for node in &state.nodes {
            check_node_tasks(node, history, &mut messages);
        }
        violations(self.name(), messages)
    }
}

/// Every acknowledgement of one key must name the same task and the same input; a key reused with another input
/// must have been refused with ALREADY_EXISTS instead.
fn check_acks_agree(key: TaskKey<'_>, acks: &[&Operation], messages: &mut Vec<String>) {
    let mut by_task: BTreeMap<&str, &Operation> = BTreeMap::new();
    let mut by_input: BTreeMap<&str, &Operation> = BTreeMap::new();
    for ack in acks {
        if let Some(task_id) = ack.acked_task_id() {
            by_task.entry(task_id).or_insert(ack);
        }
        by_input.entry(ack.op.input_hash()).or_insert(ack);
    }
    if by_task.len() > 1 {
        let cited = by_task
            .iter()
            .map(|(task_id, op)| format!("{task_id} ({})", op.describe()));
        messages.push(format!(
            "key {key} was acknowledged as {} different tasks: {}",
            by_task.len(),
            list(cited)
        ));
    }
    if by_input.len() > 1 {
        let cited = by_input
            .iter()
            .map(|(input, op)| format!("{input} ({})", op.describe()));
        messages.push(format!(
            "key {key} was acknowledged for {} different inputs: {}",
            by_input.len(),
            list(cited)
        ));
    }
}

fn check_node_tasks(node: &NodeState, history: &History, messages: &mut Vec<String>) {
    let mut ids_by_key: BTreeMap<TaskKey<'_>, BTreeSet<&str>> = BTreeMap::new();
    for task in &node.tasks {
        ids_by_key.entry(task.key()).or_default().insert(&task.id);
    }
    for (key, ids) in &ids_by_key {
        if ids.len() > 1 {
            messages.push(format!(
                "node {} holds {} tasks for key {key}: {}",
                node.node_id,
                ids.len(),
                list(ids)
            ));
        }
    }

    // The stored task must carry the key and input it was acknowledged for. A task found in another workspace is
    // lost_ack's to report, so only same-workspace mismatches are judged here.
    let tasks = node.tasks_by_id();
    let mut judged: BTreeSet<(&str, TaskKey<'_>, &str)> = BTreeSet::new();
    for ack in &history.operations {
        let Some(task_id) = ack.acked_task_id() else {
            continue;
        };
        let (key, input) = (ack.op.key(), ack.op.input_hash());
        let Some(task) = tasks.get(task_id) else {
            continue;
        };
        if task.workspace != key.workspace || !judged.insert((task_id, key, input)) {
            continue;
        }
        if task.key() != key {
            messages.push(format!(
                "node {} stores task {task_id} under key {}, but it was acknowledged for key {key} to {}",
                node.node_id,
                task.key(),
                ack.describe()
            ));
        } else if task.input_hash != input {
            messages.push(format!(
                "node {} stores task {task_id} of key {key} with input {}, but it was acknowledged for input {input} to {}",
                node.node_id,
                task.input_hash,
                ack.describe()
            ));
        }
    }
}
