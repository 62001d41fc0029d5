//! Fencing and interrupted tool calls across node failures: a non-idempotent call in
//! flight when its node dies waits for a human and is never run again without one; a
//! paused owner that wakes after its task moved cannot write to the task's journal.

use crate::common::agents::scripted_model;
use crate::common::setup::{self, SHORT_LEASE, WAIT};
use crate::common::{eventually, start};
use nix::sys::signal::Signal;
use warden_client::Resolution;
use warden_local_cluster::LocalCluster;
use warden_proto::v1::TaskStatus;

const WS: &str = "fencing";

fn status(task: &warden_proto::v1::Task) -> TaskStatus {
    TaskStatus::try_from(task.status).unwrap_or(TaskStatus::Unspecified)
}

#[tokio::test]
async fn an_interrupted_non_idempotent_call_waits_for_a_human() {
    let mut cluster = start(3, SHORT_LEASE).await;
    let ledger = cluster.tools_dir().join("ledger.jsonl");
    let model = scripted_model(serde_json::json!({
        "steps": [{"tool_calls": [{"name": "ledger__append", "arguments": {"entry": "charge-card", "delay_ms": 1500}}]}],
        "final": "charged",
    }))
    .await;
    let leader = cluster.wait_for_leader(WAIT).await.expect("leader");
    let node = cluster.client_of(leader).expect("client");
    setup::workspace(&node, WS, &model.base_url(), &ledger, "payer", &["append"]).await;
    let task = setup::submit(&node, WS, "payer", "charge the card").await;

    let owner = setup::owner_once_a_call_started(&node, WS, &task.id).await;
    cluster.kill(owner).await.expect("kill the owner");
    let survivor = (1..=3).find(|id| *id != owner).expect("another node");
    let node = cluster.client_of(survivor).expect("client");

    let parked = eventually("the task to need attention", WAIT, || async {
        let task = setup::task(&node, WS, &task.id).await?;
        (status(&task) == TaskStatus::NeedsAttention).then_some(task)
    })
    .await;
    assert!(
        parked.reason.contains("not retry-safe"),
        "{}",
        parked.reason
    );
    assert_eq!(parked.owner, 0, "a parked task holds no node");
    // Give a wrongful retry every chance to happen: the survivors' controller ticks
    // through more than two leases (2 s at 100 ms a tick).
    let survivors: Vec<u64> = (1..=3).filter(|id| *id != owner).collect();
    crate::common::after_controller_ticks(&cluster, &survivors, 50.0).await;
    let events = setup::journal(&node, WS, &task.id).await.expect("journal");
    let attempts = events
        .iter()
        .filter(|event| event.kind == "tool_call_started")
        .count();
    assert_eq!(
        attempts,
        1,
        "re-run without a decision:\n{}",
        setup::describe(&events)
    );
    let before = warden_mcp::read_ledger(&ledger).expect("ledger");
    assert!(before.len() <= 1, "the call ran more than once: {before:?}");
    assert_eq!(
        setup::task(&node, WS, &task.id)
            .await
            .map(|task| status(&task)),
        Some(TaskStatus::NeedsAttention)
    );

    node.resolve_task(WS, &task.id, Resolution::Retry)
        .await
        .expect("resolve --retry");
    let done = eventually("the retried task to complete", WAIT, || async {
        let task = setup::task(&node, WS, &task.id).await?;
        (status(&task) == TaskStatus::Completed).then_some(task)
    })
    .await;
    assert_eq!(done.result, "charged");
    let events = setup::journal(&node, WS, &task.id).await.expect("journal");
    let kinds: Vec<&str> = events.iter().map(|event| event.kind.as_str()).collect();
    assert!(kinds.contains(&"resolved"), "{}", setup::describe(&events));
    assert!(
        events.iter().any(|event| event.kind == "tool_call_started"
            && event.detail_json.contains("\"attempt\":2")),
        "{}",
        setup::describe(&events)
    );
    // The runtime's metrics on the surviving nodes saw the failover, the calls and the
    // resume.
    let mut totals = std::collections::BTreeMap::new();
    let mut scraped = String::new();
    for id in (1..=3).filter(|id| *id != owner) {
        let text = crate::common::scrape(&cluster, id).await;
        scraped.push_str(&text);
        for name in [
            "warden_task_failovers_total",
            "warden_tool_call_seconds_count",
            "warden_model_call_seconds_count",
            "warden_journal_commit_seconds_count",
            "warden_task_resume_seconds_count",
        ] {
            *totals.entry(name).or_insert(0.0) +=
                crate::common::metric_value(&text, name, &[]).unwrap_or(0.0);
        }
    }
    for (name, total) in &totals {
        assert!(*total >= 1.0, "{name} is {total}: {totals:?}\n{scraped}");
    }
    let after = warden_mcp::read_ledger(&ledger).expect("ledger");
    assert_eq!(
        after.len(),
        before.len() + 1,
        "exactly one more run after the decision: {after:?}"
    );
}

