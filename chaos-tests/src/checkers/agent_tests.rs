//! The agent checkers pass a clean agent run and each fails a run with one planted
//! violation of its promise.

use serde_json::json;

use super::{Checker, Epochs, ExactlyOnce, Settled, Watch};
use crate::history::{
    FinalState, HeadsState, History, JournalStep, JournalWrite, LedgerLine, NodeState, TaskState,
    Watched,
};

/// The `number`th entry: sequence numbers start at 0.
fn step(number: u64, epoch: u64, kind: &str, detail: serde_json::Value) -> JournalStep {
    JournalStep {
        seq: number - 1,
        epoch,
        log_index: 10 * number,
        kind: kind.into(),
        detail_json: detail.to_string(),
    }
}

/// A task that appended `x#1` (allowed), had `x#2` denied, ran `x#3` (put) twice over a
/// failover (two attempts), and completed.
fn journal() -> Vec<JournalStep> {
    let responded = |turn: u32, tool: &str, field: &str, entry: &str| {
        let call_id = format!("call_{turn}_0");
        let arguments = json!({ field: entry }).to_string();
        json!({"turn": turn, "tool_calls": [{"call_id": call_id, "function": format!("ledger__{tool}"),
               "server": "ledger", "tool": tool, "arguments": arguments}]})
    };
    vec![
        step(1, 0, "submitted", json!({"agent": "worker"})),
        step(2, 1, "assigned", json!({"node": 1, "epoch": 1})),
        step(
            3,
            1,
            "model_responded",
            responded(0, "append", "entry", "x#1"),
        ),
        step(
            4,
            1,
            "tool_call_decided",
            json!({"call_id": "call_0_0", "decision": {"Allowed": {"rule": "allow", "reason": ""}}}),
        ),
        step(
            5,
            1,
            "tool_call_started",
            json!({"call_id": "call_0_0", "attempt": 1}),
        ),
        step(
            6,
            1,
            "tool_call_finished",
            json!({"call_id": "call_0_0", "output": "ok", "is_error": false}),
        ),
        step(
            7,
            1,
            "model_responded",
            responded(1, "append", "entry", "x#2"),
        ),
        step(
            8,
            1,
            "tool_call_decided",
            json!({"call_id": "call_1_0", "decision": {"Denied": {"rule": "deny", "reason": "no"}}}),
        ),
        step(
            9,
            1,
            "tool_call_finished",
            json!({"call_id": "call_1_0", "output": "denied", "is_error": true}),
        ),
        step(10, 1, "model_responded", responded(2, "put", "key", "x#3")),
        step(
            11,
            1,
            "tool_call_decided",
            json!({"call_id": "call_2_0", "decision": {"Allowed": {"rule": "allow", "reason": ""}}}),
        ),
        step(
            12,
            1,
            "tool_call_started",
            json!({"call_id": "call_2_0", "attempt": 1}),
        ),
        step(13, 2, "assigned", json!({"node": 2, "epoch": 2})),
        step(
            14,
            2,
            "tool_call_started",
            json!({"call_id": "call_2_0", "attempt": 2}),
        ),
        step(
            15,
            2,
            "tool_call_finished",
            json!({"call_id": "call_2_0", "output": "ok", "is_error": false}),
        ),
        step(16, 2, "completed", json!({"result": "done"})),
    ]
}

fn clean() -> (History, FinalState) {
    let journal = journal();
    let task = TaskState {
        id: "t1".into(),
        workspace: "ws".into(),
        idempotency_key: "a1".into(),
        input_hash: "h".into(),
        agent: "worker".into(),
        status: "completed".into(),
        journal: journal.clone(),
    };
    let nodes = (1..=3)
        .map(|node_id| NodeState {
            node_id,
            applied_index: 200,
            audit_count: 150,
            audit_head: "ab".into(),
            audit_ok: true,
            audit_problem: String::new(),
            checkpoint_count: 3,
            checkpoint_covered: 80,
            tasks: vec![task.clone()],
        })
        .collect();
    let line = |tool: &str, entry: &str| LedgerLine {
        tool: tool.into(),
        entry: entry.into(),
        pid: 7,
    };
    let write = |log_index: u64, node: u64, epoch: u64| JournalWrite {
        log_index,
        resource: "task/ws/t1".into(),
        outcome: "accepted".into(),
        detail: format!("node {node} epoch {epoch}"),
    };
    let state = FinalState {
        nodes,
        heads: Some(HeadsState {
            agree: true,
            problems: Vec::new(),
            signed: 3,
        }),
        ledger: vec![
            line("append", "x#1"),
            line("put", "x#3"),
            line("put", "x#3"),
        ],
        journal_writes: vec![
            write(30, 1, 1),
            write(120, 1, 1),
            write(140, 2, 2),
            write(160, 2, 2),
        ],
    };
    let watched = (0..2)
        .flat_map(|watcher| {
            journal.iter().map(move |step| Watched {
                watcher,
                received_ms: step.log_index,
                task_id: "t1".into(),
                seq: step.seq,
                log_index: step.log_index,
                epoch: step.epoch,
                kind: step.kind.clone(),
            })
        })
        .collect();
    let history = History {
        watched,
        ..History::default()
    };
    (history, state)
}

