//! No journaled step executed twice, non-idempotent calls at most once, and nothing run
//! that the policy or an approver did not allow: the journals of the agent tasks held
//! against the ledger tool server's own record of what it did.
//!
//! Every call's arguments name its task and turn (`chaos input a7#2`), so each ledger
//! line belongs to exactly one journaled call.

use std::collections::BTreeMap;

use super::calls::{Call, calls};
use super::{Checker, Violation, violations};
use crate::history::{FinalState, History};

pub struct ExactlyOnce;

const NAME: &str = "exactly_once";

impl Checker for ExactlyOnce {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self, _history: &History, state: &FinalState) -> Vec<Violation> {
        let Some(node) = state.nodes.first() else {
            return Vec::new();
        };
        let mut ran: BTreeMap<(&str, &str), u32> = BTreeMap::new();
        for line in &state.ledger {
            *ran.entry((line.tool.as_str(), line.entry.as_str()))
                .or_default() += 1;
        }
        let mut journaled: BTreeMap<(String, String), (String, Call)> = BTreeMap::new();
        for task in node.tasks.iter().filter(|task| !task.journal.is_empty()) {
            for call in calls(&task.journal).into_values() {
                journaled.insert(
                    (call.tool.clone(), call.entry.clone()),
                    (task.id.clone(), call),
                );
            }
        }
        let mut messages = Vec::new();
        for (&(tool, entry), &count) in &ran {
            let Some((task, call)) = journaled.get(&(tool.to_owned(), entry.to_owned())) else {
                messages.push(format!(
                    "the ledger shows {tool} {entry:?} ran {count}x, but no journal asked for it"
                ));
                continue;
            };
            let id = &call.call_id;
            if !call.verdict.permits() {
                messages.push(format!(
                    "task {task} call {id} ({tool} {entry:?}) ran {count}x although it was {:?}",
                    call.verdict
                ));
            }
            if tool == "append" && count > 1 {
                messages.push(format!(
                    "task {task} call {id}: the non-idempotent {tool} {entry:?} ran {count}x"
                ));
            }
            if count > call.starts {
                messages.push(format!(
                    "task {task} call {id} ({tool} {entry:?}) ran {count}x but was started {}x",
                    call.starts
                ));
            }
        }
        for ((tool, entry), (task, call)) in &journaled {
            let count = ran
                .get(&(tool.as_str(), entry.as_str()))
                .copied()
                .unwrap_or(0);
            if call.verdict.permits() && call.finished == Some(false) && !call.skipped && count == 0
            {
                messages.push(format!(
                    "task {task} call {} ({tool} {entry:?}) is journaled as finished, but the ledger never saw it run",
                    call.call_id
                ));
            }
        }
        violations(NAME, messages)
    }
}
