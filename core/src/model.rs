//! The replicated state: what `apply()` reads and writes.

use serde::{Deserialize, Serialize};

use crate::hash::Hash;
use crate::ids::{IdempotencyKey, Principal, TaskId, WorkspaceId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub created_ms: u64,
    pub created_by: Principal,
}

/// The task lifecycle of DESIGN.md. Tasks are records until execution lands; every
/// submitted task starts `Pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TaskStatus {
    Pending,
    Running,
    WaitingApproval,
    NeedsAttention,
    Completed,
    Failed,
    Cancelled,
    TimedOut,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: TaskId,
    pub workspace: WorkspaceId,
    pub idempotency_key: IdempotencyKey,
    pub input: String,
    pub input_hash: Hash,
    pub status: TaskStatus,
    pub submitted_ms: u64,
    pub submitted_by: Principal,
    /// The Raft log index of the entry that created the task.
    pub log_index: u64,
}

/// What an idempotency key was first used for, so a retry finds the same task and a
/// reuse with another payload is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub task_id: TaskId,
    pub payload_hash: Hash,
}