fn judge(checker: &dyn Checker, history: &History, state: &FinalState) -> Vec<String> {
    checker
        .check(history, state)
        .into_iter()
        .map(|violation| violation.message)
        .collect()
}

fn checkers() -> [Box<dyn Checker>; 4] {
    [
        Box::new(ExactlyOnce),
        Box::new(Epochs),
        Box::new(Settled),
        Box::new(Watch),
    ]
}

#[test]
fn a_clean_agent_run_passes_every_agent_checker() {
    let (history, state) = clean();
    for checker in checkers() {
        let found = judge(checker.as_ref(), &history, &state);
        assert!(found.is_empty(), "{}: {found:?}", checker.name());
    }
}

/// Plants one change into a clean run and returns what `checker` reports.
fn planted(
    checker: &dyn Checker,
    plant: impl FnOnce(&mut History, &mut FinalState),
) -> Vec<String> {
    let (mut history, mut state) = clean();
    plant(&mut history, &mut state);
    judge(checker, &history, &state)
}

fn expect(found: Vec<String>, needle: &str) {
    assert!(
        found.iter().any(|message| message.contains(needle)),
        "expected a violation mentioning {needle:?}, got {found:?}"
    );
}

#[test]
fn exactly_once_sees_a_call_run_twice_run_when_denied_run_unasked_or_not_run() {
    let line = |tool: &str, entry: &str| LedgerLine {
        tool: tool.into(),
        entry: entry.into(),
        pid: 8,
    };
    expect(
        planted(&ExactlyOnce, |_, state| {
            state.ledger.push(line("append", "x#1"))
        }),
        "non-idempotent append \"x#1\" ran 2x",
    );
    expect(
        planted(&ExactlyOnce, |_, state| {
            state.ledger.push(line("append", "x#2"))
        }),
        "although it was Denied",
    );
    expect(
        planted(&ExactlyOnce, |_, state| {
            state.ledger.push(line("append", "y#1"))
        }),
        "no journal asked for it",
    );
    expect(
        planted(&ExactlyOnce, |_, state| {
            state.ledger.push(line("put", "x#3"))
        }),
        "ran 3x but was started 2x",
    );
    expect(
        planted(&ExactlyOnce, |_, state| {
            state.ledger.remove(0);
        }),
        "the ledger never saw it run",
    );
}

#[test]
fn epochs_sees_a_stale_entry_a_foreign_writer_and_a_write_after_a_newer_assignment() {
    expect(
        planted(&Epochs, |_, state| {
            state.nodes[1].tasks[0].journal[14].epoch = 1
        }),
        "epoch 2 holds the task",
    );
    expect(
        planted(&Epochs, |_, state| {
            state.nodes[2].tasks[0].journal[12].epoch = 1
        }),
        "assigns epoch 1 after epoch 1",
    );
    expect(
        planted(&Epochs, |_, state| {
            state.journal_writes[1].detail = "node 3 epoch 1".into()
        }),
        "which node 1 held",
    );
    expect(
        planted(&Epochs, |_, state| state.journal_writes[1].log_index = 150),
        "after epoch 2 went to node 2",
    );
    // A placement that parks an interrupted call raises the epoch without an assignment.
    let (history, mut state) = clean();
    let journal = &mut state.nodes[0].tasks[0].journal;
    journal.truncate(12);
    journal.push(step(
        13,
        2,
        "needs_attention",
        json!({"call_id": "call_2_0", "reason": "interrupted"}),
    ));
    state.journal_writes.truncate(2);
    assert!(judge(&Epochs, &history, &state).is_empty());
    expect(
        planted(&Epochs, |_, state| {
            state.nodes[0].tasks[0].journal.remove(5);
        }),
        "entry 5 has seq 6, expected 5",
    );
}

#[test]
fn settled_sees_a_task_left_running_or_a_status_its_journal_does_not_show() {
    expect(
        planted(&Settled, |_, state| {
            state.nodes[0].tasks[0].status = "running".into()
        }),
        "is still running",
    );
    expect(
        planted(&Settled, |_, state| {
            state.nodes[2].tasks[0].status = "needs_attention".into()
        }),
        "its journal's last status change is Some(\"completed\")",
    );
}

#[test]
fn watch_sees_a_repeat_a_gap_a_missing_event_and_disorder() {
    expect(
        planted(&Watch, |history, _| {
            let again = history.watched[4].clone();
            history.watched.insert(5, again);
        }),
        "seq 4 arrived again",
    );
    expect(
        planted(&Watch, |history, _| {
            history.watched.remove(3);
        }),
        "seq 4 arrived out of order, where seq 3 was due",
    );
    expect(
        planted(&Watch, |history, _| {
            history.watched.truncate(history.watched.len() - 1);
        }),
        "has 16 journal entries, the watcher received 15",
    );
    expect(
        planted(&Watch, |history, _| {
            history.watched[17].epoch = 7;
        }),
        "received (assigned, epoch 7",
    );
}
