//! Building a snapshot on one store and installing it into another.

use std::io::Cursor;

use openraft::RaftSnapshotBuilder;
use openraft::storage::RaftStateMachine;
use warden_core::{
    Agent, AuditHead, AuditRecord, JournalEntry, Provider, Task, TaskId, Workspace, WorkspaceId,
};
use warden_raft::types::{Entry, LogId};
use warden_raft::{ActiveTask, StateReader, Storage};

use crate::fixtures::{
    TestResult, create, log_id, membership, open_temp, provider_and_agent, submit, ws,
};

/// What a reader shows, for comparing two stores.
#[derive(Debug, PartialEq)]
struct View {
    workspaces: Vec<Workspace>,
    /// Per workspace: its providers and agents.
    config: Vec<(Vec<Provider>, Vec<Agent>)>,
    /// Per workspace: the first page of its tasks.
    tasks: Vec<(Vec<Task>, Option<TaskId>)>,
    /// The journal of every task in those pages.
    journals: Vec<Vec<JournalEntry>>,
    active: Vec<(WorkspaceId, TaskId, ActiveTask)>,
    audit: Vec<AuditRecord>,
    head: AuditHead,
    applied: Option<LogId>,
}

fn view(reader: &StateReader) -> Result<View, warden_raft::Error> {
    let (mut config, mut tasks, mut journals) = (Vec::new(), Vec::new(), Vec::new());
    for workspace in ["acme", "beta"] {
        let workspace = ws(workspace);
        config.push((reader.providers(&workspace)?, reader.agents(&workspace)?));
        let page = reader.tasks_page(&workspace, None, 100)?;
        for task in &page.0 {
            journals.push(reader.journal(&workspace, &task.id, 0, 100)?);
        }
        tasks.push(page);
    }
    Ok(View {
        workspaces: reader.workspaces()?,
        config,
        tasks,
        journals,
        active: reader.active_tasks()?,
        audit: reader.audit_range(1, 100)?,
        head: reader.audit_head()?,
        applied: reader.applied_log_id()?,
    })
}

/// Workspaces `acme` and `beta`, each with agent `bot`, and three tasks.
fn two_workspaces() -> Vec<Entry> {
    let mut entries = vec![membership(1, &[1, 2]), create(2, "acme"), create(3, "beta")];
    entries.extend(provider_and_agent(4, "acme"));
    entries.extend(provider_and_agent(6, "beta"));
    entries.extend([
        submit(8, "acme", 40, "a", "one"),
        submit(9, "beta", 50, "b", "two"),
        submit(10, "acme", 60, "c", "three"),
    ]);
    entries
}

#[tokio::test]
async fn an_installed_snapshot_reproduces_the_state_and_replaces_the_old_one() -> TestResult {
    let (_dir_a, store_a) = open_temp()?;
    let mut machine_a = store_a.state_machine()?;
    machine_a.apply(two_workspaces()).await?;
    let snapshot = machine_a
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await?;
    assert_eq!(snapshot.meta.last_log_id, Some(log_id(1, 10)));
    assert_eq!(snapshot.meta.last_membership.log_id(), &Some(log_id(1, 1)));
    let view_at_snapshot = view(&store_a.reader())?;
    assert_eq!(view_at_snapshot.active.len(), 3);
    assert_eq!(view_at_snapshot.journals.len(), 3);
    // Applied after the build: must not be in the image.
    let later = submit(11, "acme", 70, "d", "four");
    machine_a.apply([later.clone()]).await?;

    let (_dir_b, store_b) = open_temp()?;
    let mut machine_b = store_b.state_machine()?;
    // Earlier state of B that the snapshot must wipe out.
    machine_b.apply([create(1, "stale")]).await?;

    let mut data = machine_b.begin_receiving_snapshot().await?;
    data.get_mut()
        .extend_from_slice(snapshot.snapshot.get_ref());
    machine_b.install_snapshot(&snapshot.meta, data).await?;

    let reader_b = store_b.reader();
    assert_eq!(view(&reader_b)?, view_at_snapshot);
    assert_eq!(reader_b.workspace(&ws("stale"))?, None);
    assert_eq!(reader_b.task(&ws("acme"), &TaskId::from_u128(70))?, None);
    assert!(reader_b.verify_audit()?.is_ok());
    assert_eq!(
        machine_b.applied_state().await?,
        (
            snapshot.meta.last_log_id,
            snapshot.meta.last_membership.clone()
        )
    );
    let current = machine_b
        .get_current_snapshot()
        .await?
        .ok_or("no current snapshot on B")?;
    assert_eq!(current.meta, snapshot.meta);
    assert_eq!(current.snapshot.get_ref(), snapshot.snapshot.get_ref());

    // B's cached audit head came from the image: the next entry chains exactly as on A.
    machine_b.apply([later]).await?;
    assert_eq!(view(&reader_b)?, view(&store_a.reader())?);

    // And B still reads the same after a restart.
    drop((machine_b, reader_b, store_b));
    let store_b = Storage::open(_dir_b.path())?;
    assert_eq!(view(&store_b.reader())?, view(&store_a.reader())?);
    let current = store_b
        .state_machine()?
        .get_current_snapshot()
        .await?
        .ok_or("snapshot lost")?;
    assert_eq!(current.meta, snapshot.meta);
    Ok(())
}

#[tokio::test]
async fn a_snapshot_that_disagrees_with_its_metadata_is_refused() -> TestResult {
    let (_dir_a, store_a) = open_temp()?;
    let mut machine_a = store_a.state_machine()?;
    machine_a.apply([create(1, "acme")]).await?;
    let snapshot = machine_a
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await?;

    let (_dir_b, store_b) = open_temp()?;
    let mut machine_b = store_b.state_machine()?;
    machine_b.apply([create(1, "mine")]).await?;

    let mut wrong_meta = snapshot.meta.clone();
    wrong_meta.last_log_id = Some(log_id(1, 2));
    let data = Box::new(Cursor::new(snapshot.snapshot.get_ref().clone()));
    assert!(machine_b.install_snapshot(&wrong_meta, data).await.is_err());

    let mut damaged = snapshot.snapshot.get_ref().clone();
    damaged.truncate(damaged.len() - 1);
    assert!(
        machine_b
            .install_snapshot(&snapshot.meta, Box::new(Cursor::new(damaged)))
            .await
            .is_err()
    );

    // Nothing of the refused snapshots landed.
    assert!(store_b.reader().workspace(&ws("mine"))?.is_some());
    assert!(store_b.reader().workspace(&ws("acme"))?.is_none());
    assert!(machine_b.get_current_snapshot().await?.is_none());
    Ok(())
}

#[tokio::test]
async fn each_build_gets_its_own_id() -> TestResult {
    let (_dir, storage) = open_temp()?;
    let mut machine = storage.state_machine()?;
    machine.apply([create(1, "acme")]).await?;
    let first = machine
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await?;
    let second = machine
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await?;
    assert_eq!(first.meta.last_log_id, second.meta.last_log_id);
    assert_ne!(first.meta.snapshot_id, second.meta.snapshot_id);
    let current = machine
        .get_current_snapshot()
        .await?
        .ok_or("no current snapshot")?;
    assert_eq!(current.meta, second.meta);
    Ok(())
}
