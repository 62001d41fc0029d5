//! Event streams deliver every event exactly once and in order: each watcher followed the
//! workspace from its first event, so for every task it must have received seq 0, 1, ...
//! with no repeat and no gap, in log order; and for the agent tasks, whose journals the
//! final state holds, exactly the journal, entry for entry.

use std::collections::BTreeMap;

use super::{Checker, Violation, violations};
use crate::history::{FinalState, History, JournalStep, Watched};

pub struct Watch;

const NAME: &str = "watch";

impl Checker for Watch {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self, history: &History, state: &FinalState) -> Vec<Violation> {
        let mut by_watcher: BTreeMap<u32, Vec<&Watched>> = BTreeMap::new();
        for event in &history.watched {
            by_watcher.entry(event.watcher).or_default().push(event);
        }
        let journals = state.journals();
        let mut messages = Vec::new();
        for (watcher, events) in &by_watcher {
            check_watcher(*watcher, events, &journals, &mut messages);
        }
        violations(NAME, messages)
    }
}

fn check_watcher(
    watcher: u32,
    events: &[&Watched],
    journals: &BTreeMap<&str, &[JournalStep]>,
    messages: &mut Vec<String>,
) {
    let mut last_index = 0;
    let mut per_task: BTreeMap<&str, Vec<&Watched>> = BTreeMap::new();
    for event in events {
        if event.log_index < last_index {
            messages.push(format!(
                "watcher {watcher}: task {} seq {} (log index {}) came after log index {last_index}",
                event.task_id, event.seq, event.log_index
            ));
        }
        last_index = last_index.max(event.log_index);
        per_task.entry(&event.task_id).or_default().push(event);
    }
    for (task, received) in &per_task {
        for (position, event) in received.iter().enumerate() {
            let expected = position as u64;
            if event.seq != expected {
                let what = if received[..position]
                    .iter()
                    .any(|seen| seen.seq == event.seq)
                {
                    "again"
                } else {
                    "out of order"
                };
                messages.push(format!(
                    "watcher {watcher}: task {task} seq {} arrived {what}, where seq {expected} was due",
                    event.seq
                ));
                break;
            }
        }
        let Some(journal) = journals.get(task) else {
            continue;
        };
        if received.len() != journal.len() {
            messages.push(format!(
                "watcher {watcher}: task {task} has {} journal entries, the watcher received {}",
                journal.len(),
                received.len()
            ));
        }
        for (event, step) in received.iter().zip(journal.iter()) {
            if (event.seq, event.epoch, event.log_index, event.kind.as_str())
                != (step.seq, step.epoch, step.log_index, step.kind.as_str())
            {
                messages.push(format!(
                    "watcher {watcher}: task {task} seq {}: received ({}, epoch {}, log index {}), the journal holds ({}, epoch {}, log index {})",
                    step.seq, event.kind, event.epoch, event.log_index, step.kind, step.epoch, step.log_index
                ));
                break;
            }
        }
    }
}
