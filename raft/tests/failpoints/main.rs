//! The storage layer under injected faults (`--features failpoints`): a failpoint set to
//! `return` fails a write the way a RocksDB error does, one set to `panic` crashes the
//! writer at that point. A crashed store is reopened from the same directory, as a
//! restarted node would, and must hold everything that was acknowledged and nothing
//! half-written.
//!
//! The failpoint registry is global to the process: every test holds a `FailScenario`,
//! which runs them one at a time and clears every failpoint when it drops.

mod append;
mod apply;
#[allow(dead_code)]
#[path = "../storage/fixtures.rs"]
mod fixtures;
mod install;
mod node_stops;

use std::future::Future;

use warden_core::{AuditHead, TaskId, WorkspaceId};
use warden_raft::Storage;
use warden_raft::types::LogId;

use crate::fixtures::{TestResult, ws};

/// Runs `work` as its own task and expects it to panic at a failpoint: a crash there.
/// Everything the task holds (its store handles among them) is dropped as it unwinds, so
/// the database can be reopened afterwards. Each write the task made before the panic had
/// reached RocksDB's write-ahead log file, which is what survives a process crash too.
pub async fn crash<F>(work: F) -> TestResult
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match tokio::spawn(work).await {
        Err(error) if error.is_panic() => Ok(()),
        Err(error) => Err(error.into()),
        Ok(_) => Err("the work finished instead of crashing at its failpoint".into()),
    }
}

/// What a store shows of its state machine, to compare stores and reopened stores.
#[derive(Debug, PartialEq)]
pub struct View {
    pub applied: Option<LogId>,
    pub head: AuditHead,
    pub workspaces: Vec<WorkspaceId>,
    pub acme_tasks: Vec<TaskId>,
}

/// The view of `storage`, after checking that its audit chain verifies to its head.
pub fn view(storage: &Storage) -> Result<View, Box<dyn std::error::Error + Send + Sync>> {
    let reader = storage.reader();
    let head = reader.audit_head()?;
    let verification = reader.verify_audit()?;
    if verification.failure.is_some() || verification.record_count != head.count {
        return Err(format!("the audit chain does not verify: {verification:?}").into());
    }
    let (tasks, _) = reader.tasks_page(&ws("acme"), None, 1000)?;
    Ok(View {
        applied: reader.applied_log_id()?,
        head,
        workspaces: reader
            .workspaces()?
            .into_iter()
            .map(|workspace| workspace.id)
            .collect(),
        acme_tasks: tasks.into_iter().map(|task| task.id).collect(),
    })
}

/// Fails unless `error` names `failpoint`: the injected error is what the caller saw.
pub fn assert_injected(error: &impl std::fmt::Display, failpoint: &str) {
    let text = error.to_string();
    assert!(
        text.contains(failpoint),
        "expected the error of failpoint {failpoint}, got: {text}"
    );
}