#[tokio::test]
async fn a_paused_owner_cannot_write_after_its_task_moved() {
    // Node 1 bootstraps and leads, and runs no tasks, so the paused owner is a follower:
    // a paused leader loses its leadership too and could not commit anything at all,
    // which would not test the epoch check.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut local = LocalCluster::new(
        crate::common::WARDEN,
        dir.path(),
        crate::common::settings(SHORT_LEASE),
    );
    local.set_node_settings(1, crate::common::settings(&[("runtime.capacity", "0")]));
    local.bootstrap(3).await.expect("bootstrap");
    let cluster = crate::common::TestCluster {
        cluster: local,
        dir,
    };
    let ledger = cluster.tools_dir().join("ledger.jsonl");
    let model = scripted_model(serde_json::json!({
        "steps": [
            {"tool_calls": [{"name": "ledger__put", "arguments": {"key": "a", "value": "1", "delay_ms": 1500}}]},
            {"tool_calls": [{"name": "ledger__put", "arguments": {"key": "b", "value": "2"}}]}
        ],
        "final": "stored",
    }))
    .await;
    let leader = cluster.wait_for_leader(WAIT).await.expect("leader");
    let node = cluster.client_of(leader).expect("client");
    setup::workspace(&node, WS, &model.base_url(), &ledger, "keeper", &["put"]).await;
    let task = setup::submit(&node, WS, "keeper", "store two values").await;
    let owner = setup::owner_once_a_call_started(&node, WS, &task.id).await;
    cluster
        .signal(owner, Signal::SIGSTOP)
        .expect("SIGSTOP the owner");
    let others: Vec<u64> = (1..=3).filter(|id| *id != owner).collect();
    let node = cluster.client_of(others[0]).expect("client");
    let moved = eventually("the task to complete on another node", WAIT, || async {
        let task = setup::task(&node, WS, &task.id).await?;
        (status(&task) == TaskStatus::Completed).then_some(task)
    })
    .await;
    assert!(
        moved.epoch >= 2,
        "the task never moved: epoch {}",
        moved.epoch
    );
    cluster
        .signal(owner, Signal::SIGCONT)
        .expect("SIGCONT the owner");

    // The woken owner either tries to journal the call it finished (refused: stale
    // epoch) or is stopped first by its own view of the moved task; which one happens
    // is a race between its actor and its Raft catch-up. Either way it writes nothing:
    // every step it had accepted comes before the move, and every later one is refused.
    cluster
        .wait_converged(WAIT)
        .await
        .expect("the woken node catches up");
    // Once the woken node runs no task actor it can propose no step.
    crate::common::wait_for_metric(&cluster, owner, "warden_task_actors", |running| {
        running == 0.0
    })
    .await;
    // Steps are proposed as the task's agent; their records name the node they came from.
    let from_owner = format!("node {owner} ");
    let records = cluster
        .client_of(others[0])
        .expect("client")
        .tail_audit(
            warden_client::AuditTail::last(500),
            warden_client::Consistency::Linearizable,
        )
        .await
        .expect("audit")
        .records;
    let events_now = setup::journal(&node, WS, &task.id).await.expect("journal");
    let moved_index = events_now
        .iter()
        .find(|event| event.kind == "assigned" && event.epoch >= 2)
        .expect("a reassignment")
        .log_index;
    let by_old_owner: Vec<_> = records
        .iter()
        .filter(|record| record.action == "task.step" && record.detail.starts_with(&from_owner))
        .collect();
    assert!(
        !by_old_owner.is_empty(),
        "the old owner journaled nothing at all"
    );
    for record in by_old_owner {
        if record.log_index > moved_index {
            assert_eq!(record.outcome, "rejected", "{record:?}");
            assert!(record.detail.contains("stale epoch"), "{}", record.detail);
        } else {
            assert_eq!(record.outcome, "accepted", "{record:?}");
        }
    }
    let events = setup::journal(&node, WS, &task.id).await.expect("journal");
    let moved_at = events
        .iter()
        .position(|event| event.kind == "assigned" && event.epoch >= 2)
        .expect("a reassignment");
    assert!(
        events[moved_at..].iter().all(|event| event.epoch >= 2),
        "an entry from the old epoch after the move:\n{}",
        setup::describe(&events)
    );
    assert_eq!(
        events.last().map(|event| event.kind.as_str()),
        Some("completed")
    );
    // The put in flight at the pause is idempotent: the new owner ran it again.
    assert!(
        events.iter().any(|event| event.kind == "tool_call_started"
            && event.epoch >= 2
            && event.detail_json.contains("\"attempt\":2")),
        "the interrupted idempotent call was not retried:\n{}",
        setup::describe(&events)
    );
}

/// A node that has not had its first heartbeat acknowledged holds no lease yet: a
/// non-idempotent call placed on it then must wait for the lease, not be journaled as
/// started and abandoned (which would park the task as if the call had been interrupted).
#[tokio::test]
async fn a_call_placed_before_the_first_heartbeat_runs_once() {
    let cluster = start(
        1,
        &[
            ("runtime.lease", "3s"),
            ("runtime.heartbeat_interval", "1500ms"),
            ("runtime.controller_interval", "50ms"),
        ],
    )
    .await;
    let ledger = cluster.tools_dir().join("ledger.jsonl");
    let model = scripted_model(serde_json::json!({
        "steps": [{"tool_calls": [{"name": "ledger__append", "arguments": {"entry": "once"}}]}],
        "final": "appended",
    }))
    .await;
    let node = cluster.client_of(1).expect("client");
    setup::workspace(&node, WS, &model.base_url(), &ledger, "early", &["append"]).await;
    let task = setup::submit(&node, WS, "early", "append once").await;
    let done = eventually("the task to settle", WAIT, || async {
        let task = setup::task(&node, WS, &task.id).await?;
        matches!(
            status(&task),
            TaskStatus::Completed | TaskStatus::NeedsAttention | TaskStatus::Failed
        )
        .then_some(task)
    })
    .await;
    let events = setup::journal(&node, WS, &task.id).await.expect("journal");
    assert_eq!(
        status(&done),
        TaskStatus::Completed,
        "{}\n{}",
        done.reason,
        setup::describe(&events)
    );
    let attempts = events
        .iter()
        .filter(|event| event.kind == "tool_call_started")
        .count();
    assert_eq!(attempts, 1, "{}", setup::describe(&events));
    assert_eq!(warden_mcp::read_ledger(&ledger).expect("ledger").len(), 1);
}
