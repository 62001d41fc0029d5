//! No task nobody asked for: every stored task was sent by some client, and a submission the server definitely
//! refused left nothing behind.

use std::collections::BTreeMap;

use super::{Checker, Violation, list};
use crate::history::{FinalState, History, Operation, Outcome, TaskKey};

pub struct NoPhantom;

impl Checker for NoPhantom {
    fn name(&self) -> &'static str {
        "no_phantom"
    }

    fn check(&self, history: &History, state: &FinalState) -> Vec<Violation> {
        // Attempts by (key, input) rather than by key: a refusal of one input (ALREADY_EXISTS for a reused key) says
        // nothing about the task another input of the same key created.
        let mut attempts: BTreeMap<(TaskKey<'_>, &str), Vec<&Operation>> = BTreeMap::new();
        let mut inputs_by_key: BTreeMap<TaskKey<'_>, Vec<&str>> = BTreeMap::new();
        for operation in &history.operations {
            let (key, input) = (operation.op.key(), operation.op.input_hash());
            let sent = attempts.entry((key, input)).or_default();
            if sent.is_empty() {
                inputs_by_key.entry(key).or_default().push(input);
            }
            sent.push(operation);
        }

        let mut violations = Vec::new();
        for node in &state.nodes {
            for task in &node.tasks {
                let (key, input) = (task.key(), task.input_hash.as_str());
                let message = match attempts.get(&(key, input)) {
                    None => match inputs_by_key.get(&key) {
                        None => format!(
                            "node {} holds task {} of key {key}, which no client submitted",
                            node.node_id, task.id
                        ),
                        Some(inputs) => format!(
                            "node {} holds task {} of key {key} with input {input}, which no client sent (clients sent {})",
                            node.node_id,
                            task.id,
                            list(inputs)
                        ),
                    },
                    Some(sent) if !every_attempt_refused(sent) => continue,
                    Some(sent) => format!(
                        "node {} holds task {} of key {key} with input {input}, though every attempt was refused: {}",
                        node.node_id,
                        task.id,
                        list(sent.iter().map(|op| refusal(op)))
                    ),
                };
                violations.push(Violation {
                    checker: self.name(),
                    message,
                });
            }
        }
        violations
    }
}

/// Only a definite refusal proves an attempt left nothing behind; an unknown outcome may have been applied.
fn every_attempt_refused(sent: &[&Operation]) -> bool {
    sent.iter()
        .all(|op| matches!(op.outcome, Outcome::Failed { .. }))
}

fn refusal(operation: &Operation) -> String {
    match &operation.outcome {
        Outcome::Failed { code, message } => {
            format!("{code} \"{message}\" ({})", operation.describe())
        }
        Outcome::Ok { .. } | Outcome::Unknown { .. } => operation.describe(),
    }
}
