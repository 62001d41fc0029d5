//! A grouped entry on the real store: its requests applied in order over the pending
//! writes of the ones before, one audit record each, one outcome each.

use openraft::storage::RaftStateMachine;
use openraft::{CommittedLeaderId, EntryPayload};
use warden_core::{AgentName, Command, IdempotencyKey, Outcome, Principal, TaskId, WorkspaceId};

use super::{TestResult, seven_records};
use crate::types::{Entry, LogId};

fn submit(id: u128, key: &str, input: &str) -> TestResult<Command> {
    Ok(Command::SubmitTask {
        workspace: WorkspaceId::parse("acme")?,
        task_id: TaskId::from_u128(id),
        idempotency_key: IdempotencyKey::parse(key)?,
        agent: AgentName::parse("bot")?,
        input: input.to_owned(),
    })
}

fn request(command: Command) -> warden_core::Request {
    warden_core::Request {
        time_ms: 8,
        principal: Principal::system(),
        token: None,
        command,
    }
}

#[tokio::test]
async fn a_groups_requests_apply_in_order_each_audited() -> TestResult {
    let (_dir, storage) = seven_records().await?;
    let requests = vec![
        request(submit(100, "grouped", "x")?),
        // Deduplicated against the request before it, which is not in the database yet.
        request(submit(101, "grouped", "x")?),
        request(submit(102, "other", "y")?),
    ];
    let entry = Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), 8),
        payload: EntryPayload::Normal(warden_core::group::group(
            Principal::node(warden_core::NodeId(1)),
            8,
            requests,
        )),
    };
    let mut state_machine = storage.state_machine()?;
    let outcomes = state_machine.apply(vec![entry]).await?;
    let [Outcome::Group(results)] = &outcomes[..] else {
        panic!("one group outcome: {outcomes:?}");
    };
    let submitted: Vec<(u128, bool)> = results
        .iter()
        .map(|outcome| match outcome {
            Outcome::TaskSubmitted { task, deduplicated } => (task.id.as_u128(), *deduplicated),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(submitted, [(100, false), (100, true), (102, false)]);
    let verification = storage.reader().verify_audit()?;
    assert_eq!(verification.record_count, 10, "seven, then one per request");
    assert!(verification.failure.is_none(), "{verification:?}");
    let workspace = WorkspaceId::parse("acme")?;
    let reader = storage.reader();
    assert!(reader.task(&workspace, &TaskId::from_u128(101))?.is_none());
    let grouped = reader
        .task(&workspace, &TaskId::from_u128(102))?
        .ok_or("task 102")?;
    assert_eq!(grouped.log_index, 8, "the group's index");
    Ok(())
}

/// A grouped entry can hold more events of one workspace than a watcher reads at once:
/// reading on after the last event sent gets past them, where restarting at the entry's
/// index would return the same first page for ever.
#[tokio::test]
async fn a_watcher_pages_past_more_events_than_a_batch_at_one_index() -> TestResult {
    let (_dir, storage) = seven_records().await?;
    let requests = (0..300u128)
        .map(|n| Ok(request(submit(1_000 + n, &format!("bulk-{n}"), "x")?)))
        .collect::<TestResult<Vec<_>>>()?;
    let entry = Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), 8),
        payload: EntryPayload::Normal(warden_core::group::group(
            Principal::node(warden_core::NodeId(1)),
            8,
            requests,
        )),
    };
    storage.state_machine()?.apply(vec![entry]).await?;
    let workspace = WorkspaceId::parse("acme")?;
    let reader = storage.reader();
    let first = reader.workspace_events(&workspace, 8, 256)?;
    assert_eq!(first.len(), 256);
    let (task, last) = first.last().ok_or("no events")?;
    let rest = reader.workspace_events_after(&workspace, (last.log_index, *task, last.seq), 256)?;
    assert_eq!(rest.len(), 44, "the rest of the entry's 300 events");
    assert!(rest.iter().all(|(_, entry)| entry.log_index == 8));
    let mut all: Vec<TaskId> = first.iter().chain(&rest).map(|(task, _)| *task).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 300, "each event once");
    Ok(())
}
