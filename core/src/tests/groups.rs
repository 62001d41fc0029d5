//! Grouped entries: each request of a group is applied as if alone, in order, seeing the
//! ones before it, with its own outcome and audit record; deliveries are numbered on
//! across the group; a group is never a command of its own.

use super::approval::{decide, governed};
use super::fixtures::*;
use super::webhooks::put;
use crate::group::{group, requests_of};
use crate::policy::OnExpiry;
use crate::*;

/// Applies `requests` as one grouped entry at the harness's next index.
fn apply_group(h: &mut Harness, requests: Vec<Request>) -> Vec<Outcome> {
    h.time_ms += 10;
    let index = h.state.applied_index + 1;
    let entry = group(Principal::node(NodeId(1)), h.time_ms, requests);
    match h.state.apply(index, &entry) {
        Outcome::Group(outcomes) => outcomes,
        other => panic!("a group answered {other:?}"),
    }
}

fn as_system(h: &Harness, command: Command) -> Request {
    request(h.time_ms, command)
}

#[test]
fn each_request_sees_the_ones_before_and_gets_its_own_outcome_and_record() {
    let mut h = Harness::new(Limits::default());
    let records_before = h.state.audit.len();
    let index = h.state.applied_index + 1;
    let requests = vec![
        as_system(&h, submit("acme", 8, "same-key", "first")),
        // The same key and input: deduplicated against the request just before it.
        as_system(&h, submit("acme", 9, "same-key", "first")),
        // The same key with another input is a conflict, refused alone.
        as_system(&h, submit("acme", 10, "same-key", "other")),
        as_system(&h, submit("acme", 11, "another-key", "second")),
    ];
    let outcomes = apply_group(&mut h, requests);
    let submitted: Vec<(Option<u128>, Option<bool>)> = outcomes
        .iter()
        .map(|outcome| match outcome {
            Outcome::TaskSubmitted { task, deduplicated } => {
                (Some(task.id.as_u128()), Some(*deduplicated))
            }
            _ => (None, None),
        })
        .collect();
    assert_eq!(
        submitted,
        vec![
            (Some(8), Some(false)),
            (Some(8), Some(true)),
            (None, None),
            (Some(11), Some(false)),
        ],
        "{outcomes:?}"
    );
    assert!(
        matches!(&outcomes[2], Outcome::Rejected(rejection) if rejection.code == Code::AlreadyExists),
        "{:?}",
        outcomes[2]
    );
    // One record per request, all at the entry's index, chained in order.
    let records = &h.state.audit[records_before..];
    assert_eq!(records.len(), 4);
    assert!(records.iter().all(|record| record.log_index == index));
    let outcomes: Vec<&str> = records.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(outcomes, ["accepted", "accepted", "rejected", "accepted"]);
    let mut verifier = crate::audit::ChainVerifier::new();
    for record in &h.state.audit {
        verifier.push(record).expect("the chain verifies");
    }
    assert_eq!(h.state.applied_index, index);
}

