//! Warden's domain: ids, the replicated command set, the state it changes, the
//! deterministic `apply()` and the audit hash chain.
//!
//! Pure by construction: no I/O, no clock, no randomness, no async. Whoever proposes a
//! command stamps its time and ids into it, so every node applying the same log reaches
//! the same state and the same audit chain.

pub mod action;
pub mod anchor;
pub mod apply;
pub mod audit;
pub mod budget;
pub mod builtin;
pub mod catalog;
pub mod command;
pub mod config;
pub mod error;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod group;
pub mod hash;
pub mod identity;
pub mod ids;
pub mod journal;
pub mod membership;
pub mod memory;
pub mod model;
pub mod names;
pub mod outcome;
pub mod policy;
pub mod resource;
pub mod role;
pub mod schedule;
pub mod switches;
pub mod trigger;
pub mod version;
pub mod webhook;
pub mod workspace_config;

pub use anchor::{AuditKey, AuditSettings, Checkpoint, NodeRecord};
pub use apply::{
    Applied, Place, Probe, StateRead, Subject, Write, apply, apply_at, apply_membership,
    decide_call, decider_refusal, require,
};
pub use audit::{AuditHead, AuditRecord, ChainError, ChainVerifier};
pub use budget::{Budget, BudgetScope};
pub use builtin::{Builtin, ParentLink, Question, TaskLinks, Waiting};
pub use catalog::{CatalogEntry, CatalogSpec, catalog_resource};
pub use command::{Action, Command, Request, Step};
pub use config::{
    Agent, AgentSpec, Limits, McpServer, McpTransport, Provider, ProviderKind, ToolDefinition,
    ToolGrant, mcp_bearer_context, mcp_env_context, provider_key_context,
};
pub use error::Error;
pub use hash::Hash;
pub use identity::{Permission, PresentedToken, RoleBinding, Scope, Token, TokenId};
pub use ids::{IdempotencyKey, Principal, PrincipalKind, TaskId, WorkspaceId};
pub use journal::{
    CallDecision, JournalEntry, RequestedCall, Resolution, TaskEvent, Usage, canonical_json,
    tool_arguments,
};
pub use membership::MembershipChange;
pub use model::{
    IdempotencyRecord, OpenCall, PendingApproval, StoredPolicy, Task, TaskStatus, Vote, Workspace,
    WorkspaceSettings,
};
pub use names::{
    AgentName, CatalogName, NodeId, ProviderName, ScheduleName, ServerName, ToolName, TriggerName,
    WebhookName,
};
pub use outcome::{Code, Outcome, Rejection, cut_text};
pub use role::Role;
pub use schedule::{CatchUp, Schedule, ScheduleSpec};
pub use switches::{Pause, PauseTarget, Switches, ToolPause};
pub use trigger::{Trigger, TriggerSpec, trigger_secret_context};
pub use version::{OLDEST_PROTOCOL, PROTOCOL};
pub use webhook::{
    AttemptResult, Delivery, DeliveryId, DeliveryState, Notice, Webhook, WebhookEvent,
    webhook_secret_context,
};

#[cfg(test)]
mod tests;
