//! The kill switch in `apply()`: a paused workspace or agent takes no step (a finished
//! call is still journaled but starts nothing), a paused tool is denied when decided and
//! not started when already opened, resuming lifts each, and who may pause.

use super::fixtures::*;
use crate::*;

fn pause(target: PauseTarget, paused: bool, reason: &str) -> Command {
    Command::SetPause {
        workspace: ws("acme"),
        target,
        paused,
        reason: reason.to_owned(),
    }
}

fn append_tool() -> PauseTarget {
    PauseTarget::Tool {
        server: ServerName::parse("tools").expect("valid server"),
        tool: ToolName::parse("append").expect("valid tool"),
    }
}

fn bot() -> PauseTarget {
    PauseTarget::Agent(AgentName::parse("bot").expect("valid agent"))
}

fn respond_starting(turn: u32, calls: Vec<RequestedCall>) -> Step {
    match responded(turn, calls, 5) {
        Step::ModelResponded {
            turn,
            content,
            tool_calls,
            usage,
            ..
        } => Step::ModelResponded {
            turn,
            content,
            tool_calls,
            usage,
            start_first: true,
        },
        other => other,
    }
}

fn finish_starting_next(id: &str) -> Step {
    Step::ToolCallFinished {
        call_id: id.to_owned(),
        output: "done".to_owned(),
        is_error: false,
        start_next: true,
    }
}

fn decision_of(h: &Harness, id: &str) -> CallDecision {
    h.state
        .journal_of(&ws("acme"), &TaskId::from_u128(7))
        .into_iter()
        .find_map(|entry| match entry.event {
            TaskEvent::ToolCallDecided {
                call_id, decision, ..
            } if call_id == id => Some(decision),
            _ => None,
        })
        .expect("decided")
}

fn result_of(h: &Harness, id: &str) -> Option<String> {
    h.state
        .journal_of(&ws("acme"), &TaskId::from_u128(7))
        .into_iter()
        .find_map(|entry| match entry.event {
            TaskEvent::ToolCallFinished {
                call_id, output, ..
            } if call_id == id => Some(output),
            _ => None,
        })
}