#[test]
fn a_group_leaves_the_state_its_requests_leave_as_entries_of_their_own() {
    let commands = [
        submit("acme", 8, "a", "one"),
        submit("acme", 9, "b", "two"),
        Command::CancelTask {
            workspace: ws("acme"),
            task: TaskId::from_u128(8),
            reason: "changed my mind".to_owned(),
        },
        submit("acme", 10, "a", "one"),
    ];
    let mut alone = Harness::new(Limits::default());
    let mut grouped = alone.clone();
    let first = alone.state.applied_index + 1;
    for command in commands.clone() {
        alone.run(command);
    }
    let requests = commands
        .map(|command| as_system(&grouped, command))
        .to_vec();
    apply_group(&mut grouped, requests);
    // The same tasks and journals, but for the index that created them.
    let strip = |state: &crate::memory::MemoryState| {
        let tasks: Vec<(TaskId, TaskStatus, u64)> = state
            .tasks
            .values()
            .map(|task| (task.id, task.status, task.journal_len))
            .collect();
        let journal: Vec<(TaskId, u64, &'static str)> = state
            .journal
            .iter()
            .map(|((_, task, seq), entry)| (*task, *seq, entry.event.kind()))
            .collect();
        (tasks, journal)
    };
    assert_eq!(strip(&alone.state), strip(&grouped.state));
    let task_8 = |h: &Harness| h.state.tasks[&(ws("acme"), TaskId::from_u128(8))].log_index;
    assert_eq!(task_8(&alone), first);
    assert_eq!(task_8(&grouped), first, "the group's one index");
}

#[test]
fn deliveries_of_a_group_are_numbered_on_across_its_requests() {
    let mut h = governed(1, OnExpiry::Deny);
    h.ok(put(
        "pager",
        "https://hooks.example.com/w",
        &[
            WebhookEvent::ApprovalRequested,
            WebhookEvent::ApprovalDecided,
        ],
    ));
    // The model asks for get (started with the answer), then delete (needs approval).
    h.ok(Harness::step(
        1,
        1,
        Step::ModelResponded {
            turn: 0,
            content: String::new(),
            tool_calls: vec![
                call("c1", "get", r#"{"key": "a"}"#),
                call("c3", "delete", r#"{"key": "a"}"#),
            ],
            usage: Usage::default(),
            start_first: true,
        },
    ));
    let get_done = || {
        Harness::step(
            1,
            1,
            Step::ToolCallFinished {
                call_id: "c1".to_owned(),
                output: "a=1".to_owned(),
                is_error: false,
                start_next: true,
            },
        )
    };
    let approver = h.user("user/ann", &[Role::Approver]);
    // Learn the delete's arguments hash where it does not matter.
    let mut probe = h.clone();
    probe.ok(get_done());
    let open = &probe.task().open_calls[0];
    assert!(open.approval.is_some(), "the delete waits for approval");
    let hash = open.arguments_hash;

    // One entry: the step that asks for the approval, and the approval itself.
    let index = h.state.applied_index + 1;
    let finish = as_system(&h, get_done());
    let approve = Request {
        time_ms: h.time_ms,
        principal: approver.0.clone(),
        token: Some(approver.1),
        command: decide(true, hash),
    };
    let outcomes = apply_group(&mut h, vec![finish, approve]);
    assert!(
        outcomes
            .iter()
            .all(|outcome| matches!(outcome, Outcome::TaskUpdated { .. })),
        "{outcomes:?}"
    );
    let deliveries: Vec<(DeliveryId, WebhookEvent)> = h
        .state
        .deliveries
        .values()
        .map(|delivery| (delivery.id, delivery.notice.event))
        .collect();
    assert_eq!(
        deliveries,
        vec![
            (
                DeliveryId {
                    log_index: index,
                    seq: 0
                },
                WebhookEvent::ApprovalRequested
            ),
            (
                DeliveryId {
                    log_index: index,
                    seq: 1
                },
                WebhookEvent::ApprovalDecided
            ),
        ],
        "the second request's delivery must not take the first one's id"
    );
}

#[test]
fn a_group_is_never_a_command_of_its_own() {
    let mut h = Harness::new(Limits::default());
    let inner = group(
        Principal::node(NodeId(1)),
        h.time_ms,
        vec![as_system(&h, submit("acme", 8, "x", "hidden"))],
    );
    let outcomes = apply_group(&mut h, vec![inner]);
    assert!(
        matches!(&outcomes[..], [Outcome::Rejected(rejection)] if rejection.code == Code::InvalidArgument),
        "{outcomes:?}"
    );
    assert!(
        !h.state
            .tasks
            .contains_key(&(ws("acme"), TaskId::from_u128(8))),
        "a nested group's request is not applied"
    );
    let lone = as_system(&h, submit("acme", 9, "y", "alone"));
    assert_eq!(requests_of(&lone).len(), 1, "a request stands for itself");
}

#[test]
fn only_the_data_paths_commands_are_grouped() {
    assert!(submit("acme", 1, "k", "x").groupable());
    assert!(Harness::step(1, 1, finished("c1", "")).groupable());
    for command in [
        create("other"),
        allow_policy(),
        Command::SetClusterProtocol { protocol: 6 },
    ] {
        assert!(!command.groupable(), "{command:?}");
    }
}

fn allow_policy() -> Command {
    Command::PutPolicy {
        workspace: ws("acme"),
        policy: allow_all("tools"),
        expected_version: 1,
    }
}
