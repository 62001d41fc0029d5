//! A whole Raft node over the real store: a failed log write or apply stops it for good
//! (openraft reports a fatal storage error and never acknowledges again), and the node
//! restarted from its data directory holds every acknowledged write and goes on.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::storage::RaftLogStorage;
use openraft::{BasicNode, ServerState};
use warden_core::{Command, Principal, Request};
use warden_raft::failpoints::{APPLY_BEFORE_WRITE, LOG_APPEND_BEFORE_SYNC};
use warden_raft::{Network, Options, PeerTransport, Raft, Storage};

use crate::assert_injected;
use crate::fixtures::{TestResult, ws};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const WITHIN: Duration = Duration::from_secs(20);

/// Starts node 1 over the database in `dir` and waits until it leads; a fresh database
/// becomes a one-node cluster.
async fn start(dir: &Path) -> Result<(Storage, Raft), BoxError> {
    let storage = reopen(dir).await?;
    let config = Options::default().to_openraft("failpoints")?;
    let raft = Raft::new(
        1,
        Arc::new(config),
        Network::new(Duration::from_secs(1), None, PeerTransport::Insecure),
        storage.log_store(),
        storage.state_machine()?,
    )
    .await?;
    if !raft.is_initialized().await? {
        raft.initialize(BTreeMap::from([(1, BasicNode::new("127.0.0.1:9"))]))
            .await?;
    }
    raft.wait(Some(WITHIN))
        .state(ServerState::Leader, "node 1 leads")
        .await?;
    Ok((storage, raft))
}

/// Opens the database in `dir`, waiting for a stopped node's tasks to let go of it.
async fn reopen(dir: &Path) -> Result<Storage, BoxError> {
    let deadline = Instant::now() + WITHIN;
    loop {
        match Storage::open(dir) {
            Ok(storage) => return Ok(storage),
            Err(error) if Instant::now() > deadline => return Err(error.into()),
            Err(_still_open) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

fn create(workspace: &str) -> Request {
    Request {
        time_ms: 1_000,
        principal: Principal::system(),
        token: None,
        command: Command::CreateWorkspace {
            workspace: ws(workspace),
            key: None,
        },
    }
}

/// Writes `workspace` and returns the log index it was acknowledged at.
async fn acknowledged(raft: &Raft, workspace: &str) -> Result<u64, BoxError> {
    let response = tokio::time::timeout(WITHIN, raft.client_write(create(workspace))).await??;
    Ok(response.log_id.index)
}

/// Expects the write of `workspace` to fail without an acknowledgement.
async fn refused(raft: &Raft, workspace: &str) -> Result<String, BoxError> {
    match tokio::time::timeout(WITHIN, raft.client_write(create(workspace))).await? {
        Ok(response) => Err(format!("{workspace} was acknowledged at {}", response.log_id).into()),
        Err(error) => Ok(error.to_string()),
    }
}

/// Waits until Raft reports it stopped on a fatal error, and returns that error.
async fn fatal(raft: &Raft) -> Result<String, BoxError> {
    let metrics = raft
        .wait(Some(WITHIN))
        .metrics(|metrics| metrics.running_state.is_err(), "raft stops")
        .await?;
    match metrics.running_state {
        Err(fatal) => Ok(fatal.to_string()),
        Ok(()) => Err("raft is still running".into()),
    }
}

/// Shuts the stopped node down and drops every handle on its database.
async fn stop(storage: Storage, raft: Raft) {
    // The core already ended on its fatal error; shutdown only collects it.
    let _already_stopped = raft.shutdown().await;
    drop((storage, raft));
}

fn workspace_names(storage: &Storage) -> Result<Vec<String>, BoxError> {
    Ok(storage
        .reader()
        .workspaces()?
        .into_iter()
        .map(|workspace| workspace.id.to_string())
        .collect())
}

#[tokio::test]
async fn a_failed_log_append_stops_the_node_and_nothing_after_it_is_acknowledged() -> TestResult {
    let _scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir()?;
    let (storage, raft) = start(dir.path()).await?;
    let mut last_acknowledged = 0;
    for workspace in ["w0", "w1", "w2"] {
        last_acknowledged = acknowledged(&raft, workspace).await?;
    }

    fail::cfg(LOG_APPEND_BEFORE_SYNC, "return")?;
    let refusal = refused(&raft, "lost").await?;
    let fatal = fatal(&raft).await?;
    assert_injected(&fatal, LOG_APPEND_BEFORE_SYNC);
    // The disk is back, but the node stays stopped: it never acknowledges after a
    // failed write.
    fail::remove(LOG_APPEND_BEFORE_SYNC);
    let later = refused(&raft, "later").await?;
    println!("refused: {refusal}; then: {later}; fatal: {fatal}");
    stop(storage, raft).await;

    // Restarted from its data directory: the log ends at the last acknowledged write,
    // which it holds with everything before it, and the node takes writes again.
    let storage = reopen(dir.path()).await?;
    let state = storage.log_store().get_log_state().await?;
    assert_eq!(
        state.last_log_id.map(|log_id| log_id.index),
        Some(last_acknowledged)
    );
    drop(storage);
    let (storage, raft) = start(dir.path()).await?;
    acknowledged(&raft, "w3").await?;
    assert_eq!(workspace_names(&storage)?, ["w0", "w1", "w2", "w3"]);
    raft.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn a_failed_apply_stops_the_node_and_the_restart_applies_from_the_log() -> TestResult {
    let _scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir()?;
    let (storage, raft) = start(dir.path()).await?;
    acknowledged(&raft, "w0").await?;

    fail::cfg(APPLY_BEFORE_WRITE, "return")?;
    refused(&raft, "unapplied").await?;
    assert_injected(&fatal(&raft).await?, APPLY_BEFORE_WRITE);
    fail::remove(APPLY_BEFORE_WRITE);
    refused(&raft, "later").await?;
    assert_eq!(workspace_names(&storage)?, ["w0"]);
    stop(storage, raft).await;

    // The entry was committed before its apply failed, so its outcome was unknown to
    // the client; the restarted node applies it from the log.
    let (storage, raft) = start(dir.path()).await?;
    acknowledged(&raft, "w1").await?;
    assert_eq!(workspace_names(&storage)?, ["unapplied", "w0", "w1"]);
    let verification = storage.reader().verify_audit()?;
    assert_eq!(verification.failure, None);
    raft.shutdown().await?;
    Ok(())
}
