//! Webhooks: where a workspace's notable task events are sent, and the delivery records
//! of that outbox. `apply()` writes a delivery for every webhook subscribed to an event
//! in the same commit as the event itself; the leader sends the pending ones and records
//! each attempt (`Command::RecordDeliveryAttempt`), so a new leader sends only those no
//! attempt finished.

use serde::{Deserialize, Serialize};
use warden_secrets::SealedSecret;

use crate::hash::Hash;
use crate::ids::{Principal, TaskId, WorkspaceId};
use crate::names::{AgentName, ServerName, ToolName, WebhookName};
use crate::resource::config_resource;

/// An event a webhook may subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum WebhookEvent {
    /// A tool call waits for a human's approval.
    ApprovalRequested,
    /// A waiting call was granted (its quorum reached) or denied.
    ApprovalDecided,
    /// A waiting call's approval request expired.
    ApprovalExpired,
    /// A task stopped for a human's decision (an interrupted call that is not retry-safe).
    TaskNeedsAttention,
    /// A task failed or timed out.
    TaskFailed,
    /// An agent asked a person a question (`warden/ask_human`); the task waits for the
    /// answer. Cluster protocol 4.
    QuestionAsked,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 6] = [
        WebhookEvent::ApprovalRequested,
        WebhookEvent::ApprovalDecided,
        WebhookEvent::ApprovalExpired,
        WebhookEvent::TaskNeedsAttention,
        WebhookEvent::TaskFailed,
        WebhookEvent::QuestionAsked,
    ];

    /// The event's name in the API, in deliveries' `event` field and their
    /// `X-Warden-Event` header.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::ApprovalRequested => "approval.requested",
            WebhookEvent::ApprovalDecided => "approval.decided",
            WebhookEvent::ApprovalExpired => "approval.expired",
            WebhookEvent::TaskNeedsAttention => "task.needs_attention",
            WebhookEvent::TaskFailed => "task.failed",
            WebhookEvent::QuestionAsked => "question.asked",
        }
    }

    /// The event named `name`; an unknown name is an error that lists the known ones.
    pub fn parse(name: &str) -> Result<WebhookEvent, String> {
        WebhookEvent::ALL
            .into_iter()
            .find(|event| event.as_str() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = WebhookEvent::ALL.iter().map(|e| e.as_str()).collect();
                format!("unknown event {name:?} (known: {})", known.join(", "))
            })
    }
}

impl std::fmt::Display for WebhookEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A registered webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub workspace: WorkspaceId,
    pub name: WebhookName,
    pub url: String,
    /// Sorted, without duplicates.
    pub events: Vec<WebhookEvent>,
    /// The key deliveries are signed with, sealed with the workspace's key
    /// ([`webhook_secret_context`]).
    pub secret: SealedSecret,
    pub version: u64,
    /// The log index that first created it (kept when it is replaced): a delivery made
    /// for a webhook deleted and created again under its name is not sent to the new one.
    pub created_index: u64,
    pub updated_ms: u64,
    pub updated_by: Principal,
}

/// The context a webhook's signing secret is sealed with.
pub fn webhook_secret_context(workspace: &WorkspaceId, name: &WebhookName) -> String {
    config_resource(workspace, "webhook", name.as_str())
}

/// A delivery's id: the log index of the entry whose event it carries and its place
/// among that entry's deliveries. Written `<log_index>-<seq>`; receivers deduplicate by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DeliveryId {
    pub log_index: u64,
    pub seq: u32,
}

impl DeliveryId {
    pub fn parse(text: &str) -> Result<DeliveryId, String> {
        let invalid = || format!("delivery id {text:?} is not <log_index>-<seq>");
        let (index, seq) = text.split_once('-').ok_or_else(invalid)?;
        Ok(DeliveryId {
            log_index: index.parse().map_err(|_| invalid())?,
            seq: seq.parse().map_err(|_| invalid())?,
        })
    }
}

impl std::fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.log_index, self.seq)
    }
}

/// What a delivery tells: the event and the task (and call) it is about. Fields that do
/// not apply to the event are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub event: WebhookEvent,
    pub time_ms: u64,
    pub task: TaskId,
    pub agent: AgentName,
    /// The task's status after the event.
    pub status: String,
    pub call_id: Option<String>,
    pub server: Option<ServerName>,
    pub tool: Option<ToolName>,
    pub arguments_hash: Option<Hash>,
    pub rule: Option<String>,
    pub expires_at_ms: Option<u64>,
    /// For a decision: granted (`true`) or denied, and by whom.
    pub approved: Option<bool>,
    pub by: Option<Principal>,
    pub reason: Option<String>,
}

impl Notice {
    /// A notice of `event` about `task` (of `agent`, now `status`) at `time_ms`, with no
    /// call or decision details.
    pub fn new(
        event: WebhookEvent,
        time_ms: u64,
        task: TaskId,
        agent: AgentName,
        status: &str,
    ) -> Notice {
        Notice {
            event,
            time_ms,
            task,
            agent,
            status: status.to_owned(),
            call_id: None,
            server: None,
            tool: None,
            arguments_hash: None,
            rule: None,
            expires_at_ms: None,
            approved: None,
            by: None,
            reason: None,
        }
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryState {
    /// To be sent (again) once the clock passes `next_attempt_ms`.
    Pending { next_attempt_ms: u64 },
    /// The receiver answered 2xx.
    Delivered { status: u16 },
    /// Given up: every attempt for the retry period failed, or the webhook is gone.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending { .. } => "pending",
            DeliveryState::Delivered { .. } => "delivered",
            DeliveryState::Failed => "failed",
        }
    }
}

/// One event for one webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub workspace: WorkspaceId,
    pub id: DeliveryId,
    pub webhook: WebhookName,
    /// The `created_index` of the webhook it was made for.
    pub webhook_created: u64,
    pub notice: Notice,
    pub created_ms: u64,
    pub state: DeliveryState,
    /// Attempts whose result was recorded.
    pub attempts: u32,
    pub last_attempt_ms: Option<u64>,
    /// Why the last attempt failed (an HTTP status or a connection error).
    pub last_error: Option<String>,
}

/// The result of one attempt to send a delivery, as its sender reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttemptResult {
    Delivered {
        status: u16,
    },
    /// Failed; try again at `next_attempt_ms`.
    Retry {
        error: String,
        next_attempt_ms: u64,
    },
    /// Failed, and no attempt follows.
    GaveUp {
        error: String,
    },
}

/// The most webhooks a workspace may have: each one multiplies every event's deliveries.
pub const MAX_WEBHOOKS_PER_WORKSPACE: usize = 16;
/// The most bytes of an event's reason a delivery keeps.
pub const MAX_NOTICE_REASON: usize = 1024;
/// The most bytes of a webhook URL.
pub const MAX_WEBHOOK_URL: usize = 2048;
/// The most bytes of an attempt's error a delivery keeps.
pub const MAX_DELIVERY_ERROR: usize = 512;
