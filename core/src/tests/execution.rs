//! Running a task through `apply()`: placement, the journaled agent loop, fencing,
//! interrupted tool calls, budgets and the lifecycle commands.

use proptest::prelude::*;

use super::fixtures::*;
use crate::*;

fn h() -> Harness {
    Harness::new(Limits::default())
}

#[test]
fn a_task_runs_to_completion_through_its_journal() {
    let mut h = h();
    assert_eq!(h.task().status, TaskStatus::Pending);
    h.ok_assign(1, 1);
    assert_eq!(
        (h.task().status, h.task().owner, h.task().epoch),
        (TaskStatus::Running, Some(NodeId(1)), 1)
    );
    h.ok(Harness::step(
        1,
        1,
        responded(
            0,
            vec![call("c1", "append", r#"{"entry": "a", "b": 1}"#)],
            40,
        ),
    ));
    let task = h.task();
    assert_eq!(task.open_calls.len(), 1);
    assert_eq!(
        task.open_calls[0].arguments, r#"{"b":1,"entry":"a"}"#,
        "canonical arguments"
    );
    assert!(!task.open_calls[0].retry_safe, "append is not idempotent");
    h.ok(Harness::step(1, 1, started("c1", 1)));
    h.ok(Harness::step(1, 1, finished("c1", "appended a")));
    h.ok(Harness::step(1, 1, responded(1, vec![], 10)));
    let task = h.task();
    assert_eq!(task.status, TaskStatus::Completed);
    assert_eq!(task.result.as_deref(), Some("final answer"));
    assert_eq!((task.turns, task.tokens_used, task.owner), (2, 50, None));
    assert_eq!(
        h.events(),
        [
            "submitted",
            "assigned",
            "model_responded",
            "tool_call_decided",
            "tool_call_started",
            "tool_call_finished",
            "model_responded",
            "completed"
        ]
    );
    let journal = h.state.journal_of(&ws("acme"), &TaskId::from_u128(7));
    assert!(
        journal
            .iter()
            .enumerate()
            .all(|(i, entry)| entry.seq == i as u64)
    );
    assert_eq!(h.task().journal_len, journal.len() as u64);
    // Nothing more may be appended to a finished task.
    h.refused(Harness::step(1, 1, responded(2, vec![], 1)), Code::Aborted);
}

#[test]
fn placement_must_raise_the_epoch_by_exactly_one() {
    let mut h = h();
    h.refused_assign(1, 2, Code::Aborted);
    h.refused_assign(1, 0, Code::Aborted);
    h.ok_assign(1, 1);
    h.refused_assign(2, 1, Code::Aborted);
    h.ok_assign(2, 2);
    assert_eq!(h.task().owner, Some(NodeId(2)));
}

#[test]
fn a_stale_owner_cannot_append() {
    let mut h = h();
    h.ok_assign(1, 1);
    h.ok(Harness::step(
        1,
        1,
        responded(0, vec![call("c1", "get", "{}")], 5),
    ));
    // The owner loses its lease; node 2 takes over at epoch 2.
    h.ok_assign(2, 2);
    let message = h.refused(Harness::step(1, 1, started("c1", 1)), Code::Aborted);
    assert!(message.contains("stale epoch"), "{message}");
    // The right epoch from the wrong node is refused too.
    h.refused(Harness::step(1, 2, started("c1", 1)), Code::Aborted);
    h.ok(Harness::step(2, 2, started("c1", 1)));
}

#[test]
fn an_interrupted_call_that_is_not_idempotent_needs_a_human() {
    let mut h = h();
    h.ok_assign(1, 1);
    h.ok(Harness::step(
        1,
        1,
        responded(0, vec![call("c1", "append", "{}")], 5),
    ));
    h.ok(Harness::step(1, 1, started("c1", 1)));
    // Node 1 dies mid-call: the reassignment parks the task instead of placing it.
    h.ok_assign(2, 2);
    let task = h.task();
    assert_eq!(
        (task.status, task.owner),
        (TaskStatus::NeedsAttention, None)
    );
    assert!(
        task.reason
            .as_deref()
            .is_some_and(|reason| reason.contains("not retry-safe"))
    );
    assert_eq!(h.events().last(), Some(&"needs_attention"));
    // Nobody can run it again: not placement, not a retry.
    h.refused_assign(3, 3, Code::FailedPrecondition);
    h.ok(Command::ResolveTask {
        workspace: ws("acme"),
        task: TaskId::from_u128(7),
        resolution: Resolution::Retry,
    });
    assert_eq!(
        (h.task().status, h.task().owner),
        (TaskStatus::Running, None)
    );
    h.ok_assign(3, 3);
    h.ok(Harness::step(3, 3, started("c1", 2)));
    h.ok(Harness::step(3, 3, finished("c1", "ok")));
    // The approval was for one attempt only.
    assert!(h.task().open_calls.is_empty());
}

#[test]
fn the_owner_itself_cannot_retry_an_interrupted_call_without_a_decision() {
    let mut h = h();
    h.ok_assign(1, 1);
    h.ok(Harness::step(
        1,
        1,
        responded(0, vec![call("c1", "append", "{}")], 5),
    ));
    h.ok(Harness::step(1, 1, started("c1", 1)));
    // The owner's actor restarted: same node, same epoch, and it tries again.
    let message = h.refused(
        Harness::step(1, 1, started("c1", 2)),
        Code::FailedPrecondition,
    );
    assert!(message.contains("resolve"), "{message}");
    h.ok(Harness::step(
        1,
        1,
        Step::NeedsAttention {
            call_id: "c1".into(),
            reason: "actor restarted mid-call".into(),
        },
    ));
    assert_eq!(h.task().status, TaskStatus::NeedsAttention);
    h.ok(Command::ResolveTask {
        workspace: ws("acme"),
        task: TaskId::from_u128(7),
        resolution: Resolution::SkipWithResult("done by hand".into()),
    });
    let task = h.task();
    assert!(task.open_calls.is_empty());
    assert_eq!(
        h.events()[h.events().len() - 2..],
        ["resolved", "tool_call_finished"]
    );
    h.ok_assign(2, 2);
    h.ok(Harness::step(2, 2, responded(1, vec![], 1)));
    assert_eq!(h.task().status, TaskStatus::Completed);
}

#[test]
fn an_interrupted_read_only_call_is_retried_where_the_pin_trusts_annotations() {
    let mut h = h();
    h.repin(true);
    h.ok_assign(1, 1);
    h.ok(Harness::step(
        1,
        1,
        responded(0, vec![call("c1", "get", "{}")], 5),
    ));
    h.ok(Harness::step(1, 1, started("c1", 1)));
    h.ok_assign(2, 2);
    assert_eq!(h.task().status, TaskStatus::Running);
    h.refused(
        Harness::step(2, 2, started("c1", 1)),
        Code::FailedPrecondition,
    );
    h.ok(Harness::step(2, 2, started("c1", 2)));
}

/// A server's annotations are its own word: unless the pin trusts them, a tool that calls
/// itself read-only is not retried after a failover; only the grant's `retry_safe` is.
#[test]
fn an_interrupted_read_only_call_needs_a_human_unless_annotations_are_trusted() {
    let interrupted = |h: &mut Harness| {
        h.get_running_on_node_1();
        h.ok_assign(2, 2);
        h.task()
    };
    let mut h = h();
    assert!(!h.state.mcp_servers.values().any(|s| s.trust_annotations));
    let task = interrupted(&mut h);
    assert_eq!(
        (task.status, task.owner),
        (TaskStatus::NeedsAttention, None),
        "read-only by the server's word only"
    );

    // The grant's explicit word is enough.
    let mut h = Harness::new(Limits::default());
    h.grant_get_retry_safe(Some(true), 1);
    assert_eq!(interrupted(&mut h).status, TaskStatus::Running);

    // And a grant that says no wins over trusted annotations.
    let mut h = Harness::new(Limits::default());
    h.repin(true);
    h.grant_get_retry_safe(Some(false), 1);
    assert_eq!(interrupted(&mut h).status, TaskStatus::NeedsAttention);
}

#[test]
fn ungranted_and_unknown_tools_are_denied_with_the_denial_as_their_result() {
    let mut h = h();
    h.ok_assign(1, 1);
    let mut unknown = call("c3", "get", "{}");
    unknown.server = None;
    h.ok(Harness::step(
        1,
        1,
        responded(
            0,
            vec![
                call("c1", "delete", "{}"),
                call("c2", "get", "[1]"),
                unknown,
            ],
            5,
        ),
    ));
    let task = h.task();
    assert!(
        task.open_calls.is_empty(),
        "nothing is allowed: {:?}",
        task.open_calls
    );
    let journal = h.state.journal_of(&ws("acme"), &TaskId::from_u128(7));
    let denials: Vec<String> = journal
        .iter()
        .filter_map(|entry| match &entry.event {
            TaskEvent::ToolCallFinished {
                output,
                is_error: true,
                ..
            } => Some(output.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(denials.len(), 3);
    assert!(
        denials[0].contains("no grant for tools/delete"),
        "{}",
        denials[0]
    );
    assert!(denials[1].contains("not a JSON object"), "{}", denials[1]);
    assert!(denials[2].contains("not a tool"), "{}", denials[2]);
    // With every call answered the loop goes on to the next model turn.
    h.ok(Harness::step(1, 1, responded(1, vec![], 5)));
}

#[test]
fn duplicate_and_out_of_order_steps_are_refused() {
    let mut h = h();
    h.ok_assign(1, 1);
    h.refused(
        Harness::step(1, 1, responded(1, vec![], 1)),
        Code::FailedPrecondition,
    );
    h.refused(
        Harness::step(1, 1, started("c1", 1)),
        Code::FailedPrecondition,
    );
    h.ok(Harness::step(
        1,
        1,
        responded(0, vec![call("c1", "get", "{}"), call("c2", "get", "{}")], 1),
    ));
    h.refused(
        Harness::step(1, 1, responded(0, vec![], 1)),
        Code::FailedPrecondition,
    );
    h.refused(
        Harness::step(1, 1, finished("c1", "early")),
        Code::FailedPrecondition,
    );
    h.refused(
        Harness::step(1, 1, started("c2", 1)),
        Code::FailedPrecondition,
    );
    h.refused(
        Harness::step(
            1,
            1,
            responded(1, vec![call("x", "get", "{}"), call("x", "get", "{}")], 1),
        ),
        Code::FailedPrecondition,
    );
}

#[test]
fn budgets_fail_the_task_with_the_reason() {
    let mut tokens = Harness::new(Limits {
        token_budget: 100,
        ..Limits::default()
    });
    tokens.ok_assign(1, 1);
    tokens.ok(Harness::step(
        1,
        1,
        responded(0, vec![call("c1", "get", "{}")], 101),
    ));
    let task = tokens.task();
    assert_eq!(task.status, TaskStatus::Failed);
    assert!(
        task.reason
            .as_deref()
            .is_some_and(|r| r.contains("token budget exhausted: used 101 of 100")),
        "{:?}",
        task.reason
    );

    let mut steps = Harness::new(Limits {
        max_steps: 2,
        ..Limits::default()
    });
    steps.ok_assign(1, 1);
    steps.ok(Harness::step(
        1,
        1,
        responded(0, vec![call("c1", "get", "{}")], 1),
    ));
    steps.ok(Harness::step(1, 1, started("c1", 1)));
    steps.ok(Harness::step(1, 1, finished("c1", "v")));
    steps.ok(Harness::step(
        1,
        1,
        responded(1, vec![call("c2", "get", "{}")], 1),
    ));
    let task = steps.task();
    assert_eq!(task.status, TaskStatus::Failed);
    assert!(
        task.reason
            .as_deref()
            .is_some_and(|r| r.contains("step budget exhausted")),
        "{:?}",
        task.reason
    );
}

#[test]
fn cancel_and_deadline_end_the_task() {
    let mut h = h();
    h.ok_assign(1, 1);
    let cancel = h.lifecycle("cancel");
    h.ok(cancel.clone());
    assert_eq!(
        (h.task().status, h.task().owner),
        (TaskStatus::Cancelled, None)
    );
    h.refused(cancel, Code::FailedPrecondition);
    h.refused(Harness::step(1, 1, responded(0, vec![], 1)), Code::Aborted);

    let mut h = Harness::new(Limits {
        deadline_ms: 1_000,
        ..Limits::default()
    });
    let timeout = h.lifecycle("timeout");
    h.refused(timeout.clone(), Code::FailedPrecondition);
    h.time_ms += 1_000;
    h.ok(timeout);
    assert_eq!(h.task().status, TaskStatus::TimedOut);
    assert_eq!(h.events().last(), Some(&"timed_out"));
}

#[test]
fn a_task_without_progress_is_marked_stalled_until_it_progresses() {
    let mut h = Harness::new(Limits {
        stall_timeout_ms: 500,
        ..Limits::default()
    });
    h.ok_assign(1, 1);
    let progress_ms = h.task().progress_ms;
    let stall = Command::MarkStalled {
        workspace: ws("acme"),
        task: TaskId::from_u128(7),
        progress_ms,
    };
    h.refused(stall.clone(), Code::FailedPrecondition);
    h.time_ms += 500;
    h.ok(stall.clone());
    assert!(h.task().stalled);
    assert_eq!(h.events().last(), Some(&"task_stalled"));
    h.refused(stall, Code::FailedPrecondition);
    h.ok(Harness::step(
        1,
        1,
        responded(0, vec![call("c1", "get", "{}")], 1),
    ));
    assert!(!h.task().stalled);
}

#[test]
fn a_paused_agent_s_tasks_are_not_placed() {
    let mut h = h();
    let mut spec = agent_spec(Limits::default());
    spec.paused = true;
    h.ok(Command::UpdateAgent {
        workspace: ws("acme"),
        spec: spec.clone(),
        expected_version: 1,
    });
    h.refused_assign(1, 1, Code::FailedPrecondition);
    h.refused(
        Command::UpdateAgent {
            workspace: ws("acme"),
            spec,
            expected_version: 1,
        },
        Code::Aborted,
    );
}

#[test]
fn configuration_is_validated() {
    let mut h = h();
    let mut spec = agent_spec(Limits::default());
    spec.name = AgentName::parse("other").expect("valid");
    spec.tools.push(grant("tools", "missing"));
    let message = h.refused(
        Command::CreateAgent {
            workspace: ws("acme"),
            spec: spec.clone(),
        },
        Code::NotFound,
    );
    assert!(message.contains("tool missing"), "{message}");
    spec.tools.clear();
    spec.limits.max_steps = 0;
    let message = h.refused(
        Command::CreateAgent {
            workspace: ws("acme"),
            spec,
        },
        Code::InvalidArgument,
    );
    assert!(message.contains("limits.max_steps"), "{message}");
    h.refused(
        submit("acme", 8, "k2", "x").with_agent("nobody"),
        Code::NotFound,
    );
}

impl Harness {
    pub(super) fn ok_assign(&mut self, node: u64, epoch: u64) {
        match self.assign(node, epoch) {
            Outcome::TaskUpdated { .. } => {}
            other => panic!("assign to {node} at {epoch}: {other:?}"),
        }
    }

    fn refused_assign(&mut self, node: u64, epoch: u64, code: Code) {
        let command = Command::AssignTask {
            workspace: ws("acme"),
            task: TaskId::from_u128(7),
            node: NodeId(node),
            epoch,
        };
        self.refused(command, code);
    }
}

trait WithAgent {
    fn with_agent(self, agent: &str) -> Command;
}

impl WithAgent for Command {
    fn with_agent(mut self, name: &str) -> Command {
        if let Command::SubmitTask { agent, .. } = &mut self {
            *agent = AgentName::parse(name).expect("valid agent");
        }
        self
    }
}

/// One of the commands a crowd of nodes might send for task 7.
fn arbitrary_step() -> impl Strategy<Value = (bool, u64, u64, u8)> {
    (any::<bool>(), 1u64..4, 0u64..6, 0u8..4)
}

proptest! {
    /// Whatever nodes propose in whatever order, every journal entry a node wrote
    /// carries the epoch of the assignment that made it the owner, and epochs never
    /// go down.
    #[test]
    fn only_the_current_owner_writes_the_journal(steps in prop::collection::vec(arbitrary_step(), 1..60)) {
        let mut h = h();
        for (is_assign, node, epoch, kind) in steps {
            let turn = h.task().turns;
            let command = if is_assign {
                Command::AssignTask { workspace: ws("acme"), task: TaskId::from_u128(7), node: NodeId(node), epoch }
            } else {
                let open = h.task().open_calls.first().cloned();
                let step = match (kind, open) {
                    (0, _) => responded(turn, vec![call(&format!("c{turn}"), "get", "{}")], 1),
                    (1, Some(open)) => started(&open.call_id, open.attempts + 1),
                    (2, Some(open)) => finished(&open.call_id, "v"),
                    _ => responded(turn, vec![], 1),
                };
                Harness::step(node, epoch, step)
            };
            let before = h.task();
            let outcome = h.run(command.clone());
            if let (Command::AppendJournal { node, epoch, .. }, false) = (&command, matches!(outcome, Outcome::Rejected(_))) {
                prop_assert_eq!(before.owner, Some(*node));
                prop_assert_eq!(before.epoch, *epoch);
            }
        }
        let journal = h.state.journal_of(&ws("acme"), &TaskId::from_u128(7));
        let mut current_epoch = 0;
        for entry in &journal {
            prop_assert!(entry.epoch >= current_epoch);
            current_epoch = entry.epoch;
            if let TaskEvent::Assigned { epoch, .. } = entry.event {
                prop_assert_eq!(epoch, entry.epoch);
            }
        }
    }
}

#[test]
fn a_step_can_start_the_next_call_in_the_same_commit() {
    let mut h = h();
    h.ok_assign(1, 1);
    let Step::ModelResponded {
        turn,
        content,
        tool_calls,
        usage,
        ..
    } = responded(
        0,
        vec![call("c1", "get", "{}"), call("c2", "append", "{}")],
        5,
    )
    else {
        unreachable!()
    };
    h.ok(Harness::step(
        1,
        1,
        Step::ModelResponded {
            turn,
            content,
            tool_calls,
            usage,
            start_first: true,
        },
    ));
    assert_eq!(
        h.task().open_calls[0].attempts,
        1,
        "c1 started with the response"
    );
    assert_eq!(h.events().last(), Some(&"tool_call_started"));
    // Starting it again would be a second attempt, which is not what the owner meant.
    h.refused(
        Harness::step(1, 1, started("c1", 1)),
        Code::FailedPrecondition,
    );
    h.ok(Harness::step(
        1,
        1,
        Step::ToolCallFinished {
            call_id: "c1".into(),
            output: "v".into(),
            is_error: false,
            start_next: true,
        },
    ));
    let task = h.task();
    assert_eq!(
        (
            task.open_calls[0].call_id.as_str(),
            task.open_calls[0].attempts
        ),
        ("c2", 1)
    );
    // A lost owner's merged start still leaves an interrupted, non-idempotent call.
    h.ok_assign(2, 2);
    assert_eq!(h.task().status, TaskStatus::NeedsAttention);
}
