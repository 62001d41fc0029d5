//! No journal write accepted from a stale epoch. Two views of it:
//! - each node's journal of each agent task: sequence numbers 0..n without a gap, epochs
//!   that never go back, every assignment at a new epoch, and every later entry at the
//!   epoch of the latest assignment (or of the `needs_attention` that raised the epoch to
//!   park a task whose interrupted call must not run again);
//! - the audit chain: every accepted journal write came from the node that held the
//!   task at the write's epoch, and no assignment to a newer epoch came before it.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Checker, Violation, violations};
use crate::history::{FinalState, History, JournalStep};

pub struct Epochs;

const NAME: &str = "epochs";

impl Checker for Epochs {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self, _history: &History, state: &FinalState) -> Vec<Violation> {
        let mut messages = Vec::new();
        for node in &state.nodes {
            for task in node.tasks.iter().filter(|task| !task.journal.is_empty()) {
                let at = format!("node {} task {}", node.node_id, task.id);
                check_journal(&at, &task.journal, &mut messages);
            }
        }
        check_writes(state, &state.journals(), &mut messages);
        violations(NAME, messages)
    }
}

fn check_journal(at: &str, journal: &[JournalStep], messages: &mut Vec<String>) {
    let mut assigned = 0;
    let mut highest = 0;
    for (position, step) in journal.iter().enumerate() {
        let expected_seq = position as u64;
        if step.seq != expected_seq {
            messages.push(format!(
                "{at}: entry {position} has seq {}, expected {expected_seq}",
                step.seq
            ));
            return;
        }
        if step.epoch < highest {
            messages.push(format!(
                "{at}: seq {} ({}) is at epoch {} after epoch {highest}",
                step.seq, step.kind, step.epoch
            ));
        }
        if step.kind == "needs_attention" && step.epoch > assigned {
            // Placing a task whose non-idempotent call was interrupted raises the epoch
            // to shut the old owner out and parks the task, with no new owner.
            assigned = step.epoch;
        } else if step.kind == "assigned" {
            if step.epoch <= assigned {
                messages.push(format!(
                    "{at}: seq {} assigns epoch {} after epoch {assigned} was assigned",
                    step.seq, step.epoch
                ));
            }
            assigned = step.epoch;
        } else if assigned > 0 && step.epoch != assigned {
            messages.push(format!(
                "{at}: seq {} ({}) was written at epoch {}, but epoch {assigned} holds the task",
                step.seq, step.kind, step.epoch
            ));
        }
        highest = highest.max(step.epoch);
    }
}

/// For each task: epoch -> (node, log index of the assignment).
fn assignments(journal: &[JournalStep]) -> BTreeMap<u64, (u64, u64)> {
    journal
        .iter()
        .filter(|step| step.kind == "assigned")
        .filter_map(|step| {
            let detail: Value = serde_json::from_str(&step.detail_json).ok()?;
            Some((step.epoch, (detail["node"].as_u64()?, step.log_index)))
        })
        .collect()
}

fn check_writes(
    state: &FinalState,
    journals: &BTreeMap<&str, &[JournalStep]>,
    messages: &mut Vec<String>,
) {
    let by_task: BTreeMap<&str, BTreeMap<u64, (u64, u64)>> = journals
        .iter()
        .map(|(id, journal)| (*id, assignments(journal)))
        .collect();
    for write in state
        .journal_writes
        .iter()
        .filter(|write| write.outcome == "accepted")
    {
        let Some(task) = write.resource.rsplit('/').next() else {
            continue;
        };
        let Some(assigned) = by_task.get(task) else {
            continue;
        };
        let Some((node, epoch)) = write.node_and_epoch() else {
            messages.push(format!(
                "the audit record of the journal write at log index {} does not name its node and epoch: {:?}",
                write.log_index, write.detail
            ));
            continue;
        };
        match assigned.get(&epoch) {
            Some((owner, _)) if *owner == node => {}
            Some((owner, _)) => messages.push(format!(
                "task {task}: node {node} wrote to the journal at epoch {epoch} (log index {}), which node {owner} held",
                write.log_index
            )),
            None => messages.push(format!(
                "task {task}: node {node} wrote to the journal at epoch {epoch} (log index {}), which was never assigned",
                write.log_index
            )),
        }
        if let Some((newer, (owner, index))) = assigned
            .range(epoch + 1..)
            .find(|(_, (_, index))| *index < write.log_index)
        {
            messages.push(format!(
                "task {task}: a write from node {node} at epoch {epoch} was accepted at log index {} after epoch {newer} went to node {owner} at log index {index}",
                write.log_index
            ));
        }
    }
}
