//! Webhooks: registration checks, the outbox `apply()` writes with the events it tells
//! about, and attempts recorded once, in order, by nodes only.

use warden_secrets::{SealedSecret, WrappedKey};

use super::approval::{decide, governed, park_on_delete};
use super::fixtures::*;
use crate::policy::OnExpiry;
use crate::*;

pub(super) fn put(name: &str, url: &str, events: &[WebhookEvent]) -> Command {
    Command::PutWebhook {
        workspace: ws("acme"),
        name: WebhookName::parse(name).expect("valid webhook name"),
        url: url.to_owned(),
        events: events.to_vec(),
        secret: SealedSecret {
            nonce: vec![1; 24],
            ciphertext: vec![2; 48],
        },
        workspace_key: Some(WrappedKey {
            master_key_id: "0011223344556677".to_owned(),
            nonce: vec![3; 24],
            ciphertext: vec![4; 48],
        }),
    }
}

fn deliveries(h: &Harness) -> Vec<Delivery> {
    h.state.deliveries.values().cloned().collect()
}

fn attempt(id: DeliveryId, attempt: u32, result: AttemptResult) -> Command {
    Command::RecordDeliveryAttempt {
        workspace: ws("acme"),
        delivery: id,
        attempt,
        result,
    }
}

#[test]
fn an_approval_request_and_its_decision_each_write_one_delivery_per_subscribed_webhook() {
    let mut h = governed(1, OnExpiry::Deny);
    h.ok(put(
        "pager",
        "https://hooks.example.com/warden",
        &[
            WebhookEvent::ApprovalDecided,
            WebhookEvent::ApprovalRequested,
        ],
    ));
    h.ok(put(
        "failures",
        "https://hooks.example.com/f",
        &[WebhookEvent::TaskFailed],
    ));
    let hash = park_on_delete(&mut h);
    let requested = deliveries(&h);
    assert_eq!(requested.len(), 1, "{requested:?}");
    let request = &requested[0];
    assert_eq!(request.webhook.as_str(), "pager");
    assert_eq!(
        request.id.log_index, h.state.applied_index,
        "id from the event's entry"
    );
    assert_eq!(
        request.state,
        DeliveryState::Pending {
            next_attempt_ms: h.time_ms
        }
    );
    let notice = &request.notice;
    assert_eq!(notice.event, WebhookEvent::ApprovalRequested);
    assert_eq!(notice.task, TaskId::from_u128(7));
    assert_eq!(notice.call_id.as_deref(), Some("c3"));
    assert_eq!(notice.tool.as_ref().map(ToolName::as_str), Some("delete"));
    assert_eq!(notice.arguments_hash, Some(hash));
    assert_eq!(notice.rule.as_deref(), Some("deletes-need-approval"));
    assert_eq!(notice.status, "waiting_approval");

    let approver = h.user("user/ann", &[Role::Approver]);
    let outcome = h.run_as(&approver, decide(true, hash));
    assert!(
        matches!(outcome, Outcome::TaskUpdated { .. }),
        "{outcome:?}"
    );
    let all = deliveries(&h);
    assert_eq!(all.len(), 2, "{all:?}");
    let decided = &all[1].notice;
    assert_eq!(decided.event, WebhookEvent::ApprovalDecided);
    assert_eq!(decided.approved, Some(true));
    assert_eq!(decided.by.as_ref().map(Principal::as_str), Some("user/ann"));
    assert_eq!(decided.tool.as_ref().map(ToolName::as_str), Some("delete"));
    assert_eq!(decided.rule.as_deref(), Some("deletes-need-approval"));
}

#[test]
fn one_vote_short_of_the_quorum_is_no_decision_yet() {
    let mut h = governed(2, OnExpiry::Deny);
    h.ok(put(
        "pager",
        "https://hooks.example.com/w",
        &[WebhookEvent::ApprovalDecided],
    ));
    let hash = park_on_delete(&mut h);
    let approver = h.user("user/ann", &[Role::Approver]);
    h.run_as(&approver, decide(true, hash));
    assert!(deliveries(&h).is_empty(), "{:?}", deliveries(&h));
    let second = h.user("user/bob", &[Role::Approver]);
    h.run_as(&second, decide(false, hash));
    let all = deliveries(&h);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].notice.approved, Some(false), "a denial decides");
}

#[test]
fn attempts_are_recorded_once_and_in_order_by_nodes_only() {
    let mut h = governed(1, OnExpiry::Deny);
    h.ok(put(
        "pager",
        "https://hooks.example.com/w",
        &[WebhookEvent::ApprovalRequested],
    ));
    park_on_delete(&mut h);
    let id = deliveries(&h)[0].id;
    let retry = AttemptResult::Retry {
        error: "HTTP 500".to_owned(),
        next_attempt_ms: 99_000,
    };
    h.ok(attempt(id, 1, retry.clone()));
    let after = deliveries(&h).remove(0);
    assert_eq!(
        after.state,
        DeliveryState::Pending {
            next_attempt_ms: 99_000
        }
    );
    assert_eq!(
        (after.attempts, after.last_error.as_deref()),
        (1, Some("HTTP 500"))
    );
    // A second report of the same attempt (a deposed leader's) changes nothing.
    let message = h.refused(attempt(id, 1, retry), Code::Aborted);
    assert!(message.contains("expects attempt 2"), "{message}");
    let user = h.user("user/ann", &[Role::Admin]);
    let outcome = h.run_as(
        &user,
        attempt(id, 2, AttemptResult::Delivered { status: 204 }),
    );
    assert!(
        matches!(&outcome, Outcome::Rejected(r) if r.code == Code::PermissionDenied),
        "{outcome:?}"
    );
    h.ok(attempt(id, 2, AttemptResult::Delivered { status: 204 }));
    let delivered = deliveries(&h).remove(0);
    assert_eq!(delivered.state, DeliveryState::Delivered { status: 204 });
    assert_eq!(delivered.last_error, None);
    let message = h.refused(
        attempt(
            id,
            3,
            AttemptResult::GaveUp {
                error: "late".into(),
            },
        ),
        Code::FailedPrecondition,
    );
    assert!(message.contains("delivered already"), "{message}");
    let audit = h
        .state
        .audit
        .iter()
        .rev()
        .find(|r| r.action == "webhook.deliver" && r.outcome == "accepted");
    assert!(
        audit.is_some_and(|record| record.detail.contains("attempt 2: delivered (204)")),
        "{audit:?}"
    );
}

