//! Every checker passes a clean run and fails a run with one planted violation of its promise.

use std::collections::BTreeSet;

use super::{Violation, all, check_all, list};
use crate::history::{
    FinalState, HeadsState, History, NodeState, Op, Operation, Outcome, TaskState,
};

/// Builds a history and a converged final state; tests plant one violation into what it builds.
#[derive(Default)]
struct Run {
    operations: Vec<Operation>,
    tasks: Vec<TaskState>,
    clock_ms: u64,
}

impl Run {
    fn record(&mut self, client: u32, op: Op, outcome: Outcome) -> &mut Self {
        // Operations are sequential here: each starts after the previous one ended.
        self.clock_ms += 10;
        let start_ms = self.clock_ms;
        self.operations.push(Operation {
            client,
            start_ms,
            end_ms: start_ms + 5,
            op,
            outcome,
        });
        self
    }

    fn submit(
        &mut self,
        client: u32,
        workspace: &str,
        key: &str,
        input: &str,
        outcome: Outcome,
    ) -> &mut Self {
        let op = Op::Submit {
            workspace: workspace.into(),
            idempotency_key: key.into(),
            input_hash: input.into(),
        };
        self.record(client, op, outcome)
    }

    fn resolve(&mut self, workspace: &str, key: &str, input: &str, outcome: Outcome) -> &mut Self {
        let op = Op::Resolve {
            workspace: workspace.into(),
            idempotency_key: key.into(),
            input_hash: input.into(),
        };
        self.record(0, op, outcome)
    }

    /// A task that every node holds.
    fn task(&mut self, id: &str, workspace: &str, key: &str, input: &str) -> &mut Self {
        self.tasks.push(TaskState {
            id: id.into(),
            workspace: workspace.into(),
            idempotency_key: key.into(),
            input_hash: input.into(),
            ..TaskState::default()
        });
        self
    }

    fn finish(&self) -> (History, FinalState) {
        let nodes = (1..=3)
            .map(|node_id| NodeState {
                node_id,
                applied_index: 100,
                audit_count: 90,
                audit_head: "a1b2c3".into(),
                audit_ok: true,
                audit_problem: String::new(),
                checkpoint_count: 3,
                checkpoint_covered: 80,
                tasks: self.tasks.clone(),
            })
            .collect();
        (
            History {
                operations: self.operations.clone(),
                ..History::default()
            },
            FinalState {
                nodes,
                heads: Some(HeadsState {
                    agree: true,
                    problems: Vec::new(),
                    signed: 3,
                }),
                ..FinalState::default()
            },
        )
    }
}

fn ok(task_id: &str) -> Outcome {
    Outcome::Ok {
        task_id: task_id.into(),
        deduplicated: false,
    }
}

fn dedup(task_id: &str) -> Outcome {
    Outcome::Ok {
        task_id: task_id.into(),
        deduplicated: true,
    }
}

fn unknown(reason: &str) -> Outcome {
    Outcome::Unknown {
        reason: reason.into(),
    }
}

fn refused(code: &str) -> Outcome {
    Outcome::Failed {
        code: code.into(),
        message: "refused by the server".into(),
    }
}

/// A run that exercises every outcome and keeps every promise.
fn clean() -> Run {
    let mut run = Run::default();
    run.submit(1, "ws-a", "k1", "h1", ok("t1"))
        .submit(2, "ws-a", "k1", "h1", dedup("t1"))
        .submit(2, "ws-a", "k1", "h9", refused("ALREADY_EXISTS"))
        // The same key in another workspace is another task.
        .submit(3, "ws-b", "k1", "h1", ok("t2"))
        // Applied before the connection was cut, so its resolution deduplicates.
        .submit(1, "ws-a", "k2", "h2", unknown("connection reset"))
        // Never reached the leader, so its resolution creates the task.
        .submit(3, "ws-a", "k3", "h3", unknown("deadline exceeded"))
        .submit(1, "ws-a", "k4", "h4", refused("INVALID_ARGUMENT"))
        // A definite refusal does not stop a later attempt of the same input from creating the task.
        .submit(2, "ws-b", "k2", "h5", refused("RESOURCE_EXHAUSTED"))
        .submit(2, "ws-b", "k2", "h5", ok("t5"))
        .resolve("ws-a", "k2", "h2", dedup("t3"))
        .resolve("ws-a", "k3", "h3", ok("t4"))
        .task("t1", "ws-a", "k1", "h1")
        .task("t2", "ws-b", "k1", "h1")
        .task("t3", "ws-a", "k2", "h2")
        .task("t4", "ws-a", "k3", "h3")
        .task("t5", "ws-b", "k2", "h5");
    run
}

