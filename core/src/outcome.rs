//! What applying a command produced: the accepted result or the rejection.

use serde::{Deserialize, Serialize};

use crate::budget::{Budget, BudgetScope};
use crate::catalog::CatalogEntry;
use crate::config::{Agent, McpServer, Provider};
use crate::identity::{RoleBinding, Token};
use crate::ids::WorkspaceId;
use crate::journal::JournalEntry;
use crate::model::{StoredPolicy, Task, Workspace};
use crate::switches::PauseTarget;

/// Why a command was refused. The code is one of the gRPC codes DESIGN.md assigns to
/// bad input; the API layer maps it one-to-one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Code {
    InvalidArgument,
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    /// A conflict with a concurrent change: a stale fencing epoch, a stale version.
    Aborted,
    ResourceExhausted,
    PermissionDenied,
    Unauthenticated,
}

impl Code {
    /// The gRPC name of the code, as recorded in audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub code: Code,
    pub message: String,
}

impl Rejection {
    pub fn new(code: Code, message: impl Into<String>) -> Rejection {
        Rejection {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

/// The result of one applied log entry, returned to the proposer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    WorkspaceCreated(Workspace),
    TaskSubmitted {
        task: Task,
        deduplicated: bool,
    },
    ProviderPut(Provider),
    /// Registered, not pinned yet.
    McpServerRegistered(McpServer),
    McpServerPinned(McpServer),
    CatalogEntryPut(CatalogEntry),
    /// The entry as it was before it was removed.
    CatalogEntryDeleted(CatalogEntry),
    AgentSaved(Agent),
    /// A command that changed an existing task (placement, a journal step, a human's
    /// decision): the task as it is now and the journal entries the command added.
    TaskUpdated {
        task: Task,
        entries: Vec<JournalEntry>,
    },
    TokenCreated(Token),
    TokenRevoked(Token),
    RolesSet(RoleBinding),
    PolicyPut(StoredPolicy),
    MembershipChanged,
    /// An admin's membership change, recorded; the Raft change follows.
    MembershipChangeAuthorized(crate::membership::MembershipChange),
    /// A node's checkpoint, verified and stored.
    CheckpointRecorded(crate::anchor::Checkpoint),
    /// A leader's blank entry: nothing to apply and nothing to audit.
    Noop,
    Rejected(Rejection),
    /// A budget as it is now; `None` when the command removed it.
    BudgetSet {
        workspace: WorkspaceId,
        scope: BudgetScope,
        budget: Option<Budget>,
    },
    /// A pause set or lifted, and why.
    PauseSet {
        workspace: WorkspaceId,
        target: PauseTarget,
        paused: bool,
        reason: String,
    },
    /// The removed record, as it was before.
    ProviderDeleted(Provider),
    McpServerDeleted(McpServer),
    AgentDeleted(Agent),
    WorkspaceDeleted(Workspace),
    WorkspaceSettingsSet(crate::model::WorkspaceSettings),
    /// A backup from this node may be taken.
    BackupRecorded {
        node: crate::names::NodeId,
    },
    /// The protocol the cluster ran before, and the one it runs now.
    ClusterProtocolSet {
        from: u32,
        to: u32,
    },
    WebhookPut(crate::webhook::Webhook),
    /// The removed webhook, as it was.
    WebhookDeleted(crate::webhook::Webhook),
    /// A delivery after the attempt was recorded.
    DeliveryRecorded(crate::webhook::Delivery),
    SchedulePut(crate::schedule::Schedule),
    /// The removed schedule, as it was.
    ScheduleDeleted(crate::schedule::Schedule),
    /// A firing recorded: the schedule after it, the task it submitted (none when it was
    /// skipped or the submission was refused), and what happened, for the audit record.
    ScheduleFired {
        schedule: crate::schedule::Schedule,
        task: Option<crate::model::Task>,
        detail: String,
    },
    TriggerPut(crate::trigger::Trigger),
    /// The removed trigger, as it was.
    TriggerDeleted(crate::trigger::Trigger),
    /// A request to a trigger accepted: the trigger after it, the task it submitted, and
    /// what happened, for the audit record.
    TriggerFired {
        trigger: crate::trigger::Trigger,
        task: crate::model::Task,
        detail: String,
    },
    /// A configuration file applied: each change's action and resource, in order, and
    /// their list for the audit record.
    WorkspaceApplied {
        workspace: crate::ids::WorkspaceId,
        changes: Vec<String>,
        detail: String,
    },
    /// The outcomes of a group's requests, in order (`crate::group`). Last, as every
    /// variant added since the first protocol: nodes of two builds exchange outcomes
    /// encoded by variant position.
    Group(Vec<Outcome>),
}

/// `text`, or its first `max` bytes (cut at a character boundary) and an ellipsis: how
/// audit records keep texts that come from callers to a bounded size.
pub fn cut_text(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}
