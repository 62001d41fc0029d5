//! A call is decided again when it starts: after an approval released it, after a
//! failover, and when it is next in its turn. A changed decision ends it unrun, names
//! the policy version, and takes its approval with it.

use super::approval::{approval, decide, governed, park_on_delete, rule};
use super::fixtures::*;
use crate::policy::{Effect, OnExpiry, PolicySet};
use crate::*;

fn journal(h: &Harness) -> Vec<TaskEvent> {
    h.state
        .journal_of(&ws("acme"), &TaskId::from_u128(7))
        .into_iter()
        .map(|entry| entry.event)
        .collect()
}

/// The `DecisionChanged` events of task 7: call id, decision, policy version.
fn changed(h: &Harness) -> Vec<(String, CallDecision, u64)> {
    journal(h)
        .into_iter()
        .filter_map(|event| match event {
            TaskEvent::DecisionChanged {
                call_id,
                decision,
                policy_version,
                ..
            } => Some((call_id, decision, policy_version)),
            _ => None,
        })
        .collect()
}

fn started_calls(h: &Harness) -> Vec<String> {
    journal(h)
        .into_iter()
        .filter_map(|event| match event {
            TaskEvent::ToolCallStarted { call_id, .. } => Some(call_id),
            _ => None,
        })
        .collect()
}

/// The result journaled for `call_id`.
fn result_of(h: &Harness, id: &str) -> String {
    journal(h)
        .into_iter()
        .find_map(|event| match event {
            TaskEvent::ToolCallFinished {
                call_id, output, ..
            } if call_id == id => Some(output),
            _ => None,
        })
        .unwrap_or_else(|| panic!("call {id} has no result"))
}

/// The governed fixture's rules with `extra` added, stored over `version`.
fn put_rules(h: &mut Harness, extra: Vec<crate::policy::PolicyRule>, version: u64) {
    let mut rules = h
        .state
        .policies
        .get(&ws("acme"))
        .map(|stored| stored.policy.rules.clone())
        .expect("a policy");
    rules.retain(|rule| !extra.iter().any(|new| new.id == rule.id));
    rules.extend(extra);
    h.ok(Command::PutPolicy {
        workspace: ws("acme"),
        policy: PolicySet { rules },
        expected_version: version,
    });
}

/// Parks on `delete`, has it approved by one approver, and returns the arguments hash.
fn approved_delete(h: &mut Harness) -> Hash {
    let hash = park_on_delete(h);
    let ann = h.user("user/ann", &[Role::Approver]);
    h.run_as(&ann, decide(true, hash));
    assert_eq!(h.task().status, TaskStatus::Running, "released");
    hash
}

#[test]
fn a_deny_rule_added_while_a_call_waits_stops_it_when_it_starts_and_voids_its_approval() {
    let mut h = governed(1, OnExpiry::Deny);
    let hash = approved_delete(&mut h);
    // Policy version 3 denies deletes outright.
    put_rules(
        &mut h,
        vec![rule("no-deletes", 20, "delete", Effect::Deny)],
        2,
    );
    h.ok_assign(2, 2);
    h.ok(Harness::step(2, 2, started("c3", 1)));

    assert!(
        !started_calls(&h).contains(&"c3".to_owned()),
        "c3 never ran"
    );
    let changed = changed(&h);
    assert!(
        matches!(&changed[..], [(id, CallDecision::Denied { rule: Some(rule), .. }, 3)] if id == "c3" && rule == "no-deletes"),
        "{changed:?}"
    );
    let result = result_of(&h, "c3");
    assert!(
        result.starts_with("denied when it was to start"),
        "{result}"
    );
    assert!(h.task().open_calls.is_empty());

    // The approval went with the call: it releases nothing now.
    let bob = h.user("user/bob", &[Role::Approver]);
    let message = match h.run_as(&bob, decide(true, hash)) {
        Outcome::Rejected(rejection) => rejection.message,
        other => panic!("accepted: {other:?}"),
    };
    assert!(message.contains("c3"), "{message}");
}

#[test]
fn a_grant_revoked_while_a_call_waits_stops_it_when_it_starts() {
    let mut h = governed(1, OnExpiry::Deny);
    approved_delete(&mut h);
    // The fixture's grants (append, get) without delete.
    h.ok(Command::UpdateAgent {
        workspace: ws("acme"),
        spec: agent_spec(Limits::default()),
        expected_version: 2,
    });
    h.ok_assign(2, 2);
    h.ok(Harness::step(2, 2, started("c3", 1)));
    let changed = changed(&h);
    assert!(
        matches!(&changed[..], [(_, CallDecision::Denied { rule: None, reason }, 2)] if reason.contains("no grant for tools/delete")),
        "{changed:?}"
    );
    assert!(!started_calls(&h).contains(&"c3".to_owned()));
}