fn node(state: &mut FinalState, node_id: u64) -> &mut NodeState {
    state
        .nodes
        .iter_mut()
        .find(|node| node.node_id == node_id)
        .expect("the run has this node")
}

/// Runs every checker, asserts exactly `expected` reported, and returns the violations.
fn assert_reported(history: &History, state: &FinalState, expected: &[&str]) -> Vec<Violation> {
    let violations = check_all(history, state);
    let reported: BTreeSet<&str> = violations
        .iter()
        .map(|violation| violation.checker)
        .collect();
    assert_eq!(
        reported,
        expected.iter().copied().collect(),
        "violations: {violations:#?}"
    );
    violations
}

/// Asserts that one of `checker`'s messages names every culprit.
fn assert_mentions(violations: &[Violation], checker: &str, culprits: &[&str]) {
    let found = violations.iter().any(|violation| {
        violation.checker == checker && culprits.iter().all(|c| violation.message.contains(c))
    });
    assert!(
        found,
        "no {checker} violation names all of {culprits:?}: {violations:#?}"
    );
}

#[test]
fn clean_run_passes_every_checker() {
    let (history, state) = clean().finish();
    assert_eq!(check_all(&history, &state), vec![]);
}

#[test]
fn checkers_have_distinct_names_in_stable_order() {
    let names: Vec<&str> = all().iter().map(|checker| checker.name()).collect();
    assert_eq!(
        names,
        [
            "lost_ack",
            "idempotency",
            "unknown_resolved",
            "no_phantom",
            "convergence",
            "audit",
            "exactly_once",
            "epochs",
            "settled",
            "watch"
        ]
    );
}

#[test]
fn empty_history_of_empty_nodes_passes() {
    let (history, state) = Run::default().finish();
    assert_eq!(check_all(&history, &state), vec![]);
}

#[test]
fn final_state_without_nodes_is_a_violation() {
    let (history, _) = clean().finish();
    let violations = assert_reported(&history, &FinalState::default(), &["convergence"]);
    assert_mentions(&violations, "convergence", &["no nodes"]);
}

#[test]
fn lost_ack_reports_a_task_dropped_from_one_node() {
    let (history, mut state) = clean().finish();
    node(&mut state, 2).tasks.retain(|task| task.id != "t1");
    // The node's task set differs too, so convergence reports it as well.
    let violations = assert_reported(&history, &state, &["lost_ack", "convergence"]);
    assert_mentions(
        &violations,
        "lost_ack",
        &["node 2", "t1", "ws-a/k1", "client 1"],
    );
    let lost: Vec<&Violation> = violations
        .iter()
        .filter(|v| v.checker == "lost_ack")
        .collect();
    assert_eq!(lost.len(), 1, "{lost:#?}");
}

#[test]
fn lost_ack_reports_a_task_dropped_from_every_node() {
    let (history, mut state) = clean().finish();
    for node in &mut state.nodes {
        node.tasks.retain(|task| task.id != "t3");
    }
    let violations = assert_reported(&history, &state, &["lost_ack"]);
    for culprit in ["node 1", "node 2", "node 3"] {
        assert_mentions(
            &violations,
            "lost_ack",
            &[culprit, "t3", "ws-a/k2", "resolve by client 0"],
        );
    }
}

#[test]
fn lost_ack_reports_a_task_found_in_another_workspace() {
    let (history, mut state) = clean().finish();
    for node in &mut state.nodes {
        node.tasks
            .iter_mut()
            .filter(|task| task.id == "t4")
            .for_each(|task| task.workspace = "ws-z".into());
    }
    // ws-z/k3 was never submitted, so it is a phantom too.
    let violations = assert_reported(&history, &state, &["lost_ack", "no_phantom"]);
    assert_mentions(
        &violations,
        "lost_ack",
        &["node 1", "t4", "workspace ws-z", "ws-a/k3"],
    );
}

#[test]
fn idempotency_reports_two_tasks_with_one_key_on_a_node() {
    let (history, state) = clean().task("t7", "ws-a", "k1", "h1").finish();
    let violations = assert_reported(&history, &state, &["idempotency"]);
    assert_mentions(
        &violations,
        "idempotency",
        &["node 2", "2 tasks", "ws-a/k1", "t1", "t7"],
    );
}

