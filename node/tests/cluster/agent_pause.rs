//! The agent's pause switch: pausing an agent stops its running task from taking new
//! steps (the journal stops growing) without failing it; unpausing lets it finish.

use crate::common::agents::scripted_model;
use crate::common::setup::{self, WAIT};
use crate::common::{eventually, start};
use warden_client::proto::{Agent, AgentLimits, ToolGrant};
use warden_proto::v1::TaskStatus;

const WS: &str = "pausing";

fn agent(paused: bool) -> Agent {
    Agent {
        workspace: WS.into(),
        name: "slow".into(),
        instructions: "follow the script".into(),
        provider: "model".into(),
        tools: vec![ToolGrant {
            server: "ledger".into(),
            tool: "put".into(),
            retry_safe: None,
        }],
        limits: Some(AgentLimits::default()),
        paused,
        ..Default::default()
    }
}

#[tokio::test]
async fn pausing_an_agent_stops_its_running_task_until_it_is_resumed() {
    let cluster = start(1, &[("runtime.controller_interval", "100ms")]).await;
    let ledger = cluster.tools_dir().join("ledger.jsonl");
    let steps: Vec<serde_json::Value> = (1..=4)
        .map(|n| serde_json::json!({"tool_calls": [{"name": "ledger__put", "arguments": {"key": format!("k{n}"), "value": "v", "delay_ms": 200}}]}))
        .collect();
    let model = scripted_model(serde_json::json!({"steps": steps, "final": "done"})).await;
    let node_1 = cluster.client_of(1).expect("client");
    setup::workspace(&node_1, WS, &model.base_url(), &ledger, "slow", &["put"]).await;
    let task = setup::submit(&node_1, WS, "slow", "four slow puts").await;
    let owner = setup::owner_once_a_call_started(&node_1, WS, &task.id).await;

    let client = cluster.client().expect("client");
    client
        .update_agent(agent(true), 1)
        .await
        .expect("pause the agent");
    // Whatever was in flight when the switch flipped settles: the owner's actor
    // journals a call it had started and then waits for the resume.
    crate::common::wait_for_metric(&cluster, owner, "warden_tasks_held_by_pause", |held| {
        held >= 1.0
    })
    .await;
    let paused_len = setup::journal(&node_1, WS, &task.id)
        .await
        .expect("journal")
        .len();
    // The controller and the held actor look at the task several times over.
    crate::common::after_controller_ticks(&cluster, &[1], 10.0).await;
    let events = setup::journal(&node_1, WS, &task.id)
        .await
        .expect("journal");
    assert_eq!(
        events.len(),
        paused_len,
        "steps taken while paused:\n{}",
        setup::describe(&events)
    );
    let task_now = setup::task(&node_1, WS, &task.id).await.expect("task");
    assert_eq!(
        TaskStatus::try_from(task_now.status),
        Ok(TaskStatus::Running)
    );
    assert_ne!(
        events.last().map(|event| event.kind.as_str()),
        Some("completed")
    );

    client
        .update_agent(agent(false), 2)
        .await
        .expect("resume the agent");
    let done = eventually("the task to complete after the resume", WAIT, || async {
        let task = setup::task(&node_1, WS, &task.id).await?;
        (TaskStatus::try_from(task.status).ok()? == TaskStatus::Completed).then_some(task)
    })
    .await;
    assert_eq!(done.result, "done");
}
