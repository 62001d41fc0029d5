//! The replicated command set: what a Raft log entry asks the state machine to do.

use serde::{Deserialize, Serialize};

use crate::hash::Hash;
use crate::ids::{IdempotencyKey, Principal, TaskId, WorkspaceId};
use crate::outcome::Rejection;

/// One log entry's payload. The proposer stamps the time and the principal, so
/// `apply()` never reads a clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub time_ms: u64,
    pub principal: Principal,
    pub command: Command,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    CreateWorkspace {
        workspace: WorkspaceId,
    },
    SubmitTask {
        workspace: WorkspaceId,
        /// Chosen by the proposer; ignored when the idempotency key finds an earlier task.
        task_id: TaskId,
        idempotency_key: IdempotencyKey,
        input: String,
    },
    /// A request the proposer refused before it could become a command (malformed ids,
    /// oversized input). Carries only the hash of what was sent, so the audit chain shows
    /// the attempt without storing its payload.
    RecordRejection {
        action: Action,
        resource: String,
        payload_hash: Hash,
        rejection: Rejection,
    },
}

/// The audited action a command performs, named `noun.verb` in audit records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    WorkspaceCreate,
    TaskSubmit,
    MembershipChange,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::WorkspaceCreate => "workspace.create",
            Action::TaskSubmit => "task.submit",
            Action::MembershipChange => "cluster.membership_change",
        }
    }
}

impl Command {
    pub fn action(&self) -> Action {
        match self {
            Command::CreateWorkspace { .. } => Action::WorkspaceCreate,
            Command::SubmitTask { .. } => Action::TaskSubmit,
            Command::RecordRejection { action, .. } => *action,
        }
    }

    /// SHA-256 of the command's JSON encoding (struct fields in declaration order), the
    /// `payload_hash` of its audit record. A recorded rejection carries the hash of the
    /// refused request instead.
    pub fn payload_hash(&self) -> Hash {
        match self {
            Command::RecordRejection { payload_hash, .. } => *payload_hash,
            other => match serde_json::to_vec(other) {
                Ok(bytes) => Hash::of(&bytes),
                // Serializing plain structs of strings and integers cannot fail.
                Err(_) => Hash::ZERO,
            },
        }
    }
}

/// The audit resource name of a workspace.
pub fn workspace_resource(workspace: &WorkspaceId) -> String {
    format!("workspace/{workspace}")
}

/// The audit resource name of a workspace's task collection.
pub fn tasks_resource(workspace: &WorkspaceId) -> String {
    format!("workspace/{workspace}/task")
}

/// The audit resource name of a task.
pub fn task_resource(workspace: &WorkspaceId, task: &TaskId) -> String {
    format!("workspace/{workspace}/task/{task}")
}
