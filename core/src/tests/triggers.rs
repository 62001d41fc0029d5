//! Webhook triggers: a request a node verified submits the trigger's task once per
//! request key, as the trigger's own principal, within the replay window; a trigger keeps
//! its secret unless replaced, shares its name space with schedules, and keeps its agent
//! from deletion; whoever put it cannot approve its tasks' calls.

use super::fixtures::*;
use crate::trigger::REPLAY_WINDOW_MS;
use crate::*;
use warden_secrets::{SealedSecret, WrappedKey};

fn sealed(tag: u8) -> SealedSecret {
    SealedSecret {
        nonce: vec![tag; 24],
        ciphertext: vec![tag; 48],
    }
}

fn spec(name: &str, paused: bool) -> TriggerSpec {
    TriggerSpec {
        name: TriggerName::parse(name).expect("valid"),
        agent: AgentName::parse("bot").expect("valid"),
        input: "Triage this alert: {{body}}".to_owned(),
        paused,
    }
}

fn put(name: &str, secret: Option<u8>, expected_version: u64) -> Command {
    Command::PutTrigger {
        workspace: ws("acme"),
        spec: spec(name, false),
        secret: secret.map(sealed),
        expected_version,
        workspace_key: Some(WrappedKey {
            master_key_id: "0011223344556677".to_owned(),
            nonce: vec![3; 24],
            ciphertext: vec![4; 48],
        }),
    }
}

/// A request signed `signature`, named `key` when it is `Some`.
fn fire(h: &Harness, signature: &str, key: Option<&str>, signed_ms: u64, task: u128) -> Command {
    Command::FireTrigger {
        workspace: ws("acme"),
        name: TriggerName::parse("alerts").expect("valid"),
        secret: trigger(h).secret_hash(),
        signature: signature.to_owned(),
        key: key.map(str::to_owned),
        signed_ms,
        body: r#"{"alert":"disk full"}"#.to_owned(),
        task_id: TaskId::from_u128(task),
    }
}

fn trigger(h: &Harness) -> Trigger {
    h.state
        .triggers
        .values()
        .next()
        .cloned()
        .expect("a trigger")
}

fn as_node(h: &mut Harness, command: Command) -> Outcome {
    h.time_ms += 10;
    let index = h.state.applied_index + 1;
    h.state.apply(
        index,
        &Request {
            time_ms: h.time_ms,
            principal: Principal::node(NodeId(1)),
            token: None,
            command,
        },
    )
}

/// A request to `alerts` with its current secret, reported by a node.
fn fire_as_node(
    h: &mut Harness,
    signature: &str,
    key: Option<&str>,
    signed_ms: u64,
    task: u128,
) -> Outcome {
    let command = fire(h, signature, key, signed_ms, task);
    as_node(h, command)
}

fn tasks_of_trigger(h: &Harness) -> usize {
    h.state
        .tasks
        .values()
        .filter(|task| task.submitted_by.to_string() == "trigger/acme/alerts")
        .count()
}