#[test]
fn a_paused_workspace_takes_no_step_until_it_is_resumed() {
    let mut h = Harness::new(Limits::default());
    let operator = h.user("user/x", &[Role::Operator]);
    h.ok_assign(1, 1);
    h.ok(Harness::step(
        1,
        1,
        respond_starting(
            0,
            vec![
                call("c1", "append", r#"{"entry":"a"}"#),
                call("c2", "get", "{}"),
            ],
        ),
    ));
    assert_eq!(h.task().open_calls[0].attempts, 1, "c1 started");

    let paused = h.run_as(
        &operator,
        pause(PauseTarget::Workspace, true, "incident 42"),
    );
    assert!(
        matches!(paused, Outcome::PauseSet { paused: true, .. }),
        "{paused:?}"
    );
    let audit = h.state.audit.last().expect("audit").clone();
    assert_eq!(
        (
            audit.action.as_str(),
            audit.resource.as_str(),
            audit.detail.as_str()
        ),
        (
            "switch.pause",
            "workspace/acme/pause",
            "paused workspace acme: incident 42"
        )
    );
    let since = h.state.switches[&ws("acme")]
        .paused
        .as_ref()
        .expect("paused")
        .since_ms;

    // The call that already ran reports its result, but the next one is not started.
    h.ok(Harness::step(1, 1, finish_starting_next("c1")));
    let task = h.task();
    assert_eq!(task.open_calls[0].call_id, "c2");
    assert_eq!(
        task.open_calls[0].attempts, 0,
        "c2 not started while paused"
    );
    let message = h.refused(
        Harness::step(1, 1, started("c2", 1)),
        Code::FailedPrecondition,
    );
    assert!(
        message.contains("workspace acme is paused by user/x: incident 42"),
        "{message}"
    );
    // Nor may another node take the task over.
    let message = h.refused(
        Command::AssignTask {
            workspace: ws("acme"),
            task: TaskId::from_u128(7),
            node: NodeId(2),
            epoch: 2,
        },
        Code::FailedPrecondition,
    );
    assert!(message.contains("workspace acme is paused"), "{message}");
    // Pausing again updates the reason but keeps the time of the first pause.
    h.run_as(
        &operator,
        pause(PauseTarget::Workspace, true, "still incident 42"),
    );
    let again = h.state.switches[&ws("acme")]
        .paused
        .clone()
        .expect("paused");
    assert_eq!(
        (again.reason.as_str(), again.since_ms),
        ("still incident 42", since)
    );

    h.run_as(&operator, pause(PauseTarget::Workspace, false, "fixed"));
    assert!(h.state.switches.is_empty(), "nothing paused, no record");
    assert_eq!(h.state.audit.last().expect("audit").action, "switch.resume");
    h.ok(Harness::step(1, 1, started("c2", 1)));
    h.ok(Harness::step(1, 1, finished("c2", "a=1")));

    h.run_as(&operator, pause(PauseTarget::Workspace, true, "again"));
    let message = h.refused(
        Harness::step(1, 1, responded(1, vec![], 5)),
        Code::FailedPrecondition,
    );
    assert!(message.contains("paused by user/x: again"), "{message}");
    h.run_as(&operator, pause(PauseTarget::Workspace, false, ""));
    h.ok(Harness::step(1, 1, responded(1, vec![], 5)));
    assert_eq!(h.task().status, TaskStatus::Completed);
    h.refused(
        pause(PauseTarget::Workspace, false, "twice"),
        Code::FailedPrecondition,
    );
}

#[test]
fn a_paused_workspace_s_pending_task_is_not_placed() {
    let mut h = Harness::new(Limits::default());
    h.ok(pause(PauseTarget::Workspace, true, "maintenance"));
    let message = h.refused(
        Command::AssignTask {
            workspace: ws("acme"),
            task: TaskId::from_u128(7),
            node: NodeId(1),
            epoch: 1,
        },
        Code::FailedPrecondition,
    );
    assert!(message.contains("is not placed"), "{message}");
    h.ok(pause(PauseTarget::Workspace, false, ""));
    h.ok_assign(1, 1);
}

#[test]
fn set_pause_pauses_and_resumes_an_agent_through_its_record() {
    let mut h = Harness::new(Limits::default());
    h.ok_assign(1, 1);
    let agent_key = (ws("acme"), AgentName::parse("bot").expect("valid agent"));
    h.ok(pause(bot(), true, "runaway"));
    let agent = h.state.agents[&agent_key].clone();
    assert_eq!((agent.spec.paused, agent.version), (true, 2));
    assert_eq!(
        h.state.audit.last().expect("audit").detail,
        "paused agent bot of workspace acme: runaway"
    );
    let message = h.refused(
        Harness::step(1, 1, responded(0, vec![], 5)),
        Code::FailedPrecondition,
    );
    assert!(message.contains("agent bot is paused"), "{message}");
    h.refused(
        Command::AssignTask {
            workspace: ws("acme"),
            task: TaskId::from_u128(7),
            node: NodeId(2),
            epoch: 2,
        },
        Code::FailedPrecondition,
    );

    h.ok(pause(bot(), false, "calmed down"));
    let agent = h.state.agents[&agent_key].clone();
    assert_eq!((agent.spec.paused, agent.version), (false, 3));
    h.refused(pause(bot(), false, ""), Code::FailedPrecondition);
    h.ok(Harness::step(1, 1, responded(0, vec![], 5)));
    assert_eq!(h.task().status, TaskStatus::Completed);
    h.refused(
        pause(
            PauseTarget::Agent(AgentName::parse("nobody").expect("valid agent")),
            true,
            "x",
        ),
        Code::NotFound,
    );
}

#[test]
fn a_paused_tool_is_denied_when_decided_until_it_is_resumed() {
    let mut h = Harness::new(Limits::default());
    let operator = h.user("user/x", &[Role::Operator]);
    h.ok_assign(1, 1);
    h.run_as(&operator, pause(append_tool(), true, "ledger audit"));
    h.ok(Harness::step(
        1,
        1,
        responded(
            0,
            vec![
                call("c1", "append", r#"{"entry":"a"}"#),
                call("c2", "get", "{}"),
            ],
            5,
        ),
    ));
    let reason = "tool tools/append is paused by user/x: ledger audit";
    assert_eq!(
        decision_of(&h, "c1"),
        CallDecision::Denied {
            rule: None,
            reason: reason.to_owned()
        }
    );
    assert_eq!(result_of(&h, "c1"), Some(format!("denied: {reason}")));
    assert!(matches!(
        decision_of(&h, "c2"),
        CallDecision::Allowed { .. }
    ));
    let open: Vec<String> = h
        .task()
        .open_calls
        .iter()
        .map(|call| call.call_id.clone())
        .collect();
    assert_eq!(open, ["c2"]);
    let audit = h.state.audit.last().expect("audit");
    assert!(audit.detail.contains(reason), "{}", audit.detail);

    h.ok(Harness::step(1, 1, started("c2", 1)));
    h.ok(Harness::step(1, 1, finished("c2", "a=1")));
    h.run_as(&operator, pause(append_tool(), false, "audited"));
    assert!(h.state.switches.is_empty());
    h.ok(Harness::step(
        1,
        1,
        responded(1, vec![call("c3", "append", r#"{"entry":"b"}"#)], 5),
    ));
    assert!(matches!(
        decision_of(&h, "c3"),
        CallDecision::Allowed { .. }
    ));
}

#[test]
fn an_opened_call_to_a_tool_paused_since_ends_with_the_pause_instead_of_starting() {
    // Started with the previous call's result: the paused call ends, the next starts.
    let mut h = Harness::new(Limits::default());
    h.ok_assign(1, 1);
    h.ok(Harness::step(
        1,
        1,
        respond_starting(
            0,
            vec![
                call("c1", "get", "{}"),
                call("c2", "append", r#"{"entry":"a"}"#),
                call("c3", "get", "{}"),
            ],
        ),
    ));
    h.ok(pause(append_tool(), true, "hold it"));
    h.ok(Harness::step(1, 1, finish_starting_next("c1")));
    assert_eq!(
        result_of(&h, "c2"),
        Some("denied: tool tools/append is paused by system: hold it".to_owned())
    );
    let task = h.task();
    assert_eq!(task.open_calls.len(), 1);
    assert_eq!(
        (
            task.open_calls[0].call_id.as_str(),
            task.open_calls[0].attempts
        ),
        ("c3", 1),
        "the next call started in the same commit"
    );
    let events = h.events();
    assert_eq!(
        events[events.len() - 3..],
        [
            "tool_call_finished",
            "tool_call_finished",
            "tool_call_started"
        ]
    );

    // Started explicitly: the step is accepted and ends the call without starting it.
    let mut h = Harness::new(Limits::default());
    h.ok_assign(1, 1);
    h.ok(Harness::step(
        1,
        1,
        responded(0, vec![call("c1", "append", r#"{"entry":"a"}"#)], 5),
    ));
    h.ok(pause(append_tool(), true, "hold it"));
    h.ok(Harness::step(1, 1, started("c1", 1)));
    assert!(h.task().open_calls.is_empty());
    assert_eq!(h.task().status, TaskStatus::Running);
    assert!(
        !h.events().contains(&"tool_call_started"),
        "{:?}",
        h.events()
    );
    assert!(result_of(&h, "c1").is_some_and(|output| output.contains("paused")));
    // The owner goes on with the next model turn.
    h.ok(Harness::step(1, 1, responded(1, vec![], 5)));
    assert_eq!(h.task().status, TaskStatus::Completed);
}

#[test]
fn who_may_pause_and_what_a_pause_needs() {
    let mut h = Harness::new(Limits::default());
    let viewer = h.user("user/vic", &[Role::Viewer]);
    match h.run_as(&viewer, pause(PauseTarget::Workspace, true, "curious")) {
        Outcome::Rejected(rejection) => {
            assert_eq!(rejection.code, Code::PermissionDenied, "{rejection}");
        }
        other => panic!("a viewer paused the workspace: {other:?}"),
    }
    assert!(h.state.switches.is_empty());
    assert_eq!(h.state.audit.last().expect("audit").action, "switch.pause");
    h.refused(
        pause(PauseTarget::Workspace, true, " "),
        Code::InvalidArgument,
    );
    h.refused(
        pause(
            PauseTarget::Tool {
                server: ServerName::parse("tools").expect("valid server"),
                tool: ToolName::parse("nope").expect("valid tool"),
            },
            true,
            "typo",
        ),
        Code::NotFound,
    );
    h.refused(pause(append_tool(), false, ""), Code::FailedPrecondition);
}
