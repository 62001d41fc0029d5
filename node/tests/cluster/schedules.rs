//! Schedules on a real cluster: a schedule that fires every second keeps firing once per
//! due time while its leader is killed: every due time between the first and the last
//! firing submitted exactly one task, as the schedule's principal, and the audit chain
//! holds one accepted firing per due time.

use std::collections::BTreeSet;
use std::time::Duration;

use warden_client::Consistency;
use warden_proto::v1::{AgentLimits, Schedule};

use crate::common::agents::{ProviderSpec, Workspace, scripted_model};
use crate::common::{allow_every_call, eventually};

const WS: &str = "cron";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_fires_once_per_due_time_while_its_leader_is_killed() {
    let mut cluster = crate::common::start(
        3,
        &[
            ("runtime.lease", "2s"),
            ("runtime.heartbeat_interval", "300ms"),
        ],
    )
    .await;
    let admin = cluster.client().expect("client");
    admin.create_workspace(WS).await.expect("workspace");
    allow_every_call(&admin, WS).await;
    let model = scripted_model(serde_json::json!({"steps": [], "final": "tick"})).await;
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
        .create_agent("ticker", "model", &[], AgentLimits::default())
        .await;
    let spec = |cron: &str, timezone: &str| Schedule {
        workspace: WS.into(),
        name: "every-second".into(),
        cron: cron.into(),
        timezone: timezone.into(),
        agent: "ticker".into(),
        input: "tick".into(),
        ..Schedule::default()
    };
    // Checked where it is taken, naming the field.
    for (cron, zone, field) in [
        ("61 * * * *", "UTC", "cron"),
        ("* * * * *", "Mars/Base", "timezone"),
    ] {
        let refused = admin.put_schedule(spec(cron, zone), 0).await;
        let error = refused.expect_err("refused");
        assert_eq!(error.code(), Some(tonic::Code::InvalidArgument), "{error}");
        assert!(error.to_string().contains(field), "{error}");
    }
    admin
        .put_schedule(spec("* * * * * *", "UTC"), 0)
        .await
        .expect("put schedule");
    let fired = |at_least: u64| {
        let admin = admin.clone();
        async move {
            eventually(
                &format!("{at_least} firings"),
                Duration::from_secs(60),
                || async {
                    let schedules = admin
                        .list_schedules(WS, Consistency::Linearizable)
                        .await
                        .ok()?
                        .schedules;
                    let fired = schedules.first()?.fired;
                    (fired >= at_least).then_some(fired)
                },
            )
            .await
        }
    };
    let before = fired(2).await;
    let leader = cluster
        .wait_for_leader(Duration::from_secs(10))
        .await
        .expect("a leader");
    cluster.kill(leader).await.expect("kill the leader");
    let admin = cluster.client().expect("client");
    let after = fired(before + 4).await;
    assert!(after >= before + 4);
    admin
        .delete_schedule(WS, "every-second")
        .await
        .expect("delete");

    // Every task the schedule submitted, by its due time.
    let tasks = admin
        .list_tasks(WS, 1000, "", Consistency::Linearizable)
        .await
        .expect("list")
        .tasks;
    let mut dues = BTreeSet::new();
    for task in &tasks {
        assert_eq!(task.submitted_by, format!("trigger/{WS}/every-second"));
        let due: u64 = task
            .idempotency_key
            .strip_prefix("schedule:every-second:")
            .and_then(|due| due.parse().ok())
            .unwrap_or_else(|| panic!("key {}", task.idempotency_key));
        assert!(dues.insert(due), "two tasks for due time {due}");
    }
    let dues: Vec<u64> = dues.into_iter().collect();
    assert!(
        dues.len() as u64 >= after,
        "{} tasks, {after} firings",
        dues.len()
    );
    for pair in dues.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            1000,
            "a due time was skipped or doubled: {dues:?}"
        );
    }
    let firings = admin
        .tail_audit(
            warden_client::AuditTail {
                limit: 1000,
                action: "schedule.fire".to_owned(),
                ..warden_client::AuditTail::default()
            },
            Consistency::Linearizable,
        )
        .await
        .expect("audit")
        .records;
    let accepted = firings
        .iter()
        .filter(|record| record.outcome == "accepted")
        .count();
    assert_eq!(accepted, dues.len(), "one accepted firing per due time");
    drop(model);
}
