//! Durable: a task the API acknowledged is held by every node once the cluster has converged.

use std::collections::BTreeMap;

use super::{Checker, Violation};
use crate::history::{FinalState, History, Operation};

pub struct LostAck;

impl Checker for LostAck {
    fn name(&self) -> &'static str {
        "lost_ack"
    }

    fn check(&self, history: &History, state: &FinalState) -> Vec<Violation> {
        // A deduplicated retry acknowledges the same task again; judge each (task, workspace) once, citing its
        // first acknowledgement.
        let mut acked: BTreeMap<(&str, &str), &Operation> = BTreeMap::new();
        for operation in &history.operations {
            if let Some(task_id) = operation.acked_task_id() {
                acked
                    .entry((task_id, operation.op.key().workspace))
                    .or_insert(operation);
            }
        }
        let mut violations = Vec::new();
        for node in &state.nodes {
            let tasks = node.tasks_by_id();
            for (&(task_id, workspace), operation) in &acked {
                let key = operation.op.key();
                let message = match tasks.get(task_id) {
                    None => format!(
                        "node {} lost task {task_id} of key {key}, acknowledged to {}",
                        node.node_id,
                        operation.describe()
                    ),
                    Some(task) if task.workspace != workspace => format!(
                        "node {} holds task {task_id} in workspace {}, but it was acknowledged for key {key} to {}",
                        node.node_id,
                        task.workspace,
                        operation.describe()
                    ),
                    Some(_) => continue,
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
