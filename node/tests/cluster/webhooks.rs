//! Webhooks on a real cluster, against a receiver on loopback: every delivery signed
//! with the webhook's secret and linking to the console page of its call, retried after
//! the receiver answers 500, recorded attempt by attempt, and sent once per event across
//! a leader's death (the new leader sends only what no attempt delivered).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use warden_client::{Client, Consistency};
use warden_proto::v1::{Delivery, TaskStatus, Webhook};

use crate::common::agents::scripted_model;
use crate::common::{error_code, eventually};
use crate::governance::{WS, configure, pending_approval, settled, stdio_ledger, submit};

const SECRET: &str = "a-secret-of-at-least-16-bytes";

/// One request the receiver got, and what it answered.
#[derive(Debug, Clone)]
struct Received {
    delivery: String,
    event: String,
    signature: String,
    body: Vec<u8>,
    answered: u16,
}

#[derive(Default)]
struct Inbox {
    received: Vec<Received>,
    /// Answer 500 to this many more requests.
    fail_next: usize,
    /// Answer 500 to every request for this event while set.
    failing_event: Option<String>,
}

/// An HTTP receiver on loopback that records every request.
struct Receiver {
    inbox: Arc<Mutex<Inbox>>,
    url: String,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Receiver {
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("receiver");
        });
        Receiver { inbox, url, server }
    }

    fn inbox(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.inbox.lock().expect("inbox")
    }

    fn received(&self) -> Vec<Received> {
        self.inbox().received.clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn receive(
    State(inbox): State<Arc<Mutex<Inbox>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut inbox = inbox.lock().expect("inbox");
    let event = header("x-warden-event");
    let fail = if inbox.fail_next > 0 {
        inbox.fail_next -= 1;
        true
    } else {
        inbox.failing_event.as_deref() == Some(event.as_str())
    };
    let answered = if fail {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    };
    inbox.received.push(Received {
        delivery: header("x-warden-delivery"),
        event,
        signature: header("x-warden-signature"),
        body: body.to_vec(),
        answered: answered.as_u16(),
    });
    answered
}

/// Checks `received`'s signature as a receiver would: `t=<ms>,v1=<hex HMAC-SHA256 of
/// "<t>.<body>">` under the secret.
fn signature_holds(received: &Received, secret: &str) -> bool {
    let Some((t, v1)) = received
        .signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let Ok(expected) = hex::decode(v1) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(&received.body);
    mac.verify_slice(&expected).is_ok()
}

fn body_of(received: &Received) -> serde_json::Value {
    serde_json::from_slice(&received.body).expect("a JSON body")
}

async fn deliveries(client: &Client) -> Vec<Delivery> {
    client
        .list_deliveries(WS, "", 100, Consistency::Linearizable)
        .await
        .expect("list deliveries")
        .deliveries
}

async fn delivery_where(
    client: &Client,
    what: &str,
    holds: impl Fn(&Delivery) -> bool,
) -> Delivery {
    eventually(what, Duration::from_secs(30), || {
        let holds = &holds;
        async move {
            deliveries(client)
                .await
                .into_iter()
                .find(|delivery| holds(delivery))
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_signed_retried_recorded_and_sent_once_across_a_leader_failover() {
    let mut cluster = crate::common::start(
        3,
        &[
            ("webhooks.retry_delay", "1s"),
            ("webhooks.max_retry_delay", "2s"),
            ("console.public_url", "https://console.example.com/"),
        ],
    )
    .await;
    let receiver = Receiver::start().await;
    let admin = cluster.client().expect("client");
    let model = scripted_model(serde_json::json!({
        "steps": [{"tool_calls": [{"name": "ledger__put",
                                   "arguments": {"key": "payroll/carol", "value": "+700"}}]}],
        "final": "paid",
    }))
    .await;
    let ledger = cluster.tools_dir().join("ledger.jsonl");
    configure(
        &admin,
        &model.base_url(),
        stdio_ledger(&ledger, &[]),
        &["put"],
    )
    .await;
    let webhook = |url: &str| Webhook {
        workspace: WS.into(),
        name: "pager".into(),
        url: url.into(),
        events: vec!["approval.requested".into(), "approval.decided".into()],
        ..Default::default()
    };
    // A URL this node's egress rules refuse is not stored (link-local: cloud metadata).
    let refused = admin
        .put_webhook(webhook("http://169.254.169.254/latest"), SECRET)
        .await;
    assert_eq!(error_code(refused), tonic::Code::PermissionDenied);
    let short = admin.put_webhook(webhook(&receiver.url), "short").await;
    assert_eq!(error_code(short), tonic::Code::InvalidArgument);
    // A fresh cluster raises its protocol to this build's within a few heartbeats.
    let stored = eventually("the webhook to be stored", Duration::from_secs(30), || {
        let admin = &admin;
        let webhook = webhook(&receiver.url);
        async move { admin.put_webhook(webhook, SECRET).await.ok() }
    })
    .await
    .webhook
    .expect("the stored webhook");
    assert_eq!(stored.events, ["approval.requested", "approval.decided"]);
    let listed = admin
        .list_webhooks(WS, Consistency::Linearizable)
        .await
        .expect("list webhooks")
        .webhooks;
    assert_eq!(listed, [stored.clone()], "the secret is never shown");
    let local = admin
        .list_webhooks(WS, Consistency::Local)
        .await
        .expect("list webhooks as the serving node applied them")
        .webhooks;
    assert!(local.is_empty() || local == listed, "{local:?}");

    // The receiver fails the first two attempts of the approval request.
    receiver.inbox().fail_next = 2;
    let approver = crate::common::approver_client(&admin, WS).await;
    let task = submit(&admin, "pay-carol").await;
    let pending = pending_approval(&admin, &task.id).await;
    let requested = delivery_where(&admin, "the request's delivery", |delivery| {
        delivery.event == "approval.requested" && delivery.state == "delivered"
    })
    .await;
    assert_eq!(
        (requested.attempts, requested.status),
        (3, 204),
        "{requested:?}"
    );
    assert_eq!(requested.task_id, task.id);
    assert_eq!(requested.call_id, pending.call_id);
    let sent: Vec<Received> = receiver
        .received()
        .into_iter()
        .filter(|received| received.delivery == requested.id)
        .collect();
    let answers: Vec<u16> = sent.iter().map(|received| received.answered).collect();
    assert_eq!(answers, [500, 500, 204], "retried after each 500");
    for received in &sent {
        assert!(signature_holds(received, SECRET), "{received:?}");
        assert!(!signature_holds(received, "another-secret-entirely"));
        assert_eq!(received.event, "approval.requested");
    }
    let body = body_of(&sent[0]);
    assert_eq!(body["id"], requested.id.as_str());
    assert_eq!(body["event"], "approval.requested");
    assert_eq!(body["task_id"], task.id.as_str());
    assert_eq!(body["tool"], "put");
    assert_eq!(body["rule"], "payroll");
    assert_eq!(body["arguments_hash"], pending.arguments_hash.as_str());
    assert_eq!(
        body["links"]["task"],
        format!(
            "https://console.example.com/console/w/{WS}/tasks/{}#call-{}",
            task.id, pending.call_id
        )
    );

    // The decision's first attempt fails; once it is recorded the leader dies, and the
    // new leader sends the delivery again, under the same id, and nothing else twice.
    receiver.inbox().failing_event = Some("approval.decided".into());
    approver
        .decide_approval(
            WS,
            &pending.task_id,
            &pending.call_id,
            &pending.arguments_hash,
            true,
            "agreed",
        )
        .await
        .expect("approve");
    let failed_once = delivery_where(&admin, "the decision's first attempt", |delivery| {
        delivery.event == "approval.decided" && delivery.attempts >= 1
    })
    .await;
    assert_eq!(failed_once.state, "pending", "{failed_once:?}");
    assert_eq!(failed_once.last_error, "HTTP 500 Internal Server Error");
    // The task finishes first: its approved put is not retry-safe, so a leader killed
    // while it ran the put would leave the task needing attention, which is not what
    // this test is about. The decision's delivery stays pending meanwhile (the receiver
    // keeps failing it).
    let done = settled(&admin, &task.id).await;
    assert_eq!(done.status, i32::from(TaskStatus::Completed), "{done:?}");
    let leader = cluster
        .wait_for_leader(Duration::from_secs(10))
        .await
        .expect("a leader");
    cluster.kill(leader).await.expect("kill the leader");
    receiver.inbox().failing_event = None;
    let survivor = (1..=3).find(|id| *id != leader).expect("a surviving node");
    let survivors = cluster.client_of(survivor).expect("client");
    let decided = delivery_where(&survivors, "the decision delivered", |delivery| {
        delivery.event == "approval.decided" && delivery.state == "delivered"
    })
    .await;
    assert_eq!(decided.id, failed_once.id);

    // Every event was delivered exactly once, and every attempt sent was recorded.
    let received = receiver.received();
    let mut by_delivery: BTreeMap<&str, Vec<&Received>> = BTreeMap::new();
    for one in &received {
        by_delivery
            .entry(one.delivery.as_str())
            .or_default()
            .push(one);
    }
    let recorded = deliveries(&survivors).await;
    assert_eq!(recorded.len(), 2, "one per event: {recorded:?}");
    assert_eq!(by_delivery.len(), 2, "{received:?}");
    for delivery in &recorded {
        let sent = &by_delivery[delivery.id.as_str()];
        let delivered = sent.iter().filter(|one| one.answered == 204).count();
        assert_eq!(delivered, 1, "delivered once: {sent:?}");
        assert_eq!(
            sent.len(),
            usize::try_from(delivery.attempts).expect("attempts"),
            "every attempt sent was recorded: {delivery:?}"
        );
        assert!(sent.iter().all(|one| signature_holds(one, SECRET)));
    }
    let decision = body_of(by_delivery[decided.id.as_str()][0]);
    assert_eq!(decision["approved"], true);
    assert_eq!(decision["by"], "user/approver");
    assert_eq!(decision["reason"], "agreed");
    drop(model);
}
