//! The replicated state: what `apply()` reads and writes.

use serde::{Deserialize, Serialize};
use warden_secrets::WrappedKey;

use crate::config::Limits;
use crate::hash::Hash;
use crate::ids::{IdempotencyKey, Principal, TaskId, WorkspaceId};
use crate::names::{AgentName, NodeId, ServerName, ToolName};
use crate::policy::{ApprovalRequirement, PolicySet, RuleId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub created_ms: u64,
    pub created_by: Principal,
    /// The workspace's key, wrapped by the cluster's master key: it seals the workspace's
    /// secrets. Set at creation by a node with a master key, or by the first command that
    /// stores a secret; never replaced.
    pub key: Option<WrappedKey>,
}

/// A workspace's settings, stored apart from its record; a workspace without one has the
/// defaults (everything off).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceSettings {
    pub workspace: WorkspaceId,
    /// Whether the workspace's traces carry content: task input and result, model output,
    /// tool arguments and results. Off by default; only metadata is exported then.
    pub trace_content: bool,
    pub updated_ms: u64,
    pub updated_by: Principal,
}

/// The task lifecycle of DESIGN.md: `Pending` until first placed, `Running` while it
/// has or awaits an owner, parked (no owner, no actor) while `WaitingApproval`,
/// `NeedsAttention`, `WaitingForInput` (a question to a person) or `WaitingForChild` (a
/// task it delegated to), and then one of the four terminal states. New variants go
/// last: the stored encoding numbers them in order.
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
    WaitingForInput,
    WaitingForChild,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Running => "running",
            TaskStatus::WaitingApproval => "waiting_approval",
            TaskStatus::NeedsAttention => "needs_attention",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::TimedOut => "timed_out",
            TaskStatus::WaitingForInput => "waiting_for_input",
            TaskStatus::WaitingForChild => "waiting_for_child",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Completed
                | TaskStatus::Failed
                | TaskStatus::Cancelled
                | TaskStatus::TimedOut
        )
    }

    /// Pending or running: the placement controller keeps such a task owned by a live node.
    pub fn is_runnable(self) -> bool {
        matches!(self, TaskStatus::Pending | TaskStatus::Running)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: TaskId,
    pub workspace: WorkspaceId,
    pub idempotency_key: IdempotencyKey,
    pub agent: AgentName,
    pub input: String,
    /// SHA-256 of the input. (The idempotency record binds the agent and the input.)
    pub input_hash: Hash,
    pub status: TaskStatus,
    pub submitted_ms: u64,
    pub submitted_by: Principal,
    /// The Raft log index of the entry that created the task.
    pub log_index: u64,
    pub limits: Limits,
    /// Wall-clock time after which the task times out.
    pub deadline_at_ms: u64,
    /// The node running the task, if any. Parked and terminal tasks have none.
    pub owner: Option<NodeId>,
    /// Raised by every assignment; journal commands from another epoch are refused.
    pub epoch: u64,
    /// Model turns journaled so far.
    pub turns: u32,
    pub tokens_used: u64,
    /// Journal entries so far: the next entry's sequence number.
    pub journal_len: u64,
    /// Time of the last journal progress, for stall detection.
    pub progress_ms: u64,
    pub stalled: bool,
    /// The tool calls of the last model turn that have not finished, in call order.
    pub open_calls: Vec<OpenCall>,
    /// The final answer of a completed task.
    pub result: Option<String>,
    /// Why the task failed, timed out, was cancelled or needs attention.
    pub reason: Option<String>,
}

/// A tool call the policy allowed that has not finished yet. Calls of one turn run in
/// order, so at most the first one has started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenCall {
    pub call_id: String,
    pub server: ServerName,
    pub tool: ToolName,
    /// The arguments as canonical JSON (keys sorted, no whitespace).
    pub arguments: String,
    pub arguments_hash: Hash,
    /// Whether the call may run again after an attempt that never finished: the tool is
    /// read-only or idempotent, or the agent's grant says so.
    pub retry_safe: bool,
    /// Attempts started so far.
    pub attempts: u32,
    /// A human chose `retry` for the interrupted attempt.
    pub retry_approved: bool,
    /// Policy requires approval before the call may start; cleared once granted.
    pub approval: Option<PendingApproval>,
    /// The approval that released the call: it still releases it when the call starts
    /// only if the policy asks the same rule's approvers for the same quorum.
    pub granted: Option<PendingApproval>,
    /// The version of the workspace's policy the call was last decided under.
    pub policy_version: u64,
}

/// An approval request for one call, bound to its arguments' hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingApproval {
    pub rule: RuleId,
    pub requirement: ApprovalRequirement,
    pub requested_ms: u64,
    pub expires_at_ms: u64,
    /// The distinct approvers who approved so far.
    pub votes: Vec<Vote>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    pub principal: Principal,
    pub reason: String,
    pub time_ms: u64,
}

/// A workspace's policy rules, versioned like an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPolicy {
    pub workspace: WorkspaceId,
    pub policy: PolicySet,
    pub version: u64,
    pub updated_ms: u64,
    pub updated_by: Principal,
}

/// What an idempotency key was first used for, so a retry finds the same task and a
/// reuse with another payload is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub task_id: TaskId,
    pub payload_hash: Hash,
}
