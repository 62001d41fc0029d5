//! Policy decisions on tool calls and approvals bound to the exact call: parking,
//! votes, quorum, self-approval, argument hashes, denial and expiry.

use super::fixtures::*;
use crate::policy::{
    ApprovalRequirement, Approver, Condition, Effect, OnExpiry, PolicyRule, PolicySet, RuleId,
    Subject, Target, Test,
};
use crate::*;

pub(super) fn rule(id: &str, priority: i32, tool: &str, effect: Effect) -> PolicyRule {
    PolicyRule {
        id: RuleId::parse(id).expect("valid rule id"),
        priority,
        subject: Subject::Any,
        target: Target::Tool {
            server: ServerName::parse("tools").expect("valid server"),
            tool: ToolName::parse(tool).expect("valid tool"),
        },
        conditions: vec![],
        effect,
        description: String::new(),
    }
}

pub(super) fn approval(quorum: u32, on_expiry: OnExpiry) -> Effect {
    Effect::RequireApproval(ApprovalRequirement {
        approvers: vec![Approver::Role(Role::Approver)],
        quorum,
        expiry_ms: 60_000,
        on_expiry,
    })
}

/// Grants the fixture agent `delete` too (the fixtures leave it ungranted).
pub(super) fn grant_delete(h: &mut Harness) {
    let mut spec = agent_spec(Limits::default());
    spec.tools.push(grant("tools", "delete"));
    h.ok(Command::UpdateAgent {
        workspace: ws("acme"),
        spec,
        expected_version: 1,
    });
}

/// allow-tools (from the fixtures) at priority 0; deletes need two approvers; appends
/// of an entry starting with "rm" are denied.
pub(super) fn governed(quorum: u32, on_expiry: OnExpiry) -> Harness {
    let mut h = Harness::new(Limits::default());
    grant_delete(&mut h);
    let mut no_rm = rule("no-rm", 10, "append", Effect::Deny);
    no_rm.conditions = vec![Condition {
        path: "$.entry".to_owned(),
        test: Test::Prefix("rm".to_owned()),
    }];
    let mut rules = allow_all("tools").rules;
    rules.push(no_rm);
    rules.push(rule(
        "deletes-need-approval",
        10,
        "delete",
        approval(quorum, on_expiry),
    ));
    h.ok(Command::PutPolicy {
        workspace: ws("acme"),
        policy: PolicySet { rules },
        expected_version: 1,
    });
    h.ok_assign(1, 1);
    h
}

fn decisions(h: &Harness) -> Vec<CallDecision> {
    h.state
        .journal_of(&ws("acme"), &TaskId::from_u128(7))
        .into_iter()
        .filter_map(|entry| match entry.event {
            TaskEvent::ToolCallDecided { decision, .. } => Some(decision),
            _ => None,
        })
        .collect()
}

pub(super) fn decide(approve: bool, hash: Hash) -> Command {
    Command::DecideApproval {
        workspace: ws("acme"),
        task: TaskId::from_u128(7),
        call_id: "c3".to_owned(),
        arguments_hash: hash,
        approve,
        reason: if approve { "looks right" } else { "no" }.to_owned(),
    }
}

/// When the first open call's pending approval expires.
fn pending_expiry(h: &Harness) -> u64 {
    h.task().open_calls[0]
        .approval
        .as_ref()
        .map(|approval| approval.expires_at_ms)
        .expect("pending")
}

