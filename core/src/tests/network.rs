//! The built-in tools: a question to a person (`warden/ask_human`) parks the task until an
//! answer or the expiry; a delegation (`agent/<name>`) creates one child task in the
//! commit that starts the call, parks the parent until the child ends, and ends with it.

use super::fixtures::*;
use crate::memory::MemoryState;
use crate::policy::{Effect, OnExpiry, PolicyRule, PolicySet, RuleId, Subject, Target};
use crate::*;

fn name(text: &str) -> AgentName {
    AgentName::parse(text).expect("valid agent")
}

fn builtin_call(id: &str, server: &str, tool: &str, arguments: &str) -> RequestedCall {
    RequestedCall {
        call_id: id.to_owned(),
        function: format!("{server}__{tool}"),
        server: Some(ServerName::parse(server).expect("valid server")),
        tool: Some(ToolName::parse(tool).expect("valid tool")),
        arguments: arguments.to_owned(),
    }
}

fn allow(id: &str, server: &str) -> PolicyRule {
    PolicyRule {
        id: RuleId::parse(id).expect("valid rule id"),
        priority: 0,
        subject: Subject::Any,
        target: Target::Server(ServerName::parse(server).expect("valid server")),
        conditions: vec![],
        effect: Effect::Allow,
        description: String::new(),
    }
}

fn spec(agent: &str, grants: &[(&str, &str)]) -> AgentSpec {
    let mut spec = agent_spec(Limits::default());
    spec.name = name(agent);
    spec.tools = grants
        .iter()
        .map(|(server, tool)| grant(server, tool))
        .collect();
    spec
}

/// The fixture, with `bot` granted `grants`, the agents `others` (name, grants) created,
/// and a policy allowing the fixture's tools and every built-in; task 7 placed on node 1.
fn network(grants: &[(&str, &str)], others: &[(&str, &[(&str, &str)])]) -> Harness {
    let mut h = Harness::new(Limits::default());
    h.ok(Command::UpdateAgent {
        workspace: ws("acme"),
        spec: spec("bot", grants),
        expected_version: 1,
    });
    for (agent, grants) in others {
        h.ok(Command::CreateAgent {
            workspace: ws("acme"),
            spec: spec(agent, grants),
        });
    }
    let mut rules = allow_all("tools").rules;
    rules.push(allow("allow-warden", "warden"));
    rules.push(allow("allow-agents", "agent"));
    h.ok(Command::PutPolicy {
        workspace: ws("acme"),
        policy: PolicySet { rules },
        expected_version: 1,
    });
    h.ok_assign(1, 1);
    h
}

fn links(h: &Harness, task: TaskId) -> TaskLinks {
    h.state
        .task_links
        .get(&(ws("acme"), task))
        .cloned()
        .expect("links")
}

fn task(h: &Harness, id: TaskId) -> Task {
    h.state.tasks.get(&(ws("acme"), id)).cloned().expect("task")
}

fn last_result(h: &Harness, id: TaskId) -> (String, bool) {
    h.state
        .journal_of(&ws("acme"), &id)
        .into_iter()
        .rev()
        .find_map(|entry| match entry.event {
            TaskEvent::ToolCallFinished {
                output, is_error, ..
            } => Some((output, is_error)),
            _ => None,
        })
        .expect("a finished call")
}

const SEVEN: TaskId = TaskId::from_u128(7);

fn ask(h: &mut Harness, arguments: &str) {
    h.ok(Harness::step(
        1,
        1,
        responded(
            0,
            vec![builtin_call("q1", "warden", "ask_human", arguments)],
            5,
        ),
    ));
    h.ok(Harness::step(1, 1, started("q1", 1)));
}

fn answer(text: &str, question_seq: u64) -> Command {
    Command::AnswerQuestion {
        workspace: ws("acme"),
        task: SEVEN,
        call_id: "q1".to_owned(),
        question_seq,
        answer: text.to_owned(),
    }
}

fn question_seq(h: &Harness) -> u64 {
    links(h, SEVEN).question().expect("a question").seq
}

