//! The owned-task index follows each task from the node that ran it to the one that runs
//! it now, and away once it stops running; a format-2 database gains it when opened, and
//! a snapshot install builds it from the active-task index.

use openraft::storage::RaftStateMachine;
use rocksdb::WriteBatch;
use warden_core::{Command, NodeId, TaskId, WorkspaceId};

use super::{TestResult, delete_sm, entry, install_elsewhere, seven_records};
use crate::storage::Storage;
use crate::{codec, format, keys};

fn acme() -> WorkspaceId {
    WorkspaceId::parse("acme").expect("valid workspace")
}

fn assign(task: u128, node: u64, epoch: u64) -> Command {
    Command::AssignTask {
        workspace: acme(),
        task: TaskId::from_u128(task),
        node: NodeId(node),
        epoch,
    }
}

fn owned(storage: &Storage, node: u64) -> Result<Vec<(u128, u64)>, crate::Error> {
    Ok(storage
        .reader()
        .owned_tasks(NodeId(node))?
        .into_iter()
        .map(|(_, id, active)| (id.as_u128(), active.epoch))
        .collect())
}

#[tokio::test]
async fn a_task_is_indexed_under_the_node_that_runs_it_and_only_while_it_runs() -> TestResult {
    let (_dir, storage) = seven_records().await?;
    let mut machine = storage.state_machine()?;
    machine
        .apply(vec![entry(8, assign(5, 1, 1)), entry(9, assign(6, 1, 1))])
        .await?;
    assert_eq!(owned(&storage, 1)?, [(5, 1), (6, 1)]);
    assert_eq!(owned(&storage, 2)?, []);

    // Moved to node 2 at a new epoch: off node 1, onto node 2.
    machine.apply(vec![entry(10, assign(5, 2, 2))]).await?;
    assert_eq!(owned(&storage, 1)?, [(6, 1)]);
    assert_eq!(owned(&storage, 2)?, [(5, 2)]);

    let cancel = Command::CancelTask {
        workspace: acme(),
        task: TaskId::from_u128(6),
        reason: "done with it".to_owned(),
    };
    machine.apply(vec![entry(11, cancel)]).await?;
    assert_eq!(owned(&storage, 1)?, []);
    assert_eq!(owned(&storage, 2)?, [(5, 2)]);
    Ok(())
}

#[tokio::test]
async fn a_format_2_database_gains_the_index_and_installs_rebuild_it() -> TestResult {
    let (dir, storage) = seven_records().await?;
    storage
        .state_machine()?
        .apply(vec![entry(8, assign(4, 3, 1))])
        .await?;
    // As a format-2 build leaves it: no owned-task index.
    delete_sm(
        &storage,
        &keys::owned_task(NodeId(3), &acme(), &TaskId::from_u128(4)),
    )?;
    let mut batch = WriteBatch::default();
    batch.put_cf(
        storage.cf(keys::LOG_META_CF)?,
        keys::FORMAT,
        codec::encode(|| "format".to_owned(), &2u32)?,
    );
    storage.write_synced(batch, || "format 2".into())?;
    assert_eq!(owned(&storage, 3)?, []);
    drop(storage);

    let upgraded = Storage::open(dir.path())?;
    assert_eq!(format::stored(&upgraded)?, Some(format::CURRENT));
    assert_eq!(owned(&upgraded, 3)?, [(4, 1)]);

    let (image, _target, installed) = install_elsewhere(&upgraded).await?;
    assert!(image.iter().all(|(key, _)| !keys::is_owned_task(key)));
    assert_eq!(owned(&installed, 3)?, [(4, 1)]);
    Ok(())
}

#[tokio::test]
async fn the_controller_finds_unplaced_and_due_tasks_without_reading_the_rest() -> TestResult {
    let (_dir, storage) = seven_records().await?;
    let reader = storage.reader();
    let ids = |found: Vec<crate::state_reader::indexes::Found>| -> Vec<u128> {
        found.into_iter().map(|(_, id, _)| id.as_u128()).collect()
    };
    // Four pending tasks, none placed; a paused agent's are skipped whole.
    assert_eq!(
        ids(reader.unplaced_tasks(10, |_, _| Ok(false))?),
        [4, 5, 6, 7]
    );
    assert_eq!(ids(reader.unplaced_tasks(2, |_, _| Ok(false))?), [4, 5]);
    let mut asked = 0;
    let skipped = reader.unplaced_tasks(10, |_, agent| {
        asked += 1;
        Ok(agent.as_str() == "bot")
    })?;
    assert!(skipped.is_empty());
    assert_eq!(asked, 1, "one seek past the agent's four tasks");

    let deadlines: Vec<u64> = reader
        .active_tasks()?
        .iter()
        .map(|(_, _, active)| active.deadline_at_ms)
        .collect();
    let (first, last) = (deadlines[0], deadlines[3]);
    assert_eq!(
        ids(reader.due_tasks(first - 1, None, 10)?.tasks),
        Vec::<u128>::new()
    );
    assert_eq!(
        ids(reader.due_tasks(first, None, 10)?.tasks),
        [4],
        "earliest first"
    );
    assert_eq!(ids(reader.due_tasks(last, None, 10)?.tasks), [4, 5, 6, 7]);
    // Paged: each page goes on after the last, and the last one says it was the last.
    let page = reader.due_tasks(last, None, 3)?;
    assert_eq!(ids(page.tasks), [4, 5, 6]);
    let next = reader.due_tasks(last, page.next.as_deref(), 3)?;
    assert_eq!(ids(next.tasks), [7]);
    assert!(next.next.is_none(), "the end: start over");
    let deadline = first;

    // Placed, task 5 leaves the unplaced index and is due when it would stall.
    storage
        .state_machine()?
        .apply(vec![entry(8, assign(5, 1, 1))])
        .await?;
    assert_eq!(ids(reader.unplaced_tasks(10, |_, _| Ok(false))?), [4, 6, 7]);
    let (_, _, running) = reader.owned_tasks(NodeId(1))?.remove(0);
    let stalls_at = running.progress_ms + running.stall_timeout_ms;
    assert!(stalls_at < deadline);
    assert_eq!(ids(reader.due_tasks(stalls_at, None, 10)?.tasks), [5]);
    let running: Vec<(u64, u128)> = reader
        .running_tasks()?
        .into_iter()
        .map(|(node, (_, id, _))| (node.0, id.as_u128()))
        .collect();
    assert_eq!(running, [(1, 5)]);
    Ok(())
}