#[test]
fn a_webhook_is_checked_before_it_is_stored() {
    let mut h = Harness::new(Limits::default());
    let requested = [WebhookEvent::ApprovalRequested];
    for (command, code, needle) in [
        (
            put("a", "ftp://x", &requested),
            Code::InvalidArgument,
            "must start with http",
        ),
        (
            put("a", "https://user:pw@hooks.example.com/", &requested),
            Code::InvalidArgument,
            "user name or password",
        ),
        (
            // Extra slashes: the URL parser (as the sender's) still finds the userinfo.
            put("a", "https:///alice:pw@hooks.example.com/x", &requested),
            Code::InvalidArgument,
            "user name or password",
        ),
        (
            put("a", "https://x/", &[]),
            Code::InvalidArgument,
            "at least one event",
        ),
        (
            put(
                "a",
                "https://x/",
                &[WebhookEvent::TaskFailed, WebhookEvent::TaskFailed],
            ),
            Code::InvalidArgument,
            "twice",
        ),
        (
            put("a", &format!("https://x/{}", "p".repeat(3000)), &requested),
            Code::InvalidArgument,
            "at most 2048 bytes",
        ),
        (
            Command::DeleteWebhook {
                workspace: ws("acme"),
                name: WebhookName::parse("nope").expect("valid"),
            },
            Code::NotFound,
            "webhook nope not found",
        ),
    ] {
        let message = h.refused(command, code);
        assert!(message.contains(needle), "{message}");
    }
    assert!(h.state.webhooks.is_empty());
    let Outcome::WebhookPut(first) = h.ok(put("a", "https://x/", &requested)) else {
        panic!("put")
    };
    let Outcome::WebhookPut(second) = h.ok(put("a", "https://y/", &requested)) else {
        panic!("put again")
    };
    assert_eq!((first.version, second.version), (1, 2));
    assert_eq!(
        first.created_index, second.created_index,
        "kept when replaced"
    );
    assert_eq!(second.url, "https://y/", "stored as parsed");
    h.ok(Command::DeleteWebhook {
        workspace: ws("acme"),
        name: WebhookName::parse("a").expect("valid"),
    });
    assert!(h.state.webhooks.is_empty());
}

#[test]
fn webhooks_wait_for_protocol_3() {
    let mut state = crate::memory::MemoryState::default();
    for (index, command) in setup("acme").into_iter().enumerate() {
        state.apply(index as u64 + 1, &request(1_000, command));
    }
    let index = state.applied_index + 1;
    let outcome = state.apply(
        index,
        &request(2_000, put("a", "https://x/", &[WebhookEvent::TaskFailed])),
    );
    assert!(
        matches!(&outcome, Outcome::Rejected(r) if r.code == Code::FailedPrecondition && r.message.contains("needs cluster protocol 3")),
        "{outcome:?}"
    );
}

#[test]
fn a_workspace_holds_at_most_16_webhooks() {
    let mut h = Harness::new(Limits::default());
    for n in 0..16 {
        h.ok(put(
            &format!("hook-{n}"),
            "https://x/",
            &[WebhookEvent::TaskFailed],
        ));
    }
    let message = h.refused(
        put("one-more", "https://x/", &[WebhookEvent::TaskFailed]),
        Code::ResourceExhausted,
    );
    assert!(message.contains("16 webhooks"), "{message}");
    // Replacing one is no new one.
    h.ok(put("hook-3", "https://y/", &[WebhookEvent::TaskFailed]));
}

#[test]
fn a_delivered_report_ends_a_delivery_a_deposed_leader_reported_first() {
    let mut h = governed(1, OnExpiry::Deny);
    h.ok(put(
        "pager",
        "https://hooks.example.com/w",
        &[WebhookEvent::ApprovalRequested],
    ));
    park_on_delete(&mut h);
    let id = deliveries(&h)[0].id;
    // Both leaders sent attempt 1; the deposed one's failure was recorded first.
    h.ok(attempt(
        id,
        1,
        AttemptResult::Retry {
            error: "timed out".into(),
            next_attempt_ms: 50_000,
        },
    ));
    h.ok(attempt(id, 1, AttemptResult::Delivered { status: 200 }));
    let delivered = deliveries(&h).remove(0);
    assert_eq!(delivered.state, DeliveryState::Delivered { status: 200 });
    assert_eq!(delivered.attempts, 1);
}
