//! Protocol versions: which commands a build can decode and apply, and the cluster's
//! protocol, which keeps newer commands out of the log until every member knows them.
//!
//! Every member decodes and applies every committed entry, so a command must not enter
//! the log while some member's build does not know it. Each build speaks [`PROTOCOL`];
//! each command names the protocol that introduced it ([`Command::since`]). The cluster
//! runs the protocol its state records (`Command::SetClusterProtocol`, raised by the
//! leader only once every member reported at least that protocol, never lowered). The
//! leader proposes no command newer than the cluster's protocol and `apply()` refuses
//! one, and a build older than the cluster's protocol stops rather than apply what it
//! cannot read (see `warden_raft`'s state machine).
//!
//! Protocols:
//! - 1: the command set of the first versioned build;
//! - 2: adds deleting providers, MCP servers, agents and workspaces, workspace settings
//!   and backups;
//! - 3: adds webhooks and their deliveries;
//! - 4: adds the built-in tools (`warden/ask_human`, `agent/<name>`: questions to people
//!   and delegation), answering and expiring questions, schedules;
//! - 5: adds webhook triggers and applying a workspace's configuration file;
//! - 6: adds grouped entries (`Command::Group`): many requests in one log entry.

use crate::command::{Action, Command};

/// The protocol this build speaks.
pub const PROTOCOL: u32 = 6;

/// The oldest protocol a cluster can run, and what one whose state records none runs.
pub const OLDEST_PROTOCOL: u32 = 1;

const _: () = assert!(OLDEST_PROTOCOL <= PROTOCOL);

impl Command {
    /// The protocol that introduced this command: the cluster must run at least this
    /// protocol before it enters the log. A recorded refusal is as new as the action it
    /// names, which it carries.
    pub fn since(&self) -> u32 {
        match self {
            Command::RecordRejection { action, .. } => action.since(),
            Command::Group { .. } => 6,
            Command::PutTrigger { .. }
            | Command::DeleteTrigger { .. }
            | Command::FireTrigger { .. }
            | Command::ApplyWorkspace { .. } => 5,
            Command::AnswerQuestion { .. }
            | Command::ExpireQuestion { .. }
            | Command::PutSchedule { .. }
            | Command::DeleteSchedule { .. }
            | Command::FireSchedule { .. } => 4,
            // Older builds cannot decode the event added with the built-in tools.
            Command::PutWebhook { events, .. }
                if events.contains(&crate::webhook::WebhookEvent::QuestionAsked) =>
            {
                4
            }
            Command::PutWebhook { .. }
            | Command::DeleteWebhook { .. }
            | Command::RecordDeliveryAttempt { .. } => 3,
            Command::DeleteProvider { .. }
            | Command::DeleteMcpServer { .. }
            | Command::DeleteAgent { .. }
            | Command::DeleteWorkspace { .. }
            | Command::SetWorkspaceSettings { .. }
            | Command::CreateBackup { .. } => 2,
            Command::Bootstrap { .. }
            | Command::AuthorizeMembershipChange { .. }
            | Command::CreateToken { .. }
            | Command::RevokeToken { .. }
            | Command::SetRoles { .. }
            | Command::CreateWorkspace { .. }
            | Command::PutPolicy { .. }
            | Command::DecideApproval { .. }
            | Command::ExpireApproval { .. }
            | Command::PutProvider { .. }
            | Command::RegisterMcpServer { .. }
            | Command::PinMcpTools { .. }
            | Command::PutCatalogEntry { .. }
            | Command::DeleteCatalogEntry { .. }
            | Command::CreateAgent { .. }
            | Command::UpdateAgent { .. }
            | Command::SubmitTask { .. }
            | Command::AssignTask { .. }
            | Command::AppendJournal { .. }
            | Command::CancelTask { .. }
            | Command::ResolveTask { .. }
            | Command::TimeOutTask { .. }
            | Command::MarkStalled { .. }
            | Command::AuditCheckpoint { .. }
            | Command::SetBudget { .. }
            | Command::SetPause { .. }
            | Command::SetClusterProtocol { .. } => 1,
        }
    }
}

impl Action {
    /// The protocol that introduced this action.
    pub fn since(self) -> u32 {
        match self {
            Action::ProviderDelete
            | Action::McpServerDelete
            | Action::AgentDelete
            | Action::WorkspaceDelete
            | Action::WorkspaceSettingsSet
            | Action::ClusterBackup => 2,
            Action::WebhookPut | Action::WebhookDelete | Action::WebhookDeliver => 3,
            Action::QuestionAnswer
            | Action::QuestionExpire
            | Action::SchedulePut
            | Action::ScheduleDelete
            | Action::ScheduleFire => 4,
            Action::TriggerPut
            | Action::TriggerDelete
            | Action::TriggerFire
            | Action::WorkspaceApply => 5,
            Action::Group => 6,
            Action::ClusterBootstrap
            | Action::ClusterMembership
            | Action::TokenCreate
            | Action::TokenRevoke
            | Action::RolesSet
            | Action::WorkspaceCreate
            | Action::PolicyPut
            | Action::ApprovalDecide
            | Action::ApprovalExpire
            | Action::ProviderPut
            | Action::McpServerRegister
            | Action::McpServerPin
            | Action::CatalogPut
            | Action::CatalogDelete
            | Action::AgentCreate
            | Action::AgentUpdate
            | Action::TaskSubmit
            | Action::TaskAssign
            | Action::TaskStep
            | Action::TaskCancel
            | Action::TaskResolve
            | Action::TaskTimeOut
            | Action::TaskMarkStalled
            | Action::MembershipChange
            | Action::BudgetSet
            | Action::Pause
            | Action::Resume
            | Action::AuditCheckpoint
            | Action::ClusterProtocolSet => 1,
        }
    }
}
