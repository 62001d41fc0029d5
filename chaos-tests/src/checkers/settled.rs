//! Every agent task ends terminal or visibly waiting: after the faults healed and the
//! approver decided what was pending, each task is completed, failed, cancelled or timed
//! out, or it waits where an operator sees it (needs attention, waiting for approval),
//! and its journal agrees with its status.

use super::{Checker, Violation, violations};
use crate::agent_history::RESTING;
use crate::history::{FinalState, History};

pub struct Settled;

const NAME: &str = "settled";

impl Checker for Settled {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self, _history: &History, state: &FinalState) -> Vec<Violation> {
        let mut messages = Vec::new();
        for node in &state.nodes {
            for task in node.tasks.iter().filter(|task| !task.journal.is_empty()) {
                let at = format!(
                    "node {} task {} ({})",
                    node.node_id, task.id, task.idempotency_key
                );
                let Some((_, entry)) = RESTING.iter().find(|(status, _)| *status == task.status)
                else {
                    messages.push(format!("{at} is still {} after the run", task.status));
                    continue;
                };
                // The last entry that changes the status must be the one that rests it.
                let last = task
                    .journal
                    .iter()
                    .rev()
                    .find(|step| {
                        RESTING.iter().any(|(_, kind)| *kind == step.kind)
                            || matches!(
                                step.kind.as_str(),
                                "assigned" | "approval_decided" | "resolved"
                            )
                    })
                    .map(|step| step.kind.as_str());
                if last != Some(entry) {
                    messages.push(format!(
                        "{at} is {} but its journal's last status change is {last:?}",
                        task.status
                    ));
                }
            }
        }
        violations(NAME, messages)
    }
}
