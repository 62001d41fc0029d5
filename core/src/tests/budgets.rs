//! Budgets of tokens and tool calls per workspace and per agent: charged in the commit
//! of the model turn, exhaustion fails the task naming the budget, only opened calls
//! reserve, `reset`, removal, refused submissions and who may set them.

use super::fixtures::*;
use crate::policy::{
    ApprovalRequirement, Approver, Effect, OnExpiry, PolicyRule, PolicySet, RuleId, Subject, Target,
};
use crate::*;

fn set_budget(agent: Option<&str>, tokens: Option<u64>, tool_calls: Option<u64>) -> Command {
    Command::SetBudget {
        workspace: ws("acme"),
        agent: agent.map(|name| AgentName::parse(name).expect("valid agent")),
        tokens,
        tool_calls,
        reset: false,
    }
}

fn reset(command: Command) -> Command {
    match command {
        Command::SetBudget {
            workspace,
            agent,
            tokens,
            tool_calls,
            ..
        } => Command::SetBudget {
            workspace,
            agent,
            tokens,
            tool_calls,
            reset: true,
        },
        other => other,
    }
}

fn scope(agent: Option<&str>) -> BudgetScope {
    BudgetScope::of(
        agent
            .map(|name| AgentName::parse(name).expect("valid agent"))
            .as_ref(),
    )
}

fn budget(h: &Harness, agent: Option<&str>) -> Option<Budget> {
    h.state.budgets.get(&(ws("acme"), scope(agent))).cloned()
}

