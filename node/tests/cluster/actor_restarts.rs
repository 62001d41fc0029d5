//! Supervision: a task actor whose step keeps failing is restarted with backoff by its
//! AgentActor, and after `runtime.max_restarts` restarts the task fails with the last
//! error as its reason; nothing is left running or hanging.

use crate::common::agents::scripted_model;
use crate::common::setup::{self, WAIT};
use crate::common::{eventually, metric_value, scrape, start};
use warden_proto::v1::TaskStatus;

#[tokio::test]
async fn a_task_whose_actor_keeps_failing_fails_with_the_recorded_reason() {
    let cluster = start(1, &[("runtime.max_restarts", "2")]).await;
    let ledger = cluster.tools_dir().join("ledger.jsonl");
    // A model answer larger than a journal entry may hold: apply() refuses the step,
    // so every incarnation of the actor fails at the same point.
    let model = scripted_model(serde_json::json!({
        "steps": [],
        "final": "x".repeat(300 * 1024),
        "final_output_tokens": 10,
    }))
    .await;
    let client = cluster.client_of(1).expect("client");
    setup::workspace(
        &client,
        "supervised",
        &model.base_url(),
        &ledger,
        "verbose",
        &[],
    )
    .await;
    let task = setup::submit(&client, "supervised", "verbose", "say a lot").await;
    let failed = eventually("the task to fail", WAIT, || async {
        let task = setup::task(&client, "supervised", &task.id).await?;
        (TaskStatus::try_from(task.status).ok()? == TaskStatus::Failed).then_some(task)
    })
    .await;
    assert!(
        failed.reason.contains("failed 3 times") && failed.reason.contains("RESOURCE_EXHAUSTED"),
        "{}",
        failed.reason
    );
    let text = scrape(&cluster, 1).await;
    assert_eq!(
        metric_value(&text, "warden_task_actor_failures_total", &[]),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        metric_value(&text, "warden_task_actor_restarts_total", &[]),
        Some(2.0),
        "{text}"
    );
    let events = setup::journal(&client, "supervised", &task.id)
        .await
        .expect("journal");
    assert_eq!(
        events.last().map(|event| event.kind.as_str()),
        Some("failed"),
        "{}",
        setup::describe(&events)
    );
}
