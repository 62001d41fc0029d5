//! The kill switch and budgets on a real cluster: pausing a workspace stops its running
//! task within a second, wherever it runs, and places none of its new tasks; resuming
//! lets them finish. A tool-call budget fails the task that asks for one call too many,
//! naming the budget, and refuses the next submission.

use std::path::Path;
use std::time::Duration;

use warden_client::{BudgetLimits, Client, Consistency, PauseTarget};
use warden_proto::v1::{Task, TaskEvent, TaskStatus};

use crate::common::agents::scripted_model;
use crate::common::eventually;

const WS: &str = "kill";

/// The workspace with the scripted model, the ledger server and agent `clerk`, which may
/// call `ledger/put`; the policy allows every call.
async fn configure(client: &Client, model_url: &str, ledger: &Path) {
    crate::common::setup::workspace(client, WS, model_url, ledger, "clerk", &["put"]).await;
}

/// A script of `steps` turns, each putting one key (taking `delay_ms`), then "done".
fn puts(steps: usize, delay_ms: u64) -> serde_json::Value {
    let steps: Vec<serde_json::Value> = (1..=steps)
        .map(|n| {
            serde_json::json!({"tool_calls": [{"name": "ledger__put",
                "arguments": {"key": format!("k{n}"), "value": "v", "delay_ms": delay_ms}}]})
        })
        .collect();
    serde_json::json!({"steps": steps, "final": "done"})
}

async fn submit(client: &Client, key: &str) -> Task {
    client
        .submit_task(WS, "clerk", key, Some(key.to_owned()))
        .await
        .expect("submit")
        .response
        .task
        .expect("task")
}

async fn task(client: &Client, id: &str) -> Task {
    client
        .get_task(WS, id, Consistency::Linearizable)
        .await
        .expect("get task")
        .task
        .expect("task")
}

async fn journal(client: &Client, id: &str) -> Vec<TaskEvent> {
    client
        .get_journal(WS, id, 0, 0, Consistency::Linearizable)
        .await
        .expect("journal")
        .events
}

fn kinds(events: &[TaskEvent]) -> Vec<&str> {
    events.iter().map(|event| event.kind.as_str()).collect()
}

async fn settled(client: &Client, id: &str) -> Task {
    client
        .wait_task(WS, id, Duration::from_secs(60))
        .await
        .expect("wait")
        .task
        .expect("task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pausing_a_workspace_stops_its_running_task_until_it_is_resumed() {
    let cluster = crate::common::start(3, &[("runtime.controller_interval", "100ms")]).await;
    let admin = cluster.client().expect("client");
    let model = scripted_model(puts(8, 250)).await;
    let ledger = cluster.tools_dir().join("ledger.jsonl");
    configure(&admin, &model.base_url(), &ledger).await;

    let running = submit(&admin, "eight-puts").await;
    eventually(
        "the task's first call to start",
        Duration::from_secs(30),
        || {
            let admin = admin.clone();
            let id = running.id.clone();
            async move {
                let events = journal(&admin, &id).await;
                kinds(&events).contains(&"tool_call_started").then_some(())
            }
        },
    )
    .await;

    admin
        .set_pause(WS, &PauseTarget::Workspace, true, "incident 42")
        .await
        .expect("pause the workspace");
    // Whatever was in flight when the switch flipped settles: the owner's actor
    // journals a call it had started and then waits for the resume.
    let owner = task(&admin, &running.id).await.owner;
    crate::common::wait_for_metric(&cluster, owner, "warden_tasks_held_by_pause", |held| {
        held >= 1.0
    })
    .await;
    let paused = journal(&admin, &running.id).await;
    let waiting = submit(&admin, "while-paused").await;
    // The controller considers the new task, and the held actor looks at its pause,
    // several times over.
    crate::common::after_controller_ticks(&cluster, &[1, 2, 3], 5.0).await;
    let later = journal(&admin, &running.id).await;
    assert_eq!(
        later.len(),
        paused.len(),
        "steps taken while paused: {:?}",
        kinds(&later[paused.len().min(later.len())..])
    );
    let held = task(&admin, &running.id).await;
    assert_eq!(held.status, i32::from(TaskStatus::Running), "{held:?}");
    assert!(!kinds(&later).contains(&"completed"), "{:?}", kinds(&later));
    let queued = task(&admin, &waiting.id).await;
    assert_eq!(
        (queued.status, queued.owner),
        (i32::from(TaskStatus::Pending), 0),
        "a paused workspace's new task is not placed"
    );

    let pauses = admin.list_pauses(WS).await.expect("list pauses");
    assert!(
        pauses
            .iter()
            .any(|pause| pause.target == "workspace" && pause.reason == "incident 42"),
        "{pauses:?}"
    );
    let audit = admin
        .tail_audit(
            warden_client::AuditTail::last(50),
            Consistency::Linearizable,
        )
        .await
        .expect("audit")
        .records;
    assert!(
        audit.iter().any(|record| record.action == "switch.pause"
            && record.detail == "paused workspace kill: incident 42"),
        "the pause is audited: {audit:?}"
    );

    admin
        .set_pause(WS, &PauseTarget::Workspace, false, "resolved")
        .await
        .expect("resume the workspace");
    for id in [&running.id, &waiting.id] {
        let done = settled(&admin, id).await;
        assert_eq!(done.status, i32::from(TaskStatus::Completed), "{done:?}");
        assert_eq!(done.result, "done");
    }
    assert!(admin.list_pauses(WS).await.expect("list pauses").is_empty());
    let entries = warden_mcp::read_ledger(&ledger).expect("ledger");
    assert_eq!(entries.len(), 16, "every put ran once: {entries:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_call_budget_fails_the_task_that_asks_for_one_call_too_many() {
    let cluster = crate::common::start(1, &[]).await;
    let admin = cluster.client().expect("client");
    let model = scripted_model(puts(3, 0)).await;
    let ledger = cluster.tools_dir().join("ledger.jsonl");
    configure(&admin, &model.base_url(), &ledger).await;
    let limits = BudgetLimits {
        tokens: None,
        tool_calls: Some(2),
    };
    admin
        .set_budget(WS, None, limits, false)
        .await
        .expect("set the budget");

    let task = submit(&admin, "three-puts").await;
    let done = settled(&admin, &task.id).await;
    assert_eq!(done.status, i32::from(TaskStatus::Failed), "{done:?}");
    assert_eq!(
        done.reason,
        "workspace kill tool-call budget exhausted: 2 of 2 used, this turn asks for 1"
    );
    assert_eq!(
        warden_mcp::read_ledger(&ledger).expect("ledger").len(),
        2,
        "the third call never ran"
    );
    let budgets = admin.get_budgets(WS).await.expect("get budgets");
    assert_eq!(budgets.len(), 1, "{budgets:?}");
    assert_eq!(budgets[0].tool_calls_used, 2);
    assert!(budgets[0].tokens_used > 0, "the turns' tokens are charged");

    let refused = admin
        .submit_task(WS, "clerk", "one more", None)
        .await
        .expect_err("the budget is used up");
    assert_eq!(
        refused.code(),
        Some(tonic::Code::ResourceExhausted),
        "{refused}"
    );
    assert!(
        refused
            .to_string()
            .contains("workspace kill tool-call budget exhausted"),
        "{refused}"
    );
}
