//! A pinned tool whose server later offers another definition: the call is blocked,
//! the tool stays blocked until it is re-pinned, and the decision is audited.

use super::fixtures::*;
use crate::*;

fn server(h: &Harness) -> McpServer {
    h.state
        .mcp_servers
        .get(&(ws("acme"), ServerName::parse("tools").expect("valid")))
        .cloned()
        .expect("server tools")
}

fn changed(call_id: &str, offered: Hash) -> Step {
    Step::ToolDefinitionChanged {
        call_id: call_id.to_owned(),
        offered_hash: offered,
        start_next: true,
    }
}

#[test]
fn a_changed_definition_blocks_the_call_and_the_tool_until_it_is_re_pinned() {
    let mut h = Harness::new(Limits::default());
    h.ok_assign(1, 1);
    let evil = Hash::of(b"a definition nobody reviewed");
    // Not started yet: nothing to block.
    h.ok(Harness::step(
        1,
        1,
        Step::ModelResponded {
            turn: 0,
            content: String::new(),
            tool_calls: vec![call("c1", "get", r#"{"key":"a"}"#)],
            usage: Usage::default(),
            start_first: false,
        },
    ));
    h.refused(
        Harness::step(1, 1, changed("c1", evil)),
        Code::FailedPrecondition,
    );
    h.ok(Harness::step(1, 1, started("c1", 1)));
    // The offered definition must differ from the pinned one.
    let pinned = server(&h)
        .tool(&ToolName::parse("get").expect("valid"))
        .expect("pinned")
        .definition_hash();
    h.refused(
        Harness::step(1, 1, changed("c1", pinned)),
        Code::FailedPrecondition,
    );
    // Only the owner at its epoch may report it.
    h.refused(Harness::step(2, 1, changed("c1", evil)), Code::Aborted);

    h.ok(Harness::step(1, 1, changed("c1", evil)));
    let journal = h.state.journal_of(&ws("acme"), &TaskId::from_u128(7));
    assert!(journal.iter().any(|entry| matches!(
        &entry.event,
        TaskEvent::ToolDefinitionChanged { pinned_hash, offered_hash, .. } if *pinned_hash == pinned && *offered_hash == evil
    )));
    assert!(journal.iter().any(|entry| matches!(
        &entry.event,
        TaskEvent::ToolCallFinished { call_id, output, is_error: true } if call_id == "c1" && output.starts_with("blocked:")
    )));
    assert!(h.task().open_calls.is_empty());
    assert_eq!(
        server(&h).drift(&ToolName::parse("get").expect("valid")),
        Some(evil)
    );
    let audit = h.state.audit.last().expect("an audit record");
    assert!(audit.detail.contains("blocked"), "{}", audit.detail);

    // Later calls to the tool are denied before anything runs.
    h.ok(Harness::step(
        1,
        1,
        responded(1, vec![call("c2", "get", r#"{"key":"a"}"#)], 5),
    ));
    let denied = h
        .state
        .journal_of(&ws("acme"), &TaskId::from_u128(7))
        .into_iter()
        .any(|entry| matches!(
            entry.event,
            TaskEvent::ToolCallDecided { call_id, decision: CallDecision::Denied { reason, .. }, .. }
                if call_id == "c2" && reason.contains("blocked")
        ));
    assert!(denied, "a drifted tool is denied at decision time");

    // Registering the server again re-pins what it offers and lifts the block.
    let setup = setup("acme");
    let register = setup
        .into_iter()
        .find(|command| matches!(command, Command::RegisterMcpServer { .. }))
        .expect("the fixture registers a server");
    h.ok(register);
    assert!(server(&h).drifted.is_empty());
    assert!(!server(&h).pinned, "registered again, not pinned yet");
    let version = server(&h).version;
    h.ok(pin_tools("acme", version));
    assert!(server(&h).pinned);
}

#[test]
fn policy_decisions_are_written_into_the_audit_record_of_their_step() {
    let mut h = Harness::new(Limits::default());
    h.ok_assign(1, 1);
    h.ok(Harness::step(
        1,
        1,
        responded(
            0,
            vec![call("c1", "get", "{}"), call("c2", "delete", "{}")],
            5,
        ),
    ));
    let detail = &h.state.audit.last().expect("an audit record").detail;
    assert!(detail.contains("agent bot for system"), "{detail}");
    assert!(
        detail.contains("call c1 allowed by rule allow-tools"),
        "{detail}"
    );
    assert!(detail.contains("call c2 denied by no rule"), "{detail}");
}