#[test]
fn an_approval_given_for_a_smaller_quorum_does_not_release_the_call() {
    let mut h = governed(1, OnExpiry::Deny);
    approved_delete(&mut h);
    put_rules(
        &mut h,
        vec![rule(
            "deletes-need-approval",
            10,
            "delete",
            approval(2, OnExpiry::Deny),
        )],
        2,
    );
    h.ok_assign(2, 2);
    h.ok(Harness::step(2, 2, started("c3", 1)));
    let changed = changed(&h);
    assert!(
        matches!(&changed[..], [(_, CallDecision::Denied { reason, .. }, 3)] if reason.contains("quorum 2")),
        "{changed:?}"
    );
}

#[test]
fn an_unchanged_policy_lets_the_approved_call_start_under_the_new_version() {
    let mut h = governed(1, OnExpiry::Deny);
    approved_delete(&mut h);
    // A rule about something else: the call's decision stays the same.
    put_rules(&mut h, vec![rule("no-puts", 20, "put", Effect::Deny)], 2);
    h.ok_assign(2, 2);
    h.ok(Harness::step(2, 2, started("c3", 1)));
    assert!(changed(&h).is_empty());
    let versions: Vec<u64> = journal(&h)
        .into_iter()
        .filter_map(|event| match event {
            TaskEvent::ToolCallStarted {
                call_id,
                policy_version,
                ..
            } if call_id == "c3" => Some(policy_version),
            _ => None,
        })
        .collect();
    assert_eq!(versions, [3], "the start names the policy it passed");
}

#[test]
fn every_decision_names_the_policy_version_it_was_made_under() {
    let mut h = governed(1, OnExpiry::Deny);
    park_on_delete(&mut h);
    let versions: Vec<u64> = journal(&h)
        .into_iter()
        .filter_map(|event| match event {
            TaskEvent::ToolCallDecided { policy_version, .. }
            | TaskEvent::ToolCallStarted { policy_version, .. } => Some(policy_version),
            _ => None,
        })
        .collect();
    // Three decisions and the start of c1, all under version 2.
    assert_eq!(versions, [2, 2, 2, 2]);
    let record = h.state.audit.last().expect("a record").clone();
    assert!(
        h.state
            .audit
            .iter()
            .any(|record| record.detail.contains("of policy version 2")),
        "the audit record names the version: {record:?}"
    );
}

#[test]
fn the_next_call_of_a_turn_is_decided_again_after_the_one_before_ran() {
    let mut h = Harness::new(Limits::default());
    h.ok_assign(1, 1);
    h.ok(Harness::step(
        1,
        1,
        responded(
            0,
            vec![
                call("c1", "get", r#"{"key":"a"}"#),
                call("c2", "append", r#"{"entry":"x"}"#),
            ],
            5,
        ),
    ));
    h.ok(Harness::step(1, 1, started("c1", 1)));
    // While c1 runs, appends become denied.
    let mut rules = allow_all("tools").rules;
    rules.push(rule("no-appends", 10, "append", Effect::Deny));
    h.ok(Command::PutPolicy {
        workspace: ws("acme"),
        policy: PolicySet { rules },
        expected_version: 1,
    });
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
    assert_eq!(started_calls(&h), ["c1"], "c2 did not start");
    let changed = changed(&h);
    assert!(
        matches!(&changed[..], [(id, CallDecision::Denied { rule: Some(rule), .. }, 2)] if id == "c2" && rule == "no-appends"),
        "{changed:?}"
    );
    assert!(h.task().open_calls.is_empty());
}

#[test]
fn a_retry_after_a_failover_is_decided_again() {
    let mut h = Harness::new(Limits::default());
    h.grant_get_retry_safe(Some(true), 1);
    h.get_running_on_node_1();
    // Node 1 dies with c1 running; meanwhile gets become denied.
    let mut rules = allow_all("tools").rules;
    rules.push(rule("no-gets", 10, "get", Effect::Deny));
    h.ok(Command::PutPolicy {
        workspace: ws("acme"),
        policy: PolicySet { rules },
        expected_version: 1,
    });
    h.ok_assign(2, 2);
    assert_eq!(h.task().status, TaskStatus::Running);
    h.ok(Harness::step(2, 2, started("c1", 2)));
    assert_eq!(started_calls(&h), ["c1"], "attempt 2 did not start");
    assert_eq!(changed(&h).len(), 1);
    assert!(h.task().open_calls.is_empty());
}

#[test]
fn an_interrupted_call_whose_grant_no_longer_says_retry_safe_waits_for_a_person() {
    let mut h = Harness::new(Limits::default());
    h.grant_get_retry_safe(Some(true), 1);
    h.get_running_on_node_1();
    // The grant drops retry_safe while c1 runs on node 1, which then dies.
    h.grant_get_retry_safe(None, 2);
    h.ok_assign(2, 2);
    assert_eq!(h.task().status, TaskStatus::NeedsAttention);
}