#[test]
fn a_request_submits_one_task_as_the_trigger_s_principal() {
    let mut h = Harness::new(Limits::default());
    // A new trigger needs a secret.
    let message = h.refused(put("alerts", None, 0), Code::InvalidArgument);
    assert!(message.contains("needs a secret"), "{message}");
    h.ok(put("alerts", Some(1), 0));
    h.refused(put("alerts", Some(1), 0), Code::Aborted);

    // Only nodes report requests: not even an administrator of the workspace.
    let admin = h.user("user/ada", &[Role::Admin]);
    let now = h.time_ms;
    let outcome = h.run_as(&admin, fire(&h, "aa01", None, now, 100));
    assert!(
        matches!(&outcome, Outcome::Rejected(r) if r.code == Code::PermissionDenied),
        "{outcome:?}"
    );

    let now = h.time_ms;
    let Outcome::TriggerFired { task, .. } = fire_as_node(&mut h, "aa01", None, now, 100) else {
        panic!("fired")
    };
    assert_eq!(task.submitted_by.to_string(), "trigger/acme/alerts");
    assert!(task.idempotency_key.as_str().starts_with("trigger:alerts:"));
    assert_eq!(task.input, r#"Triage this alert: {"alert":"disk full"}"#);
    assert_eq!(trigger(&h).fired, 1);
    assert_eq!(trigger(&h).last_task, Some(task.id));
    let audit = h.state.audit.last().expect("a record");
    assert_eq!(audit.action, "trigger.fire");
    assert_eq!(audit.resource, "workspace/acme/trigger/alerts");
    assert!(
        audit.detail.contains("trigger/acme/alerts"),
        "{}",
        audit.detail
    );

    // Submissions may not take the keys triggers and schedules record requests under.
    h.refused(
        Command::SubmitTask {
            workspace: ws("acme"),
            task_id: TaskId::from_u128(99),
            idempotency_key: IdempotencyKey::parse(task.idempotency_key.as_str()).expect("key"),
            agent: AgentName::parse("bot").expect("valid"),
            input: "squat".to_owned(),
        },
        Code::InvalidArgument,
    );
    // The same request again (a replay), even under a key of the replayer's choosing:
    // refused, naming the task.
    for key in [None, Some("fresh-key")] {
        let now = h.time_ms;
        let again = fire_as_node(&mut h, "aa01", key, now, 101);
        assert!(
            matches!(&again, Outcome::Rejected(r) if r.code == Code::AlreadyExists && r.message.contains(&task.id.to_string())),
            "{again:?}"
        );
    }
    // A sender's retry, signed anew under the key it named the first attempt with: refused.
    let now = h.time_ms;
    assert!(matches!(
        fire_as_node(&mut h, "bb01", Some("delivery-7"), now, 105),
        Outcome::TriggerFired { .. }
    ));
    let now = h.time_ms;
    let retry = fire_as_node(&mut h, "bb02", Some("delivery-7"), now, 106);
    assert!(
        matches!(&retry, Outcome::Rejected(r) if r.code == Code::AlreadyExists),
        "{retry:?}"
    );
    // Signed too long ago, or too far ahead: refused whoever proposes it.
    h.time_ms += 2 * REPLAY_WINDOW_MS;
    let stale = h.time_ms + 10 - REPLAY_WINDOW_MS - 1;
    let outcome = fire_as_node(&mut h, "cc01", None, stale, 102);
    assert!(
        matches!(&outcome, Outcome::Rejected(r) if r.code == Code::FailedPrecondition && r.message.contains("signed at")),
        "{outcome:?}"
    );
    let ahead = h.time_ms + 10 + REPLAY_WINDOW_MS + 1;
    assert!(matches!(
        fire_as_node(&mut h, "cc01", None, ahead, 103),
        Outcome::Rejected(_)
    ));
    // Another request within the window: a second task.
    let now = h.time_ms;
    assert!(matches!(
        fire_as_node(&mut h, "cc01", None, now, 104),
        Outcome::TriggerFired { .. }
    ));
    assert_eq!(tasks_of_trigger(&h), 3);
}

#[test]
fn a_request_verified_with_another_secret_or_to_a_paused_trigger_is_refused() {
    let mut h = Harness::new(Limits::default());
    h.ok(put("alerts", Some(1), 0));
    let now = h.time_ms;
    let verified_with_first = fire(&h, "aa01", None, now, 100);
    // Replaced without a secret: it keeps the one it had, and requests verified with it.
    h.ok(put("alerts", None, 1));
    assert_eq!(trigger(&h).secret, sealed(1));
    let kept = fire(&h, "aa02", None, now, 101);
    assert_eq!(kept, {
        let mut same = verified_with_first.clone();
        if let Command::FireTrigger {
            signature, task_id, ..
        } = &mut same
        {
            *signature = "aa02".to_owned();
            *task_id = TaskId::from_u128(101);
        }
        same
    });
    h.ok(put("alerts", Some(2), 2));
    assert_eq!(trigger(&h).secret, sealed(2));
    let outcome = as_node(&mut h, verified_with_first.clone());
    assert!(
        matches!(&outcome, Outcome::Rejected(r) if r.message.contains("another secret")),
        "{outcome:?}"
    );
    // Deleted and created again (its version starts over): still another secret.
    h.ok(Command::DeleteTrigger {
        workspace: ws("acme"),
        name: TriggerName::parse("alerts").expect("valid"),
    });
    h.ok(put("alerts", Some(3), 0));
    assert_eq!(trigger(&h).version, 1);
    let outcome = as_node(&mut h, verified_with_first);
    assert!(
        matches!(&outcome, Outcome::Rejected(r) if r.message.contains("another secret")),
        "{outcome:?}"
    );
    h.ok(Command::PutTrigger {
        workspace: ws("acme"),
        spec: spec("alerts", true),
        secret: None,
        expected_version: 1,
        workspace_key: None,
    });
    let now = h.time_ms;
    let outcome = fire_as_node(&mut h, "aa03", None, now, 102);
    assert!(
        matches!(&outcome, Outcome::Rejected(r) if r.message.contains("paused")),
        "{outcome:?}"
    );
    assert_eq!(tasks_of_trigger(&h), 0);
    // The body goes in once: an input that would copy it many times is refused.
    let mut doubled = spec("alerts", false);
    doubled.input = "{{body}} and again {{body}}".to_owned();
    let message = h.refused(
        Command::PutTrigger {
            workspace: ws("acme"),
            spec: doubled,
            secret: None,
            expected_version: 2,
            workspace_key: None,
        },
        Code::InvalidArgument,
    );
    assert!(message.contains("once"), "{message}");
}

#[test]
fn triggers_and_schedules_share_names_and_keep_their_agent() {
    let mut h = Harness::new(Limits::default());
    h.ok(put("alerts", Some(1), 0));
    let schedule = Command::PutSchedule {
        workspace: ws("acme"),
        spec: ScheduleSpec {
            name: ScheduleName::parse("alerts").expect("valid"),
            cron: "0 9 * * *".to_owned(),
            timezone: "UTC".to_owned(),
            agent: AgentName::parse("bot").expect("valid"),
            input: String::new(),
            catch_up: CatchUp::Skip,
            paused: false,
        },
        expected_version: 0,
    };
    let message = h.refused(schedule, Code::AlreadyExists);
    assert!(message.contains("same principal"), "{message}");
    h.ok(h.lifecycle("cancel"));
    let message = h.refused(
        Command::DeleteAgent {
            workspace: ws("acme"),
            name: AgentName::parse("bot").expect("valid"),
        },
        Code::FailedPrecondition,
    );
    assert!(message.contains("used by triggers alerts"), "{message}");
    h.ok(Command::DeleteTrigger {
        workspace: ws("acme"),
        name: TriggerName::parse("alerts").expect("valid"),
    });
    assert!(h.state.triggers.is_empty());
    assert_eq!(put("alerts", Some(1), 0).since(), 5);
}

#[test]
fn whoever_put_a_trigger_cannot_approve_its_tasks_calls() {
    let mut h = super::approval::governed(1, crate::policy::OnExpiry::Deny);
    let author = h.user("user/olga", &[Role::Operator, Role::Approver]);
    let other = h.user("user/amir", &[Role::Approver]);
    assert!(matches!(
        h.run_as(&author, put("alerts", Some(1), 0)),
        Outcome::TriggerPut(_)
    ));
    let now = h.time_ms;
    let Outcome::TriggerFired { task, .. } = fire_as_node(&mut h, "aa01", None, now, 100) else {
        panic!("fired")
    };
    let task = task.id;
    // Deleting the trigger does not free its author to approve what it submitted.
    assert!(matches!(
        h.run_as(
            &author,
            Command::DeleteTrigger {
                workspace: ws("acme"),
                name: TriggerName::parse("alerts").expect("valid"),
            }
        ),
        Outcome::TriggerDeleted(_)
    ));
    h.ok(Command::AssignTask {
        workspace: ws("acme"),
        task,
        node: NodeId(1),
        epoch: 1,
    });
    h.ok(Command::AppendJournal {
        workspace: ws("acme"),
        task,
        node: NodeId(1),
        epoch: 1,
        step: responded(0, vec![call("c1", "delete", r#"{"key":"a"}"#)], 5),
    });
    let waiting = h
        .state
        .tasks
        .get(&(ws("acme"), task))
        .cloned()
        .expect("task");
    assert_eq!(waiting.status, TaskStatus::WaitingApproval);
    let hash = waiting.open_calls[0].arguments_hash;
    let decide = |approve| Command::DecideApproval {
        workspace: ws("acme"),
        task,
        call_id: "c1".to_owned(),
        arguments_hash: hash,
        approve,
        reason: "ok".to_owned(),
    };
    let outcome = h.run_as(&author, decide(true));
    assert!(
        matches!(&outcome, Outcome::Rejected(r) if r.code == Code::PermissionDenied && r.message.contains("put trigger/acme/alerts")),
        "{outcome:?}"
    );
    assert!(matches!(
        h.run_as(&other, decide(true)),
        Outcome::TaskUpdated { .. }
    ));
}