#[test]
fn a_question_parks_the_task_until_a_person_answers_it() {
    let mut h = network(&[("warden", "ask_human")], &[]);
    ask(&mut h, r#"{"question":"Ship release 4.2?"}"#);
    let parked = h.task();
    assert_eq!(parked.status, TaskStatus::WaitingForInput);
    assert_eq!(parked.owner, None, "a parked task keeps no owner");
    let question = links(&h, SEVEN).question().cloned().expect("a question");
    assert_eq!(question.question, "Ship release 4.2?");
    assert_eq!(question.on_expiry, OnExpiry::Deny);
    assert!(h.events().contains(&"question_asked"));
    assert!(
        !h.events().contains(&"tool_call_started"),
        "nothing runs a built-in"
    );

    let seq = question_seq(&h);
    assert_eq!(
        h.state.journal_of(&ws("acme"), &SEVEN)[seq as usize]
            .event
            .kind(),
        "question_asked"
    );
    let viewer = h.user("user/vera", &[Role::Viewer]);
    let outcome = h.run_as(&viewer, answer("yes", seq));
    assert!(
        matches!(&outcome, Outcome::Rejected(r) if r.code == Code::PermissionDenied),
        "{outcome:?}"
    );
    let wrong_call = Command::AnswerQuestion {
        workspace: ws("acme"),
        task: SEVEN,
        call_id: "other".to_owned(),
        question_seq: seq,
        answer: "yes".to_owned(),
    };
    h.refused(wrong_call, Code::FailedPrecondition);
    // An answer meant for another question (an earlier one under the same call id).
    let message = h.refused(answer("yes", seq - 1), Code::FailedPrecondition);
    assert!(message.contains("waits on the one at entry"), "{message}");
    h.refused(answer("  ", seq), Code::InvalidArgument);

    let approver = h.user("user/alice", &[Role::Approver]);
    let outcome = h.run_as(&approver, answer("yes, ship it", seq));
    assert!(
        matches!(outcome, Outcome::TaskUpdated { .. }),
        "{outcome:?}"
    );
    let resumed = h.task();
    assert_eq!(resumed.status, TaskStatus::Running);
    assert!(resumed.open_calls.is_empty());
    assert_eq!(last_result(&h, SEVEN), ("yes, ship it".to_owned(), false));
    assert_eq!(links(&h, SEVEN).waiting, None);
    let audit = h.state.audit.last().expect("audit");
    assert_eq!(audit.action, "question.answer");
    assert_eq!(audit.principal, "user/alice");
    h.refused(answer("again", seq), Code::FailedPrecondition);
}

#[test]
fn an_unanswered_question_expires_by_its_on_expiry() {
    for (on_expiry, status) in [("deny", TaskStatus::Running), ("fail", TaskStatus::Failed)] {
        let mut h = network(&[("warden", "ask_human")], &[]);
        ask(
            &mut h,
            &format!(r#"{{"question":"q","expires_in_seconds":60,"on_expiry":"{on_expiry}"}}"#),
        );
        let expire = Command::ExpireQuestion {
            workspace: ws("acme"),
            task: SEVEN,
            call_id: "q1".to_owned(),
        };
        h.refused(expire.clone(), Code::FailedPrecondition);
        h.time_ms += 60_000;
        let seq = question_seq(&h);
        h.refused(answer("late", seq), Code::FailedPrecondition);
        h.ok(expire);
        assert_eq!(h.task().status, status, "{on_expiry}");
        if on_expiry == "deny" {
            let (output, is_error) = last_result(&h, SEVEN);
            assert!(
                is_error && output.contains("expired unanswered"),
                "{output}"
            );
        }
    }
}

#[test]
fn a_malformed_question_is_denied_and_the_task_goes_on() {
    let mut h = network(&[("warden", "ask_human")], &[]);
    h.ok(Harness::step(
        1,
        1,
        responded(
            0,
            vec![builtin_call(
                "q1",
                "warden",
                "ask_human",
                r#"{"question":""}"#,
            )],
            5,
        ),
    ));
    assert_eq!(h.task().status, TaskStatus::Running);
    let (output, is_error) = last_result(&h, SEVEN);
    assert!(is_error && output.contains("must not be empty"), "{output}");
}

#[test]
fn without_a_grant_or_before_protocol_4_there_is_no_built_in() {
    let mut h = network(&[("tools", "append")], &[]);
    h.ok(Harness::step(
        1,
        1,
        responded(
            0,
            vec![builtin_call(
                "q1",
                "warden",
                "ask_human",
                r#"{"question":"q"}"#,
            )],
            5,
        ),
    ));
    let (output, _) = last_result(&h, SEVEN);
    assert!(
        output.contains("has no grant for warden/ask_human"),
        "{output}"
    );

    // A cluster still at protocol 3 decides as older builds do: warden is a server name.
    let mut old = MemoryState::default();
    let mut index = 0;
    let mut run = |state: &mut MemoryState, command: Command| {
        index += 1;
        state.apply(index, &request(1_000 + index * 10, command))
    };
    run(&mut old, Command::SetClusterProtocol { protocol: 3 });
    for command in setup("acme") {
        run(&mut old, command);
    }
    let outcome = run(
        &mut old,
        Command::UpdateAgent {
            workspace: ws("acme"),
            spec: spec("bot", &[("warden", "ask_human")]),
            expected_version: 1,
        },
    );
    assert!(
        matches!(&outcome, Outcome::Rejected(r) if r.code == Code::NotFound && r.message.contains("mcp server warden")),
        "{outcome:?}"
    );
    let outcome = run(&mut old, answer("yes", 3));
    assert!(
        matches!(&outcome, Outcome::Rejected(r) if r.code == Code::FailedPrecondition && r.message.contains("protocol 4")),
        "{outcome:?}"
    );
}

#[test]
fn reserved_server_names_cannot_be_registered() {
    let mut h = Harness::new(Limits::default());
    for reserved in ["warden", "agent"] {
        let message = h.refused(
            crate::fixtures::register_stdio(&ws("acme"), reserved, "tools"),
            Code::InvalidArgument,
        );
        assert!(message.contains("reserved"), "{message}");
    }
    let message = h.refused(
        Command::UpdateAgent {
            workspace: ws("acme"),
            spec: spec("bot", &[("warden", "shell")]),
            expected_version: 1,
        },
        Code::InvalidArgument,
    );
    assert!(message.contains("not a built-in tool"), "{message}");
}

fn delegate(h: &mut Harness, callee: &str, input: &str) -> TaskId {
    h.ok(Harness::step(
        1,
        1,
        responded(
            0,
            vec![builtin_call(
                "d1",
                "agent",
                callee,
                &format!(r#"{{"input":"{input}"}}"#),
            )],
            5,
        ),
    ));
    let Outcome::TaskUpdated { task, .. } = h.ok(Harness::step(1, 1, started("d1", 1))) else {
        panic!("the start journals a step")
    };
    assert_eq!(task.status, TaskStatus::WaitingForChild);
    links(h, SEVEN)
        .waiting_child()
        .map(|(_, child)| child)
        .expect("waits for a child")
}

fn step_of(task: TaskId, node: u64, epoch: u64, step: Step) -> Command {
    Command::AppendJournal {
        workspace: ws("acme"),
        task,
        node: NodeId(node),
        epoch,
        step,
    }
}

fn place(h: &mut Harness, task: TaskId, node: u64) {
    h.ok(Command::AssignTask {
        workspace: ws("acme"),
        task,
        node: NodeId(node),
        epoch: 1,
    });
}

#[test]
fn a_delegation_creates_one_child_and_its_answer_ends_the_parent_s_call() {
    let mut h = network(&[("agent", "helper")], &[("helper", &[])]);
    let child_id = delegate(&mut h, "helper", "summarize the ledger");
    let child = task(&h, child_id);
    assert_eq!(child.status, TaskStatus::Pending);
    assert_eq!(child.agent, name("helper"));
    assert_eq!(child.input, "summarize the ledger");
    assert_eq!(child.submitted_by, h.task().submitted_by);
    assert!(child.deadline_at_ms <= h.task().deadline_at_ms);
    assert_eq!(
        child.idempotency_key.as_str(),
        format!("delegate:{SEVEN}:1:d1"),
        "keyed by the parent's turn and call"
    );
    assert!(child.limits.token_budget <= h.task().limits.token_budget - h.task().tokens_used);
    let parent_link = links(&h, child_id).parent.expect("a parent");
    assert_eq!(
        (parent_link.task, parent_link.call_id.as_str()),
        (SEVEN, "d1")
    );
    assert_eq!(parent_link.lineage, vec![name("bot")]);
    assert_eq!(links(&h, SEVEN).children, vec![child_id]);

    // The child runs elsewhere and answers; the same commit finishes the parent's call.
    place(&mut h, child_id, 2);
    h.ok(step_of(child_id, 2, 1, responded(0, vec![], 40)));
    assert_eq!(task(&h, child_id).status, TaskStatus::Completed);
    let parent = h.task();
    assert_eq!(parent.status, TaskStatus::Running);
    assert_eq!(parent.owner, None, "the controller places it again");
    assert_eq!(
        parent.tokens_used,
        5 + 40,
        "the child's tokens count for the parent"
    );
    assert_eq!(last_result(&h, SEVEN), ("final answer".to_owned(), false));
    assert!(h.events().contains(&"child_ended"));
    assert_eq!(links(&h, SEVEN).waiting, None);
    // Exactly one child, ever.
    let children = h
        .state
        .tasks
        .values()
        .filter(|task| task.agent == name("helper"))
        .count();
    assert_eq!(children, 1);
}

#[test]
fn a_failed_child_is_an_error_result_and_a_cancelled_parent_cancels_its_child() {
    let mut h = network(&[("agent", "helper")], &[("helper", &[])]);
    let child_id = delegate(&mut h, "helper", "work");
    place(&mut h, child_id, 2);
    h.ok(step_of(
        child_id,
        2,
        1,
        Step::Fail {
            reason: "model unreachable".to_owned(),
        },
    ));
    let (output, is_error) = last_result(&h, SEVEN);
    assert!(is_error, "{output}");
    assert!(
        output.contains("ended failed: model unreachable"),
        "{output}"
    );

    let mut h = network(&[("agent", "helper")], &[("helper", &[])]);
    let child_id = delegate(&mut h, "helper", "work");
    h.ok(h.lifecycle("cancel"));
    let child = task(&h, child_id);
    assert_eq!(child.status, TaskStatus::Cancelled);
    assert!(
        child
            .reason
            .as_deref()
            .is_some_and(|r| r.contains(&SEVEN.to_string())),
        "{:?}",
        child.reason
    );
    assert_eq!(h.task().status, TaskStatus::Cancelled);
}

#[test]
fn delegation_cycles_and_chains_past_the_depth_limit_are_denied() {
    // bot -> helper -> bot is a cycle; so is bot -> bot.
    let mut h = network(
        &[("agent", "helper"), ("agent", "bot")],
        &[("helper", &[("agent", "bot")])],
    );
    h.ok(Harness::step(
        1,
        1,
        responded(
            0,
            vec![builtin_call("s1", "agent", "bot", r#"{"input":"x"}"#)],
            5,
        ),
    ));
    let (output, is_error) = last_result(&h, SEVEN);
    assert!(
        is_error && output.contains("delegation cycle: bot -> bot"),
        "{output}"
    );
    h.ok(Harness::step(
        1,
        1,
        responded(
            1,
            vec![builtin_call("d1", "agent", "helper", r#"{"input":"x"}"#)],
            5,
        ),
    ));
    h.ok(Harness::step(1, 1, started("d1", 1)));
    let child_id = links(&h, SEVEN).waiting_child().expect("a child").1;
    place(&mut h, child_id, 2);
    h.ok(step_of(
        child_id,
        2,
        1,
        responded(
            0,
            vec![builtin_call("c1", "agent", "bot", r#"{"input":"x"}"#)],
            5,
        ),
    ));
    let (output, is_error) = last_result(&h, child_id);
    assert!(is_error, "{output}");
    assert!(
        output.contains("delegation cycle: bot -> helper -> bot"),
        "{output}"
    );

    // a -> b -> c -> d is as deep as it goes: d may not delegate to e.
    let chain = ["bot", "b", "c", "d", "e"];
    let others: Vec<(&str, Vec<(&str, &str)>)> = chain[1..]
        .iter()
        .enumerate()
        .map(|(i, agent)| {
            (
                *agent,
                chain
                    .get(i + 2)
                    .map(|next| ("agent", *next))
                    .into_iter()
                    .collect(),
            )
        })
        .collect();
    let others: Vec<(&str, &[(&str, &str)])> = others
        .iter()
        .map(|(agent, grants)| (*agent, grants.as_slice()))
        .collect();
    let mut h = network(&[("agent", "b")], &others);
    let mut current = delegate(&mut h, "b", "x");
    for (depth, next) in ["c", "d"].into_iter().enumerate() {
        let node = 2 + depth as u64;
        place(&mut h, current, node);
        h.ok(step_of(
            current,
            node,
            1,
            responded(
                0,
                vec![builtin_call("n", "agent", next, r#"{"input":"x"}"#)],
                1,
            ),
        ));
        h.ok(step_of(current, node, 1, started("n", 1)));
        current = links(&h, current).waiting_child().expect("a child").1;
    }
    place(&mut h, current, 9);
    h.ok(step_of(
        current,
        9,
        1,
        responded(
            0,
            vec![builtin_call("n", "agent", "e", r#"{"input":"x"}"#)],
            1,
        ),
    ));
    let (output, is_error) = last_result(&h, current);
    assert!(
        is_error && output.contains("delegation too deep: bot -> b -> c -> d -> e"),
        "{output}"
    );
}

#[test]
fn a_child_s_usage_is_charged_to_the_parent_agent_s_budget_too() {
    let mut h = network(&[("agent", "helper")], &[("helper", &[])]);
    h.ok(Command::SetBudget {
        workspace: ws("acme"),
        agent: Some(name("bot")),
        tokens: Some(1_000),
        tool_calls: None,
        reset: false,
    });
    let child_id = delegate(&mut h, "helper", "work");
    place(&mut h, child_id, 2);
    h.ok(step_of(child_id, 2, 1, responded(0, vec![], 70)));
    let budget = h
        .state
        .budgets
        .get(&(ws("acme"), BudgetScope::Agent(name("bot"))))
        .cloned()
        .expect("bot's budget");
    assert_eq!(budget.tokens_used, 5 + 70);
}

#[test]
fn a_built_in_tool_can_be_paused_and_a_paused_one_is_denied() {
    let mut h = network(&[("warden", "ask_human")], &[]);
    h.ok(Command::SetPause {
        workspace: ws("acme"),
        target: PauseTarget::Tool {
            server: ServerName::parse("warden").expect("server"),
            tool: ToolName::parse("ask_human").expect("tool"),
        },
        paused: true,
        reason: "no questions during the freeze".to_owned(),
    });
    h.ok(Harness::step(
        1,
        1,
        responded(
            0,
            vec![builtin_call(
                "q1",
                "warden",
                "ask_human",
                r#"{"question":"q"}"#,
            )],
            5,
        ),
    ));
    let (output, is_error) = last_result(&h, SEVEN);
    assert!(
        is_error && output.contains("no questions during the freeze"),
        "{output}"
    );
    assert_eq!(h.task().status, TaskStatus::Running);
}

#[test]
fn a_refused_delegation_lets_the_next_call_wait_for_its_approval() {
    // helper's budget is used up when the delegation is to start; the turn's next call
    // needs approval, so the task parks on it instead of running on.
    let mut h = network(
        &[("agent", "helper"), ("tools", "append")],
        &[("helper", &[])],
    );
    let mut rules = allow_all("tools").rules;
    rules.push(allow("allow-agents", "agent"));
    rules.push(super::approval::rule(
        "appends-need-approval",
        10,
        "append",
        super::approval::approval(1, OnExpiry::Deny),
    ));
    h.ok(Command::PutPolicy {
        workspace: ws("acme"),
        policy: PolicySet { rules },
        expected_version: 2,
    });
    h.ok(Harness::step(
        1,
        1,
        responded(
            0,
            vec![
                builtin_call("d1", "agent", "helper", r#"{"input":"x"}"#),
                call("c2", "append", r#"{"entry":"e"}"#),
            ],
            5,
        ),
    ));
    h.ok(Command::SetBudget {
        workspace: ws("acme"),
        agent: Some(name("helper")),
        tokens: Some(0),
        tool_calls: None,
        reset: false,
    });
    h.ok(Harness::step(1, 1, started("d1", 1)));
    let (output, is_error) = last_result(&h, SEVEN);
    assert!(
        is_error && output.contains("token budget exhausted"),
        "{output}"
    );
    assert_eq!(h.task().status, TaskStatus::WaitingApproval);
}

#[test]
fn delegation_keys_are_kept_for_delegations_and_differ_by_turn() {
    let mut h = network(&[("agent", "helper")], &[("helper", &[])]);
    let message = h.refused(
        submit("acme", 8, &format!("delegate:{SEVEN}:1:d1"), "squat"),
        Code::InvalidArgument,
    );
    assert!(message.contains("kept for delegated tasks"), "{message}");
    let first = delegate(&mut h, "helper", "one");
    place(&mut h, first, 2);
    h.ok(step_of(first, 2, 1, responded(0, vec![], 1)));
    // The model reuses the call id d1 in its next turn: another child, another key.
    h.ok_assign(1, 2);
    h.ok(Harness::step(
        1,
        2,
        responded(
            1,
            vec![builtin_call("d1", "agent", "helper", r#"{"input":"two"}"#)],
            5,
        ),
    ));
    h.ok(Harness::step(1, 2, started("d1", 1)));
    let second = links(&h, SEVEN).waiting_child().expect("a second child").1;
    assert_ne!(first, second);
    assert_eq!(
        task(&h, second).idempotency_key.as_str(),
        format!("delegate:{SEVEN}:2:d1")
    );
}

#[test]
fn a_server_registered_as_agent_before_protocol_4_keeps_serving_its_tools() {
    let mut state = MemoryState::default();
    let mut index = 0;
    let mut run = |state: &mut MemoryState, command: Command| {
        index += 1;
        state.apply(index, &request(1_000 + index * 10, command))
    };
    run(&mut state, Command::SetClusterProtocol { protocol: 3 });
    for command in setup("acme") {
        run(&mut state, command);
    }
    let outcome = run(
        &mut state,
        crate::fixtures::register_stdio(&ws("acme"), "agent", "tools"),
    );
    assert!(
        matches!(outcome, Outcome::McpServerRegistered(_)),
        "{outcome:?}"
    );
    run(
        &mut state,
        Command::SetClusterProtocol { protocol: PROTOCOL },
    );
    // The tool `append` of the server named agent is no agent: pinned tools only.
    let mut pin = pin_tools("acme", 1);
    if let Command::PinMcpTools { name, .. } = &mut pin {
        *name = ServerName::parse("agent").expect("server");
    }
    assert!(!matches!(run(&mut state, pin), Outcome::Rejected(_)));
    let outcome = run(
        &mut state,
        Command::UpdateAgent {
            workspace: ws("acme"),
            spec: spec("bot", &[("agent", "append")]),
            expected_version: 1,
        },
    );
    assert!(matches!(outcome, Outcome::AgentSaved(_)), "{outcome:?}");
    let outcome = run(
        &mut state,
        Command::UpdateAgent {
            workspace: ws("acme"),
            spec: spec("bot", &[("agent", "nobody")]),
            expected_version: 2,
        },
    );
    assert!(
        matches!(&outcome, Outcome::Rejected(r) if r.message.contains("not registered on mcp server agent")),
        "{outcome:?}"
    );
}

#[test]
fn a_question_notifies_the_webhooks_subscribed_to_it() {
    let mut h = network(&[("warden", "ask_human")], &[]);
    h.ok(Command::PutWebhook {
        workspace: ws("acme"),
        name: WebhookName::parse("pager").expect("valid"),
        url: "https://hooks.example.com/q".to_owned(),
        events: vec![WebhookEvent::QuestionAsked],
        secret: warden_secrets::SealedSecret {
            nonce: vec![1; 24],
            ciphertext: vec![2; 48],
        },
        workspace_key: Some(warden_secrets::WrappedKey {
            master_key_id: "0011223344556677".to_owned(),
            nonce: vec![3; 24],
            ciphertext: vec![4; 48],
        }),
    });
    ask(
        &mut h,
        r#"{"question":"secret plans?","expires_in_seconds":60}"#,
    );
    let deliveries: Vec<Delivery> = h.state.deliveries.values().cloned().collect();
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    let notice = &deliveries[0].notice;
    assert_eq!(notice.event, WebhookEvent::QuestionAsked);
    assert_eq!(notice.call_id.as_deref(), Some("q1"));
    assert_eq!(notice.status, "waiting_for_input");
    assert_eq!(notice.expires_at_ms, Some(h.time_ms + 60_000));
    assert_eq!(notice.reason, None, "the question stays in Warden");
    // Older builds cannot decode the event: it needs protocol 4 to enter the log.
    let put = Command::PutWebhook {
        workspace: ws("acme"),
        name: WebhookName::parse("pager").expect("valid"),
        url: "https://hooks.example.com/q".to_owned(),
        events: vec![WebhookEvent::TaskFailed, WebhookEvent::QuestionAsked],
        secret: warden_secrets::SealedSecret {
            nonce: vec![1; 24],
            ciphertext: vec![2; 48],
        },
        workspace_key: None,
    };
    assert_eq!(put.since(), 4);
}

#[test]
fn a_parent_past_its_deadline_times_out_and_its_child_is_cancelled() {
    let mut h = network(&[("agent", "helper")], &[("helper", &[])]);
    let child_id = delegate(&mut h, "helper", "work");
    h.refused(h.lifecycle("timeout"), Code::FailedPrecondition);
    h.time_ms = h.task().deadline_at_ms;
    h.ok(h.lifecycle("timeout"));
    assert_eq!(h.task().status, TaskStatus::TimedOut);
    let child = task(&h, child_id);
    assert_eq!(child.status, TaskStatus::Cancelled);
    assert!(
        child
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("timed_out")),
        "{:?}",
        child.reason
    );
}
