//! Webhook triggers on a real cluster: a signed request to any node's web listener
//! submits one task as the trigger's principal; the same request again (a replay within
//! the window, on another node), one signed with another secret, one with a body other
//! than the one signed, one for a trigger that does not exist and one signed too long ago
//! submit nothing, and only the accepted requests reach the audit chain.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use warden_client::Consistency;
use warden_local_cluster::LocalCluster;
use warden_proto::v1::{AgentLimits, TaskStatus, Trigger};

use crate::common::agents::{ProviderSpec, Workspace, scripted_model};
use crate::common::allow_every_call;
use crate::common::console::{CONSOLE_ON, console_url};

const WS: &str = "hooked";
const SECRET: &str = "a secret of the alerts trigger";

fn now_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    u64::try_from(since.as_millis()).expect("fits")
}

/// `X-Warden-Signature` for `body` signed at `time_ms` with `secret`.
fn signature(secret: &str, time_ms: u64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{time_ms}.{body}").as_bytes());
    format!(
        "t={time_ms},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

struct Sent {
    status: u16,
    body: serde_json::Value,
}

struct Sender {
    http: reqwest::Client,
}

impl Sender {
    fn new(cluster: &LocalCluster) -> Sender {
        let mut builder = reqwest::Client::builder();
        if let Some(ca) = cluster.ca_path() {
            let pem = std::fs::read(&ca).expect("read the cluster CA");
            builder =
                builder.add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("CA"));
        }
        Sender {
            http: builder.build().expect("http client"),
        }
    }

    async fn post(
        &self,
        cluster: &LocalCluster,
        node: u64,
        trigger: &str,
        signature: &str,
        key: Option<&str>,
        body: &str,
    ) -> Sent {
        let url = format!("{}/hooks/{WS}/{trigger}", console_url(cluster, node));
        let mut request = self
            .http
            .post(url)
            .header("x-warden-signature", signature)
            .body(body.to_owned());
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let response = request.send().await.expect("the node answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        Sent {
            status,
            body: serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_request_submits_one_task_and_replays_and_forgeries_none() {
    let cluster = crate::common::start(3, &[CONSOLE_ON]).await;
    let admin = cluster.client().expect("client");
    admin.create_workspace(WS).await.expect("workspace");
    allow_every_call(&admin, WS).await;
    let model = scripted_model(serde_json::json!({"steps": [], "final": "triaged"})).await;
    let workspace = Workspace::new(admin.clone(), WS);
    workspace
        .put_provider(ProviderSpec {
            name: "model",
            kind: "openai",
            base_url: model.base_url(),
            request_timeout_ms: 30_000,
            max_retries: 0,
        })
        .await;
    workspace
        .create_agent("triage", "model", &[], AgentLimits::default())
        .await;
    let put = admin
        .put_trigger(
            Trigger {
                workspace: WS.into(),
                name: "alerts".into(),
                agent: "triage".into(),
                input: "Triage: {{body}}".into(),
                ..Trigger::default()
            },
            0,
            SECRET,
        )
        .await
        .expect("put trigger")
        .trigger
        .expect("the trigger");
    assert_eq!(put.path, format!("/hooks/{WS}/alerts"));
    // A new trigger needs a secret; a short one is refused, naming the field.
    let error = admin
        .put_trigger(
            Trigger {
                workspace: WS.into(),
                name: "other".into(),
                agent: "triage".into(),
                ..Trigger::default()
            },
            0,
            "short",
        )
        .await
        .expect_err("refused");
    assert_eq!(error.code(), Some(tonic::Code::InvalidArgument), "{error}");
    assert!(error.to_string().contains("secret"), "{error}");

    let sender = Sender::new(&cluster);
    let body = r#"{"alert":"disk full","host":"db-1"}"#;
    let signed = signature(SECRET, now_ms(), body);
    let accepted = sender
        .post(&cluster, 2, "alerts", &signed, None, body)
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let task_id = accepted.body["task_id"]
        .as_str()
        .expect("a task id")
        .to_owned();
    let task = crate::common::eventually("the task completes", Duration::from_secs(30), || async {
        let task = admin
            .get_task(WS, &task_id, Consistency::Linearizable)
            .await
            .ok()?
            .task?;
        (task.status == i32::from(TaskStatus::Completed)).then_some(task)
    })
    .await;
    assert_eq!(task.submitted_by, format!("trigger/{WS}/alerts"));
    assert_eq!(task.input, format!("Triage: {body}"));

    // The same request again, on another node: nothing new, and the task named.
    let replayed = sender
        .post(&cluster, 3, "alerts", &signed, None, body)
        .await;
    assert_eq!(replayed.status, 409, "{}", replayed.body);
    assert!(
        replayed.body["error"]
            .as_str()
            .unwrap_or_default()
            .contains(&task_id),
        "{}",
        replayed.body
    );
    // A replay under an Idempotency-Key of the replayer's choosing: nothing new.
    let rekeyed = sender
        .post(&cluster, 1, "alerts", &signed, Some("attacker-1"), body)
        .await;
    assert_eq!(rekeyed.status, 409, "{}", rekeyed.body);
    // A sender's retry under the same Idempotency-Key, signed again later: nothing new.
    let keyed = |time_ms| signature(SECRET, time_ms, body);
    let first = sender
        .post(
            &cluster,
            1,
            "alerts",
            &keyed(now_ms()),
            Some("delivery-7"),
            body,
        )
        .await;
    assert_eq!(first.status, 202, "{}", first.body);
    let retry = sender
        .post(
            &cluster,
            2,
            "alerts",
            &keyed(now_ms() + 1),
            Some("delivery-7"),
            body,
        )
        .await;
    assert_eq!(retry.status, 409, "{}", retry.body);

    // Forgeries: another secret, another body, a trigger that does not exist. All get
    // the same answer.
    let forged = sender
        .post(
            &cluster,
            1,
            "alerts",
            &signature("a guessed secret, wrong", now_ms(), body),
            None,
            body,
        )
        .await;
    assert_eq!(forged.status, 401, "{}", forged.body);
    let tampered = sender
        .post(
            &cluster,
            1,
            "alerts",
            &signature(SECRET, now_ms(), body),
            None,
            r#"{"alert":"rm -rf"}"#,
        )
        .await;
    assert_eq!(tampered.status, 401, "{}", tampered.body);
    assert_eq!(tampered.body, forged.body);
    let unknown = sender
        .post(
            &cluster,
            1,
            "nothing",
            &signature(SECRET, now_ms(), body),
            None,
            body,
        )
        .await;
    assert_eq!(unknown.status, 401, "{}", unknown.body);
    assert_eq!(unknown.body, forged.body);
    // Signed six minutes ago, correctly: outside the replay window, and said so.
    let stale = sender
        .post(
            &cluster,
            1,
            "alerts",
            &signature(SECRET, now_ms() - 6 * 60 * 1000, body),
            None,
            body,
        )
        .await;
    assert_eq!(stale.status, 401, "{}", stale.body);
    assert!(
        stale.body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("300 s"),
        "{}",
        stale.body
    );
    let missing = sender.post(&cluster, 1, "alerts", "", None, body).await;
    assert_eq!(missing.status, 401, "{}", missing.body);

    // Exactly the two accepted requests submitted tasks and reached the audit chain.
    let tasks = admin
        .list_tasks(WS, 100, "", Consistency::Linearizable)
        .await
        .expect("list")
        .tasks;
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    let fired: Vec<_> = admin
        .tail_audit(
            warden_client::AuditTail {
                limit: 100,
                action: "trigger.fire".to_owned(),
                ..warden_client::AuditTail::default()
            },
            Consistency::Linearizable,
        )
        .await
        .expect("audit")
        .records
        .into_iter()
        .map(|record| record.outcome)
        .collect();
    // The two accepted; a duplicate reaches the log (refused there) only when it came to a
    // node that had not applied the first yet, and no forgery reaches it at all.
    assert_eq!(
        fired
            .iter()
            .filter(|outcome| *outcome == "accepted")
            .count(),
        2,
        "{fired:?}"
    );
    assert!(fired.len() <= 5, "{fired:?}");
    let listed = admin
        .list_triggers(WS, Consistency::Linearizable)
        .await
        .expect("list triggers")
        .triggers;
    assert_eq!(listed[0].fired, 2);
    drop(model);
}