/// The task asks for get (allowed), append "rm -rf /" (denied) and delete (needs
/// approval); runs get, then parks on delete.
pub(super) fn park_on_delete(h: &mut Harness) -> Hash {
    h.ok(Harness::step(
        1,
        1,
        Step::ModelResponded {
            turn: 0,
            content: String::new(),
            tool_calls: vec![
                call("c1", "get", r#"{"key": "a"}"#),
                call("c2", "append", r#"{"entry": "rm -rf /"}"#),
                call("c3", "delete", r#"{"key": "a"}"#),
            ],
            usage: Usage::default(),
            start_first: true,
        },
    ));
    h.ok(Harness::step(
        1,
        1,
        Step::ToolCallFinished {
            call_id: "c1".to_owned(),
            output: "a=1".to_owned(),
            is_error: false,
            start_next: true,
        },
    ));
    h.task().open_calls[0].arguments_hash
}

#[test]
fn every_call_is_decided_by_policy_and_the_deciding_rule_is_journaled() {
    let mut h = governed(1, OnExpiry::Deny);
    park_on_delete(&mut h);
    let decided = decisions(&h);
    assert!(
        matches!(&decided[0], CallDecision::Allowed { rule, .. } if rule == "allow-tools"),
        "{decided:?}"
    );
    assert!(
        matches!(&decided[1], CallDecision::Denied { rule: Some(rule), reason } if rule == "no-rm" && reason.contains("no-rm")),
        "{decided:?}"
    );
    assert!(
        matches!(&decided[2], CallDecision::ApprovalRequired { rule, expires_at_ms, .. } if rule == "deletes-need-approval" && *expires_at_ms > 0),
        "{decided:?}"
    );
    let task = h.task();
    assert_eq!(task.status, TaskStatus::WaitingApproval);
    assert_eq!(task.owner, None, "a parked task holds no actor");
    assert!(h.events().contains(&"approval_requested"));
    // The denied call has its denial as its result and never became an open call.
    assert_eq!(task.open_calls.len(), 1);
    assert_eq!(task.open_calls[0].call_id, "c3");
}

#[test]
fn a_workspace_without_policy_denies_every_call() {
    let mut h = Harness::new(Limits::default());
    h.ok(Command::PutPolicy {
        workspace: ws("acme"),
        policy: PolicySet::default(),
        expected_version: 1,
    });
    h.ok_assign(1, 1);
    h.ok(Harness::step(
        1,
        1,
        responded(0, vec![call("c1", "get", "{}")], 5),
    ));
    assert!(
        matches!(&decisions(&h)[0], CallDecision::Denied { rule: None, reason } if reason.contains("no policy rule allows tools/get")),
        "{:?}",
        decisions(&h)
    );
    assert!(h.task().open_calls.is_empty());
}

#[test]
fn a_quorum_of_two_needs_two_distinct_eligible_approvers_and_binds_the_arguments() {
    let mut h = governed(2, OnExpiry::Deny);
    let hash = park_on_delete(&mut h);
    let ann = h.user("user/ann", &[Role::Approver]);
    let bob = h.user("user/bob", &[Role::Approver, Role::Operator]);
    let viewer = h.user("user/vic", &[Role::Viewer]);
    let waiting = h.task();

    // An approval for other arguments cannot release this call.
    let other = Hash::of(br#"{"key":"b"}"#);
    match h.run_as(&ann, decide(true, other)) {
        Outcome::Rejected(rejection) => {
            assert_eq!(rejection.code, Code::FailedPrecondition);
            assert!(rejection.message.contains("arguments hash"), "{rejection}");
        }
        other => panic!("accepted: {other:?}"),
    }
    // A viewer is refused by authorization, the submitter (system here) as the requester.
    assert!(matches!(
        h.run_as(&viewer, decide(true, hash)),
        Outcome::Rejected(Rejection {
            code: Code::PermissionDenied,
            ..
        })
    ));
    assert_eq!(h.task(), waiting, "refusals change nothing");

    h.run_as(&ann, decide(true, hash));
    assert_eq!(h.task().status, TaskStatus::WaitingApproval, "one of two");
    assert!(matches!(
        h.run_as(&ann, decide(true, hash)),
        Outcome::Rejected(Rejection {
            code: Code::AlreadyExists,
            ..
        })
    ));
    assert_eq!(
        h.task().status,
        TaskStatus::WaitingApproval,
        "same approver twice"
    );

    h.run_as(&bob, decide(true, hash));
    let task = h.task();
    assert_eq!((task.status, task.owner), (TaskStatus::Running, None));
    assert_eq!(task.open_calls[0].approval, None, "released");
    // A new owner picks it up and starts the approved call.
    h.ok_assign(2, 2);
    h.ok(Harness::step(2, 2, started("c3", 1)));
}

#[test]
fn the_requester_cannot_approve_their_own_call() {
    let mut h = Harness::new(Limits::default());
    grant_delete(&mut h);
    let ann = h.user("user/ann", &[Role::Approver, Role::Operator]);
    let mut rules = allow_all("tools").rules;
    rules.push(rule(
        "deletes-need-approval",
        10,
        "delete",
        approval(1, OnExpiry::Deny),
    ));
    h.ok(Command::PutPolicy {
        workspace: ws("acme"),
        policy: PolicySet { rules },
        expected_version: 1,
    });
    let submitted = h.run_as(&ann, submit("acme", 8, "mine", "delete a"));
    let Outcome::TaskSubmitted { task, .. } = submitted else {
        panic!("{submitted:?}");
    };
    assert_eq!(task.submitted_by, ann.0);
    let id = task.id;
    h.ok(Command::AssignTask {
        workspace: ws("acme"),
        task: id,
        node: NodeId(1),
        epoch: 1,
    });
    h.ok(Command::AppendJournal {
        workspace: ws("acme"),
        task: id,
        node: NodeId(1),
        epoch: 1,
        step: responded(0, vec![call("c3", "delete", r#"{"key":"a"}"#)], 5),
    });
    let parked = &h.state.tasks[&(ws("acme"), id)];
    assert_eq!(parked.status, TaskStatus::WaitingApproval);
    let hash = parked.open_calls[0].arguments_hash;
    match h.run_as(
        &ann,
        Command::DecideApproval {
            workspace: ws("acme"),
            task: id,
            call_id: "c3".to_owned(),
            arguments_hash: hash,
            approve: true,
            reason: "mine".to_owned(),
        },
    ) {
        Outcome::Rejected(rejection) => {
            assert_eq!(rejection.code, Code::PermissionDenied);
            assert!(rejection.message.contains("own approval"), "{rejection}");
        }
        other => panic!("self-approval accepted: {other:?}"),
    }
}

#[test]
fn a_denial_becomes_the_call_s_result_and_the_task_goes_on() {
    let mut h = governed(2, OnExpiry::Deny);
    let hash = park_on_delete(&mut h);
    let bob = h.user("user/bob", &[Role::Approver]);
    h.run_as(&bob, decide(false, hash));
    let task = h.task();
    assert_eq!((task.status, task.owner), (TaskStatus::Running, None));
    assert!(task.open_calls.is_empty());
    let journal = h.state.journal_of(&ws("acme"), &TaskId::from_u128(7));
    assert!(journal.iter().any(|entry| matches!(
        &entry.event,
        TaskEvent::ToolCallFinished { call_id, output, is_error: true } if call_id == "c3" && output.starts_with("denied by user/bob")
    )));
}

#[test]
fn an_expired_request_denies_the_call_or_fails_the_task_as_the_rule_says() {
    for (on_expiry, status) in [
        (OnExpiry::Deny, TaskStatus::Running),
        (OnExpiry::Fail, TaskStatus::Failed),
    ] {
        let mut h = governed(1, on_expiry);
        let hash = park_on_delete(&mut h);
        let expire = Command::ExpireApproval {
            workspace: ws("acme"),
            task: TaskId::from_u128(7),
            call_id: "c3".to_owned(),
        };
        h.refused(expire.clone(), Code::FailedPrecondition);
        let expires_at = pending_expiry(&h);
        h.time_ms = expires_at;
        let ann = h.user("user/ann", &[Role::Approver]);
        assert!(
            matches!(
                h.run_as(&ann, decide(true, hash)),
                Outcome::Rejected(Rejection {
                    code: Code::FailedPrecondition,
                    ..
                })
            ),
            "an expired request cannot be approved"
        );
        h.ok(expire);
        assert_eq!(h.task().status, status, "{on_expiry:?}");
        assert!(h.events().contains(&"approval_expired"));
    }
}

/// A decision stamped by a clock behind the log's (a skewed node, a new leader) counts
/// at the log's time: time in applied state never goes backwards, so an expired request
/// stays expired.
#[test]
fn a_decision_stamped_before_the_log_s_time_cannot_approve_an_expired_request() {
    let mut h = governed(1, OnExpiry::Deny);
    let hash = park_on_delete(&mut h);
    let expires_at = pending_expiry(&h);
    h.time_ms = expires_at;
    let ann = h.user("user/ann", &[Role::Approver]);
    h.time_ms = expires_at - 30_000;
    match h.run_as(&ann, decide(true, hash)) {
        Outcome::Rejected(rejection) => {
            assert_eq!(rejection.code, Code::FailedPrecondition, "{rejection}");
            assert!(rejection.message.contains("expired"), "{rejection}");
        }
        other => panic!("approved after its expiry with a clock behind: {other:?}"),
    }
    let last = h.state.audit.last().expect("an audit record");
    assert!(
        last.time_ms > expires_at,
        "the record is stamped {}",
        last.time_ms
    );
    assert!(h.task().open_calls[0].approval.is_some(), "still pending");
}

/// A refusal that quotes what the caller sent (here a 1 MiB call id) leaves a record of
/// bounded size: the chain is permanent and every node keeps it.
#[test]
fn a_refusal_quoting_a_huge_input_keeps_a_bounded_record() {
    let mut h = governed(1, OnExpiry::Deny);
    let hash = park_on_delete(&mut h);
    let ann = h.user("user/ann", &[Role::Approver]);
    let mut huge = decide(true, hash);
    if let Command::DecideApproval { call_id, .. } = &mut huge {
        *call_id = "c".repeat(1 << 20);
    }
    assert!(matches!(h.run_as(&ann, huge), Outcome::Rejected(_)));
    let last = h.state.audit.last().expect("an audit record");
    assert_eq!(last.outcome, "rejected");
    assert!(
        last.detail.len() <= crate::apply::MAX_REJECTION_DETAIL + 3,
        "a refusal's record holds {} bytes of detail",
        last.detail.len()
    );
}

#[test]
fn a_policy_is_validated_and_versioned() {
    let mut h = Harness::new(Limits::default());
    let stale = Command::PutPolicy {
        workspace: ws("acme"),
        policy: PolicySet::default(),
        expected_version: 0,
    };
    h.refused(stale, Code::Aborted);
    let mut broken = rule("bad", 0, "get", Effect::Allow);
    broken.conditions = vec![Condition {
        path: "$.a[".to_owned(),
        test: Test::Exists(true),
    }];
    let message = h.refused(
        Command::PutPolicy {
            workspace: ws("acme"),
            policy: PolicySet {
                rules: vec![broken],
            },
            expected_version: 1,
        },
        Code::InvalidArgument,
    );
    assert!(message.contains("\"bad\""), "{message}");
}

/// `decider_refusal`, which pages use to offer the decision only to those who may make
/// it, refuses exactly whom `apply()` refuses, and for the same reason.
#[test]
fn the_decider_check_agrees_with_apply() {
    let mut h = governed(2, OnExpiry::Deny);
    let hash = park_on_delete(&mut h);
    let ann = h.user("user/ann", &[Role::Approver]);
    let vic = h.user("user/vic", &[Role::Viewer]);
    let opal = h.user("user/opal", &[Role::Operator]);
    let time_ms = h.time_ms;
    let refusal = |h: &Harness, who: &(Principal, TokenId)| {
        decider_refusal(&h.state, time_ms, &who.0, &h.task()).expect("state reads")
    };
    assert_eq!(refusal(&h, &ann), None, "an approver may decide");
    for who in [&vic, &opal] {
        let listed = refusal(&h, who).expect("not an approver");
        assert_eq!(listed.code, Code::PermissionDenied, "{listed}");
        match h.run_as(who, decide(true, hash)) {
            Outcome::Rejected(applied) => assert_eq!(applied.code, listed.code),
            other => panic!("accepted: {other:?}"),
        }
    }
    h.run_as(&ann, decide(true, hash));
    let voted = refusal(&h, &ann).expect("already approved");
    assert_eq!(voted.code, Code::AlreadyExists);
    assert!(voted.message.contains("already approved"), "{voted}");
    // The submitter (system in these fixtures) may not decide its own task's call.
    let system = (Principal::system(), TokenId([0; 8]));
    let own = refusal(&h, &system).expect("own task");
    assert!(own.message.contains("own approval"), "{own}");
    h.time_ms = pending_expiry(&h);
    let expired = decider_refusal(&h.state, h.time_ms, &ann.0, &h.task())
        .expect("state reads")
        .expect("expired");
    assert!(expired.message.contains("expired"), "{expired}");
}