fn gets(ids: &[&str]) -> Vec<RequestedCall> {
    ids.iter()
        .map(|id| call(id, "get", r#"{"key":"a"}"#))
        .collect()
}

/// Runs turn `turn` with `calls` and `tokens`, finishing every call it opened.
fn turn(h: &mut Harness, turn: u32, calls: Vec<RequestedCall>, tokens: u64) {
    h.ok(Harness::step(1, 1, responded(turn, calls, tokens)));
    while let Some(open) = h.task().open_calls.first().cloned() {
        h.ok(Harness::step(1, 1, started(&open.call_id, 1)));
        h.ok(Harness::step(1, 1, finished(&open.call_id, "a=1")));
    }
}

#[test]
fn a_turn_that_overruns_a_budget_fails_the_task_naming_the_budget() {
    struct Case {
        name: &'static str,
        agent: Option<&'static str>,
        tokens: Option<u64>,
        tool_calls: Option<u64>,
        /// The turn that overruns: its calls and tokens (after a first turn of one call
        /// and 60 tokens).
        calls: usize,
        turn_tokens: u64,
        reason: &'static str,
    }
    let cases = [
        Case {
            name: "workspace tokens",
            agent: None,
            tokens: Some(100),
            tool_calls: None,
            calls: 1,
            turn_tokens: 50,
            reason: "workspace acme token budget exhausted: 60 of 100 used, this turn used 50",
        },
        Case {
            name: "workspace tool calls",
            agent: None,
            tokens: None,
            tool_calls: Some(3),
            calls: 3,
            turn_tokens: 5,
            reason: "workspace acme tool-call budget exhausted: 1 of 3 used, this turn asks for 3",
        },
        Case {
            name: "agent tokens",
            agent: Some("bot"),
            tokens: Some(64),
            tool_calls: Some(10),
            calls: 1,
            turn_tokens: 5,
            reason: "agent bot token budget exhausted: 60 of 64 used, this turn used 5",
        },
        Case {
            name: "agent tool calls",
            agent: Some("bot"),
            tokens: Some(1000),
            tool_calls: Some(1),
            calls: 1,
            turn_tokens: 5,
            reason: "agent bot tool-call budget exhausted: 1 of 1 used, this turn asks for 1",
        },
    ];
    for case in cases {
        let mut h = Harness::new(Limits::default());
        h.ok(set_budget(case.agent, case.tokens, case.tool_calls));
        h.ok_assign(1, 1);
        turn(&mut h, 0, gets(&["c1"]), 60);
        let spent = budget(&h, case.agent).expect("budget");
        assert_eq!(
            (spent.tokens_used, spent.tool_calls_used),
            (60, 1),
            "{}: the first turn is charged in its own commit",
            case.name
        );
        assert_eq!(h.task().status, TaskStatus::Running, "{}", case.name);

        let ids: Vec<String> = (2..2 + case.calls).map(|n| format!("c{n}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        h.ok(Harness::step(
            1,
            1,
            responded(1, gets(&ids), case.turn_tokens),
        ));
        let task = h.task();
        assert_eq!(task.status, TaskStatus::Failed, "{}", case.name);
        assert_eq!(task.reason.as_deref(), Some(case.reason), "{}", case.name);
        assert!(task.open_calls.is_empty(), "{}: no call opened", case.name);
        let events = h.events();
        assert_eq!(
            events[events.len() - 2..],
            ["model_responded", "failed"],
            "{}: the response is journaled, then the failure",
            case.name
        );
        let after = budget(&h, case.agent).expect("budget");
        assert_eq!(
            (after.tokens_used, after.tool_calls_used),
            (60 + case.turn_tokens, 1),
            "{}: the spent tokens are charged, the refused calls are not",
            case.name
        );
    }
}

#[test]
fn the_workspace_and_the_agent_budget_are_both_charged() {
    let mut h = Harness::new(Limits::default());
    h.ok(set_budget(None, Some(1000), Some(10)));
    h.ok(set_budget(Some("bot"), None, Some(10)));
    h.ok_assign(1, 1);
    turn(&mut h, 0, gets(&["c1", "c2"]), 30);
    turn(&mut h, 1, vec![], 12);
    assert_eq!(h.task().status, TaskStatus::Completed);
    for agent in [None, Some("bot")] {
        let charged = budget(&h, agent).expect("budget");
        assert_eq!(
            (charged.tokens_used, charged.tool_calls_used),
            (42, 2),
            "{agent:?}"
        );
    }
}

#[test]
fn only_calls_the_policy_allows_or_sends_for_approval_reserve_a_tool_call() {
    let mut h = Harness::new(Limits::default());
    let mut spec = agent_spec(Limits::default());
    spec.tools.push(grant("tools", "delete"));
    h.ok(Command::UpdateAgent {
        workspace: ws("acme"),
        spec,
        expected_version: 1,
    });
    let tool_rule = |id: &str, tool: &str, effect| PolicyRule {
        id: RuleId::parse(id).expect("valid rule id"),
        priority: 10,
        subject: Subject::Any,
        target: Target::Tool {
            server: ServerName::parse("tools").expect("valid server"),
            tool: ToolName::parse(tool).expect("valid tool"),
        },
        conditions: vec![],
        effect,
        description: String::new(),
    };
    let mut rules = allow_all("tools").rules;
    rules.push(tool_rule("no-append", "append", Effect::Deny));
    rules.push(tool_rule(
        "deletes-need-approval",
        "delete",
        Effect::RequireApproval(ApprovalRequirement {
            approvers: vec![Approver::Role(Role::Approver)],
            quorum: 1,
            expiry_ms: 60_000,
            on_expiry: OnExpiry::Deny,
        }),
    ));
    h.ok(Command::PutPolicy {
        workspace: ws("acme"),
        policy: PolicySet { rules },
        expected_version: 1,
    });
    h.ok(set_budget(None, None, Some(2)));
    h.ok_assign(1, 1);
    let mut unknown = call("c4", "get", "{}");
    unknown.function = "nowhere__thing".to_owned();
    (unknown.server, unknown.tool) = (None, None);
    h.ok(Harness::step(
        1,
        1,
        responded(
            0,
            vec![
                call("c1", "get", "{}"),
                call("c2", "append", r#"{"entry":"x"}"#),
                call("c3", "delete", r#"{"key":"a"}"#),
                unknown,
            ],
            5,
        ),
    ));
    let task = h.task();
    assert_ne!(task.status, TaskStatus::Failed, "{:?}", task.reason);
    assert_eq!(task.open_calls.len(), 2, "get and delete are open");
    assert_eq!(
        budget(&h, None).expect("budget").tool_calls_used,
        2,
        "the allowed and the approval call reserve; the two denied ones do not"
    );
}

#[test]
fn reset_zeroes_the_usage_and_both_limits_unset_remove_the_budget() {
    let mut h = Harness::new(Limits::default());
    let limits = set_budget(None, Some(500), Some(5));
    h.ok(limits.clone());
    let since = budget(&h, None).expect("budget").counting_since_ms;
    h.ok_assign(1, 1);
    turn(&mut h, 0, gets(&["c1"]), 40);

    // Changing the limits keeps what was used, and when counting started.
    h.ok(set_budget(None, Some(400), None));
    let changed = budget(&h, None).expect("budget");
    assert_eq!(
        (changed.tokens, changed.tool_calls),
        (Some(400), None),
        "limits are replaced"
    );
    assert_eq!(
        (
            changed.tokens_used,
            changed.tool_calls_used,
            changed.counting_since_ms
        ),
        (40, 1, since)
    );

    h.ok(reset(limits));
    let reset = budget(&h, None).expect("budget");
    assert_eq!((reset.tokens_used, reset.tool_calls_used), (0, 0));
    assert!(reset.counting_since_ms > since);
    assert_eq!(reset.set_by, Principal::system());
    let detail = &h.state.audit.last().expect("audit").detail;
    assert!(
        detail.contains("budget of workspace acme: tokens 500, tool calls 5"),
        "{detail}"
    );

    h.ok(set_budget(None, None, None));
    assert_eq!(budget(&h, None), None, "removed");
    assert_eq!(
        h.state.audit.last().expect("audit").detail,
        "budget of workspace acme removed"
    );
    // Without a budget the next turn is not limited.
    turn(&mut h, 1, gets(&["c2"]), 10_000);
    assert_eq!(h.task().status, TaskStatus::Running);
    h.refused(set_budget(Some("nobody"), Some(1), None), Code::NotFound);
}

#[test]
fn a_submission_is_refused_while_a_budget_is_used_up() {
    // A final answer completes even when its tokens reach the limit; they are charged.
    let mut h = Harness::new(Limits::default());
    h.ok(set_budget(None, Some(50), None));
    h.ok_assign(1, 1);
    turn(&mut h, 0, vec![], 50);
    assert_eq!(h.task().status, TaskStatus::Completed);
    let message = h.refused(submit("acme", 8, "k2", "more"), Code::ResourceExhausted);
    assert!(
        message.contains("workspace acme token budget exhausted: 50 of 50 used"),
        "{message}"
    );
    // A retry of the earlier submission still finds its task.
    assert!(matches!(
        h.ok(submit("acme", 9, "k", "do the thing")),
        Outcome::TaskSubmitted {
            deduplicated: true,
            ..
        }
    ));
    h.ok(reset(set_budget(None, Some(50), None)));
    h.ok(submit("acme", 8, "k2", "more"));

    let mut h = Harness::new(Limits::default());
    h.ok(set_budget(Some("bot"), None, Some(1)));
    h.ok_assign(1, 1);
    turn(&mut h, 0, gets(&["c1"]), 5);
    let message = h.refused(submit("acme", 8, "k2", "more"), Code::ResourceExhausted);
    assert!(
        message.contains("agent bot tool-call budget exhausted: 1 of 1 used"),
        "{message}"
    );
}

#[test]
fn only_an_admin_sets_budgets() {
    let mut h = Harness::new(Limits::default());
    let operator = h.user("user/ops", &[Role::Operator]);
    let admin = h.user("user/boss", &[Role::Admin]);
    match h.run_as(&operator, set_budget(None, Some(10), None)) {
        Outcome::Rejected(rejection) => {
            assert_eq!(rejection.code, Code::PermissionDenied, "{rejection}");
        }
        other => panic!("an operator set a budget: {other:?}"),
    }
    assert_eq!(budget(&h, None), None);
    let audit = h.state.audit.last().expect("audit");
    assert_eq!(
        (audit.action.as_str(), audit.resource.as_str()),
        ("budget.set", "workspace/acme/budget")
    );
    let set = h.run_as(&admin, set_budget(Some("bot"), Some(10), None));
    assert!(
        matches!(&set, Outcome::BudgetSet { budget: Some(budget), .. } if budget.set_by == admin.0),
        "{set:?}"
    );
    assert_eq!(
        h.state.audit.last().expect("audit").resource,
        "workspace/acme/agent/bot/budget"
    );
}
