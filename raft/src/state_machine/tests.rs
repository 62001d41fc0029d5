//! Unit tests of the state machine that reach into the open database: membership
//! descriptions and audit tampering of every kind.

use std::collections::{BTreeMap, BTreeSet};

use openraft::storage::RaftStateMachine;
use openraft::{BasicNode, CommittedLeaderId, EntryPayload, Membership};
use rocksdb::WriteBatch;
use tempfile::TempDir;
use warden_core::{
    AgentName, AgentSpec, Command, IdempotencyKey, Limits, Outcome, Principal, ProviderName,
    Request, TaskId, WorkspaceId,
};

use super::describe_membership;
use crate::keys;
use crate::storage::Storage;
use crate::types::{Entry, LogId};

mod delete;
mod deliveries;
mod group;
mod owned;
mod protocol;
mod waiting;

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn entry(index: u64, command: Command) -> Entry {
    let request = Request {
        time_ms: index,
        principal: Principal::system(),
        token: None,
        command,
    };
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::Normal(request),
    }
}

/// A store holding seven audit records: a workspace (1), its provider (2) and agent (3),
/// and four tasks (4 to 7).
async fn seven_records() -> Result<(TempDir, Storage), Box<dyn std::error::Error + Send + Sync>> {
    let dir = tempfile::tempdir()?;
    let storage = Storage::open(dir.path())?;
    let workspace = WorkspaceId::parse("acme")?;
    let provider = ProviderName::parse("model")?;
    let agent = AgentName::parse("bot")?;
    let mut entries = vec![
        entry(
            1,
            Command::CreateWorkspace {
                workspace: workspace.clone(),
                key: None,
            },
        ),
        entry(
            2,
            warden_core::fixtures::put_provider(&workspace, provider.as_str()),
        ),
        entry(
            3,
            Command::CreateAgent {
                workspace: workspace.clone(),
                spec: AgentSpec {
                    name: agent.clone(),
                    instructions: "be useful".to_owned(),
                    provider,
                    tools: vec![],
                    limits: Limits::default(),
                    paused: false,
                },
            },
        ),
    ];
    for index in 4..=7 {
        entries.push(entry(
            index,
            Command::SubmitTask {
                workspace: workspace.clone(),
                task_id: TaskId::from_u128(u128::from(index)),
                idempotency_key: IdempotencyKey::parse(&format!("key-{index}"))?,
                agent: agent.clone(),
                input: format!("input {index}"),
            },
        ));
    }
    let outcomes = storage.state_machine()?.apply(entries).await?;
    // A rejected entry is audited too, so a fixture the domain refuses would still give
    // seven records; the tests rely on what they hold.
    assert!(
        !outcomes
            .iter()
            .any(|outcome| matches!(outcome, Outcome::Rejected(_))),
        "{outcomes:?}"
    );
    Ok((dir, storage))
}

/// Builds a snapshot of `storage` and installs it on a fresh store: the image's records,
/// and the store that installed them (in a directory that lives as long as it is kept).
async fn install_elsewhere(
    storage: &Storage,
) -> TestResult<(Vec<(Vec<u8>, Vec<u8>)>, TempDir, Storage)> {
    use openraft::RaftSnapshotBuilder;
    let snapshot = storage
        .state_machine()?
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await?;
    let image = crate::codec::decode(|| "image".to_owned(), snapshot.snapshot.get_ref())?;
    let target = tempfile::tempdir()?;
    let installed = Storage::open(target.path())?;
    let mut machine = installed.state_machine()?;
    let mut data = machine.begin_receiving_snapshot().await?;
    data.get_mut()
        .extend_from_slice(snapshot.snapshot.get_ref());
    machine.install_snapshot(&snapshot.meta, data).await?;
    Ok((image, target, installed))
}

fn put_sm(storage: &Storage, key: &[u8], value: &[u8]) -> TestResult {
    let mut batch = WriteBatch::default();
    batch.put_cf(storage.cf(keys::SM_CF)?, key, value);
    Ok(storage.write_synced(batch, || "tampering".into())?)
}