#[test]
fn idempotency_reports_one_key_acknowledged_as_two_tasks() {
    // Both tasks are on every node so that nothing is lost, only duplicated.
    let (history, state) = clean()
        .submit(4, "ws-a", "k1", "h1", dedup("t7"))
        .task("t7", "ws-a", "k1", "h1")
        .finish();
    let violations = assert_reported(&history, &state, &["idempotency"]);
    assert_mentions(
        &violations,
        "idempotency",
        &[
            "key ws-a/k1 was acknowledged as 2 different tasks",
            "t1",
            "t7",
            "client 4",
        ],
    );
}

#[test]
fn idempotency_reports_a_key_acknowledged_for_another_input() {
    let (history, state) = clean().submit(4, "ws-a", "k1", "h9", dedup("t1")).finish();
    let violations = assert_reported(&history, &state, &["idempotency"]);
    assert_mentions(
        &violations,
        "idempotency",
        &["ws-a/k1", "2 different inputs", "h1", "h9"],
    );
    assert_mentions(
        &violations,
        "idempotency",
        &[
            "node 3",
            "t1",
            "with input h1",
            "acknowledged for input h9",
            "client 4",
        ],
    );
}

#[test]
fn idempotency_reports_a_task_stored_under_another_key() {
    let (history, mut state) = clean().finish();
    for node in &mut state.nodes {
        node.tasks
            .iter_mut()
            .filter(|task| task.id == "t1")
            .for_each(|task| task.idempotency_key = "k7".into());
    }
    // Nobody submitted ws-a/k7, so it is a phantom too.
    let violations = assert_reported(&history, &state, &["idempotency", "no_phantom"]);
    assert_mentions(
        &violations,
        "idempotency",
        &["node 1", "t1", "under key ws-a/k7", "for key ws-a/k1"],
    );
}

#[test]
fn unknown_resolved_reports_an_unknown_never_resolved() {
    let (history, state) = clean()
        .submit(2, "ws-a", "k5", "h5", unknown("deadline exceeded"))
        .finish();
    let violations = assert_reported(&history, &state, &["unknown_resolved"]);
    assert_mentions(
        &violations,
        "unknown_resolved",
        &["ws-a/k5", "client 2", "deadline exceeded", "never resolved"],
    );
}

#[test]
fn unknown_resolved_reports_a_resolution_that_did_not_succeed() {
    let (history, state) = clean()
        .submit(2, "ws-a", "k5", "h5", unknown("deadline exceeded"))
        .resolve("ws-a", "k5", "h5", unknown("unavailable"))
        .finish();
    let violations = assert_reported(&history, &state, &["unknown_resolved"]);
    assert_mentions(
        &violations,
        "unknown_resolved",
        &["ws-a/k5", "client 2", "ended unknown too (unavailable)"],
    );
}

#[test]
fn unknown_resolved_reports_a_resolution_contradicted_by_a_node() {
    // k3's resolution created t4, yet the nodes also hold an earlier t6 for k3.
    let (history, state) = clean().task("t6", "ws-a", "k3", "h3").finish();
    // Two tasks for one key: idempotency reports it too.
    let violations = assert_reported(&history, &state, &["unknown_resolved", "idempotency"]);
    assert_mentions(
        &violations,
        "unknown_resolved",
        &["resolution disagrees", "ws-a/k3", "t4", "node 1", "t6"],
    );
}

#[test]
fn unknown_resolved_reports_a_resolution_contradicted_by_an_earlier_ack() {
    let (history, state) = clean()
        .submit(4, "ws-a", "k6", "h6", ok("t6"))
        .resolve("ws-a", "k6", "h6", ok("t6"))
        .task("t6", "ws-a", "k6", "h6")
        .finish();
    let violations = assert_reported(&history, &state, &["unknown_resolved"]);
    assert_mentions(
        &violations,
        "unknown_resolved",
        &["resolution disagrees", "ws-a/k6", "client 4", "task t6"],
    );
}

#[test]
fn no_phantom_reports_a_task_nobody_submitted() {
    let (history, state) = clean().task("t9", "ws-a", "k9", "h9").finish();
    let violations = assert_reported(&history, &state, &["no_phantom"]);
    assert_mentions(
        &violations,
        "no_phantom",
        &["node 1", "t9", "ws-a/k9", "no client submitted"],
    );
}

#[test]
fn no_phantom_reports_a_refused_submission_that_was_stored() {
    let (history, state) = clean().task("t8", "ws-a", "k4", "h4").finish();
    let violations = assert_reported(&history, &state, &["no_phantom"]);
    assert_mentions(
        &violations,
        "no_phantom",
        &["node 2", "t8", "ws-a/k4", "INVALID_ARGUMENT", "client 1"],
    );
}

