//! Task resume time: from the SIGKILL of the node running a task to the task's next
//! journal step, as a watcher of the workspace saw it happen. The next step comes from
//! another node at a later epoch, or from the killed node itself once restarted, if it
//! still held the task's lease. An entry the dead node had proposed just before the kill
//! may still commit a moment after it; entries at the old epoch within `IN_FLIGHT_MS` of
//! the kill are taken for those and not counted.
//!
//! A task that resumes only after the next fault started (a partition, another kill) is
//! not counted either: its time measures both faults, and the target is about one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::agent_history::RESTING;
use crate::history::{JournalStep, Watched};

/// A node SIGKILLed at `at_ms` (ms since the run started).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kill {
    pub node: u64,
    pub at_ms: u64,
}

/// See the module docs: no restart happens this soon after a kill.
const IN_FLIGHT_MS: u64 = 100;

/// For every kill, every task the killed node was running then, the ms until that task's
/// next step at a later epoch, if that came before the next fault started.
/// `fault_starts` are the run's fault start times; `watched` is one watcher's events in
/// arrival order; `journals` give each assignment's node.
pub fn resume_times(
    kills: &[Kill],
    fault_starts: &[u64],
    watched: &[&Watched],
    journals: &BTreeMap<&str, &[JournalStep]>,
) -> Vec<u64> {
    let mut by_task: BTreeMap<&str, Vec<&Watched>> = BTreeMap::new();
    for event in watched {
        by_task.entry(&event.task_id).or_default().push(event);
    }
    let mut times = Vec::new();
    for (task, events) in &by_task {
        let Some(journal) = journals.get(task) else {
            continue;
        };
        let owners: BTreeMap<u64, u64> = journal
            .iter()
            .filter(|step| step.kind == "assigned")
            .filter_map(|step| {
                let detail: Value = serde_json::from_str(&step.detail_json).ok()?;
                Some((step.seq, detail["node"].as_u64()?))
            })
            .collect();
        for kill in kills {
            let before = events
                .iter()
                .take_while(|event| event.received_ms <= kill.at_ms);
            // The owner at the kill: the last assignment, unless the task rested since.
            let mut running: Option<(u64, u64)> = None;
            for event in before {
                if event.kind == "assigned" {
                    running = owners.get(&event.seq).map(|node| (*node, event.epoch));
                } else if RESTING.iter().any(|(_, entry)| *entry == event.kind) {
                    running = None;
                }
            }
            let Some((_, epoch)) = running.filter(|(owner, _)| *owner == kill.node) else {
                continue;
            };
            let next_fault = fault_starts
                .iter()
                .copied()
                .filter(|start| *start > kill.at_ms)
                .min()
                .unwrap_or(u64::MAX);
            if let Some(next) = events.iter().find(|event| {
                event.kind != "assigned"
                    && event.received_ms > kill.at_ms
                    && (event.epoch > epoch || event.received_ms >= kill.at_ms + IN_FLIGHT_MS)
            }) && next.received_ms <= next_fault
            {
                times.push(next.received_ms - kill.at_ms);
            }
        }
    }
    times
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(received_ms: u64, seq: u64, epoch: u64, kind: &str) -> Watched {
        Watched {
            watcher: 0,
            received_ms,
            task_id: "t1".into(),
            seq,
            log_index: seq,
            epoch,
            kind: kind.into(),
        }
    }

    fn assigned(seq: u64, epoch: u64, node: u64) -> JournalStep {
        JournalStep {
            seq,
            epoch,
            log_index: seq,
            kind: "assigned".into(),
            detail_json: format!(r#"{{"node": {node}, "epoch": {epoch}}}"#),
        }
    }

    #[test]
    fn resume_is_the_first_step_at_a_later_epoch_after_the_owner_died() {
        let journal = vec![assigned(2, 1, 1), assigned(5, 2, 3)];
        let journals = BTreeMap::from([("t1", journal.as_slice())]);
        let events = [
            event(100, 2, 1, "assigned"),
            event(150, 3, 1, "model_responded"),
            event(2_400, 5, 2, "assigned"),
            event(2_600, 6, 2, "tool_call_started"),
        ];
        let watched: Vec<&Watched> = events.iter().collect();
        let kill = |node, at_ms| Kill { node, at_ms };
        assert_eq!(
            resume_times(&[kill(1, 200)], &[200], &watched, &journals),
            [2_400]
        );
        // A step at the old epoch right after the kill was in flight; one later is the
        // restarted node carrying on under its lease.
        let events = [
            event(100, 2, 1, "assigned"),
            event(230, 3, 1, "model_responded"),
            event(1_700, 4, 1, "needs_attention"),
        ];
        let watched: Vec<&Watched> = events.iter().collect();
        assert_eq!(
            resume_times(&[kill(1, 200)], &[200], &watched, &journals),
            [1_500]
        );
        // Another node's death, or one after the task moved on, says nothing about it.
        assert!(resume_times(&[kill(2, 200)], &[200], &watched, &journals).is_empty());
        assert!(resume_times(&[kill(1, 2_500)], &[2_500], &watched, &journals).is_empty());
    }

    #[test]
    fn a_resume_after_the_next_fault_started_is_not_counted() {
        let journal = vec![assigned(2, 1, 1), assigned(5, 2, 3)];
        let journals = BTreeMap::from([("t1", journal.as_slice())]);
        let events = [
            event(100, 2, 1, "assigned"),
            event(2_400, 5, 2, "assigned"),
            event(2_600, 6, 2, "tool_call_started"),
        ];
        let watched: Vec<&Watched> = events.iter().collect();
        let kill = Kill {
            node: 1,
            at_ms: 200,
        };
        assert!(resume_times(&[kill], &[200, 1_000], &watched, &journals).is_empty());
        assert_eq!(
            resume_times(&[kill], &[200, 3_000], &watched, &journals),
            [2_400]
        );
    }

    #[test]
    fn a_task_that_had_parked_is_not_resuming() {
        let journal = vec![assigned(2, 1, 1), assigned(6, 2, 2)];
        let journals = BTreeMap::from([("t1", journal.as_slice())]);
        let events = [
            event(100, 2, 1, "assigned"),
            event(150, 3, 1, "approval_requested"),
            event(900, 4, 1, "approval_decided"),
            event(950, 6, 2, "assigned"),
            event(990, 7, 2, "model_responded"),
        ];
        let watched: Vec<&Watched> = events.iter().collect();
        let kill = Kill {
            node: 1,
            at_ms: 500,
        };
        assert!(resume_times(&[kill], &[500], &watched, &journals).is_empty());
    }
}