fn delete_sm(storage: &Storage, key: &[u8]) -> TestResult {
    let mut batch = WriteBatch::default();
    batch.delete_cf(storage.cf(keys::SM_CF)?, key);
    Ok(storage.write_synced(batch, || "tampering".into())?)
}

fn failure_index(storage: &Storage) -> Result<Option<u64>, crate::Error> {
    Ok(storage
        .reader()
        .verify_audit()?
        .failure
        .map(|(index, _)| index))
}

#[tokio::test]
async fn every_single_bit_flip_of_a_record_is_caught_at_its_index() -> TestResult {
    let (_dir, storage) = seven_records().await?;
    let key = keys::audit_record(5);
    let original: Vec<u8> = storage
        .db()
        .get_cf(storage.cf(keys::SM_CF)?, &key)?
        .ok_or("no record 5")?;
    for position in 0..original.len() {
        for bit in [0x01, 0x80] {
            let mut damaged = original.clone();
            damaged[position] ^= bit;
            put_sm(&storage, &key, &damaged)?;
            assert_eq!(
                failure_index(&storage)?,
                Some(5),
                "byte {position} bit {bit:#x}"
            );
        }
    }
    put_sm(&storage, &key, &original)?;
    assert_eq!(failure_index(&storage)?, None);
    Ok(())
}

#[tokio::test]
async fn removed_records_and_a_stale_head_are_caught() -> TestResult {
    let (_dir, storage) = seven_records().await?;
    let record_5 = storage
        .db()
        .get_cf(storage.cf(keys::SM_CF)?, keys::audit_record(5))?
        .ok_or("no record 5")?;
    delete_sm(&storage, &keys::audit_record(5))?;
    assert_eq!(failure_index(&storage)?, Some(5));
    put_sm(&storage, &keys::audit_record(5), &record_5)?;
    assert_eq!(failure_index(&storage)?, None);

    // Dropping the newest record leaves a valid chain that the stored head contradicts.
    delete_sm(&storage, &keys::audit_record(7))?;
    let verification = storage.reader().verify_audit()?;
    assert_eq!(verification.record_count, 6);
    assert_eq!(verification.failure.map(|(index, _)| index), Some(7));

    // A head that does not decode is reported too.
    put_sm(&storage, keys::AUDIT_HEAD, b"\xff")?;
    assert!(failure_index(&storage)?.is_some());
    Ok(())
}

#[test]
fn membership_descriptions_are_sorted_and_name_learners_and_addresses() {
    let nodes: BTreeMap<u64, BasicNode> =
        [(4, "127.0.0.1:5000"), (2, "b:2"), (1, "a:1"), (3, "c:3")]
            .into_iter()
            .map(|(id, addr)| (id, BasicNode::new(addr)))
            .collect();
    let voters: BTreeSet<u64> = [3, 1, 2].into_iter().collect();
    let membership = Membership::new(vec![voters.clone()], nodes.clone());
    assert_eq!(
        describe_membership(&membership),
        "voters {1,2,3} learners {4}: node 1 at a:1, node 2 at b:2, node 3 at c:3, node 4 at 127.0.0.1:5000"
    );

    let joint = Membership::new(vec![voters, [1, 2].into_iter().collect()], nodes);
    assert!(describe_membership(&joint).starts_with("voters {1,2,3} and {1,2} learners {4}: "));
}

/// Every kind of record travels in a snapshot: one holding a trigger and a task's author
/// (whose tags the image check once left out) installs on another node.
#[tokio::test]
async fn a_snapshot_with_triggers_and_task_authors_installs() -> TestResult {
    let (_dir, storage) = seven_records().await?;
    // Raw records under the trigger (0x1e) and task-author (0x1f) tags.
    put_sm(&storage, b"\x1eacme\x00alerts", b"\x00")?;
    put_sm(&storage, b"\x1facme\x00task", b"\x00")?;
    let (_, _target, installed) = install_elsewhere(&storage).await?;
    let value = installed
        .db()
        .get_cf(installed.cf(keys::SM_CF)?, b"\x1eacme\x00alerts")?;
    assert_eq!(value.as_deref(), Some(&b"\x00"[..]));
    Ok(())
}