#[test]
fn no_phantom_reports_an_input_nobody_sent() {
    let (history, mut state) = clean().finish();
    for node in &mut state.nodes {
        node.tasks
            .iter_mut()
            .filter(|task| task.id == "t3")
            .for_each(|task| task.input_hash = "h7".into());
    }
    // The task no longer carries the input it was acknowledged for: idempotency reports it too.
    let violations = assert_reported(&history, &state, &["no_phantom", "idempotency"]);
    assert_mentions(
        &violations,
        "no_phantom",
        &["node 3", "t3", "ws-a/k2", "input h7", "clients sent h2"],
    );
}

#[test]
fn convergence_reports_a_node_at_another_applied_index() {
    let (history, mut state) = clean().finish();
    node(&mut state, 3).applied_index = 99;
    let violations = assert_reported(&history, &state, &["convergence"]);
    assert_mentions(
        &violations,
        "convergence",
        &["node 3 has applied_index 99", "nodes 1, 2 have 100"],
    );
}

#[test]
fn convergence_reports_a_node_with_another_audit_chain() {
    let (history, mut state) = clean().finish();
    node(&mut state, 3).audit_head = "ffff".into();
    node(&mut state, 3).audit_count = 91;
    let violations = assert_reported(&history, &state, &["convergence"]);
    assert_mentions(
        &violations,
        "convergence",
        &["node 3 has audit_head ffff", "a1b2c3"],
    );
    assert_mentions(
        &violations,
        "convergence",
        &["node 3 has audit_count 91", "nodes 1, 2 have 90"],
    );
}

#[test]
fn convergence_reports_a_node_with_another_task_set() {
    let (history, mut state) = clean().finish();
    node(&mut state, 3).tasks.retain(|task| task.id != "t2");
    // The missing task was acknowledged, so it is lost too.
    let violations = assert_reported(&history, &state, &["convergence", "lost_ack"]);
    assert_mentions(
        &violations,
        "convergence",
        &["node 3 holds 4 tasks", "nodes 1, 2 have 5", "missing t2"],
    );
}

#[test]
fn convergence_reports_a_node_listed_twice() {
    let (history, mut state) = clean().finish();
    let copy = state.nodes[0].clone();
    state.nodes.push(copy);
    let violations = assert_reported(&history, &state, &["convergence"]);
    assert_mentions(&violations, "convergence", &["node 1 appears 2 times"]);
}

#[test]
fn audit_reports_a_failed_verify() {
    let (history, mut state) = clean().finish();
    node(&mut state, 2).audit_ok = false;
    node(&mut state, 2).audit_problem = "hash mismatch at index 17".into();
    let violations = assert_reported(&history, &state, &["audit"]);
    assert_mentions(
        &violations,
        "audit",
        &["node 2", "hash mismatch at index 17"],
    );
}

#[test]
fn audit_reports_a_failed_verify_without_a_problem() {
    let (history, mut state) = clean().finish();
    node(&mut state, 1).audit_ok = false;
    let violations = assert_reported(&history, &state, &["audit"]);
    assert_mentions(
        &violations,
        "audit",
        &["node 1", "without naming a problem"],
    );
}

#[test]
fn audit_reports_an_unanchored_chain() {
    let (history, mut state) = clean().finish();
    node(&mut state, 3).checkpoint_covered = 0;
    let violations = assert_reported(&history, &state, &["audit"]);
    assert_mentions(&violations, "audit", &["node 3", "not anchored"]);
}

#[test]
fn audit_reports_heads_that_disagree_after_healing() {
    let (history, mut state) = clean().finish();
    state.heads = Some(HeadsState {
        agree: false,
        problems: vec!["node 2: node 2 holds ab at record 90, most nodes hold cd".into()],
        signed: 3,
    });
    let violations = assert_reported(&history, &state, &["audit"]);
    assert_mentions(
        &violations,
        "audit",
        &["disagree after healing", "node 2 holds ab"],
    );
    state.heads = None;
    let violations = assert_reported(&history, &state, &["audit"]);
    assert_mentions(&violations, "audit", &["not collected"]);
}

#[test]
fn long_lists_are_cut_short() {
    assert_eq!(list(["a", "b"]), "a, b");
    assert_eq!(list(1..=8), "1, 2, 3, 4, 5 and 3 more");
}
