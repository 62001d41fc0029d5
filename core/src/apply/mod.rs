//! The deterministic state machine: `apply()` turns one request and the current state
//! into an outcome, a set of writes and exactly one audit record.
//!
//! It reads state through [`StateRead`] and never writes: the caller commits the
//! returned writes and audit record atomically with the applied log index. A rejected
//! command returns no writes, so it changes nothing but the audit chain.

mod approval;
mod audit_text;
use audit_text::{governance_detail, resource_of};
mod authz;
mod budget;
mod call_decision;
mod call_start;
mod catalog;
mod checkpoint;
mod config;
mod delegate;
mod delete;
mod drift;
mod execution;
mod identity;
mod lifecycle;
mod mcp_server;
mod model_turn;
mod outbox;
mod overlay;
mod pause;
mod placement;
mod policy;
mod protocol;
mod question;
mod schedule;
mod submit;
mod task_update;
mod trigger;
mod webhook;
mod workspace_apply;

use crate::anchor::{AuditSettings, Checkpoint, NodeRecord};
use crate::audit::{AuditHead, AuditRecord, OUTCOME_ACCEPTED, OUTCOME_REJECTED, RecordBody};
use crate::budget::{Budget, BudgetScope};
use crate::builtin::TaskLinks;
use crate::catalog::CatalogEntry;
use crate::command::{Action, Command, Request};
use crate::config::{Agent, McpServer, Provider};
use crate::hash::Hash;
use crate::identity::{RoleBinding, Scope, Token, TokenId};
use crate::ids::{IdempotencyKey, Principal, TaskId, WorkspaceId};
use crate::journal::JournalEntry;
use crate::model::{IdempotencyRecord, StoredPolicy, Task, Workspace, WorkspaceSettings};
use crate::names::{AgentName, CatalogName, NodeId, ProviderName, ServerName, WebhookName};
use crate::outcome::{Code, Outcome, Rejection};
use crate::resource::task_resource;
use crate::switches::Switches;
use crate::webhook::{Delivery, DeliveryId, Webhook};
use warden_secrets::WrappedKey;

pub use approval::decider_refusal;
pub use authz::require;
pub use call_decision::{Probe, Subject, decide_call};
pub use protocol::too_new as protocol_too_new;

/// Point reads of the replicated state. `Error` is the storage's own failure, which
/// is fatal to the caller; domain problems are rejections, never errors.
pub trait StateRead {
    type Error;
    fn workspace(&self, id: &WorkspaceId) -> Result<Option<Workspace>, Self::Error>;
    fn task(&self, workspace: &WorkspaceId, id: &TaskId) -> Result<Option<Task>, Self::Error>;
    fn idempotency(
        &self,
        workspace: &WorkspaceId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, Self::Error>;
    fn provider(
        &self,
        workspace: &WorkspaceId,
        name: &ProviderName,
    ) -> Result<Option<Provider>, Self::Error>;
    fn mcp_server(
        &self,
        workspace: &WorkspaceId,
        name: &ServerName,
    ) -> Result<Option<McpServer>, Self::Error>;
    fn agent(
        &self,
        workspace: &WorkspaceId,
        name: &AgentName,
    ) -> Result<Option<Agent>, Self::Error>;
    fn catalog_entry(&self, name: &CatalogName) -> Result<Option<CatalogEntry>, Self::Error>;
    fn token(&self, id: &TokenId) -> Result<Option<Token>, Self::Error>;
    fn role_binding(
        &self,
        scope: &Scope,
        principal: &Principal,
    ) -> Result<Option<RoleBinding>, Self::Error>;
    /// The first cluster admin, once the cluster was bootstrapped.
    fn bootstrapped(&self) -> Result<Option<Principal>, Self::Error>;
    fn policy(&self, workspace: &WorkspaceId) -> Result<Option<StoredPolicy>, Self::Error>;
    fn budget(
        &self,
        workspace: &WorkspaceId,
        scope: &BudgetScope,
    ) -> Result<Option<Budget>, Self::Error>;
    /// The workspace's pauses (its own and its tools'), `None` when nothing is paused.
    fn switches(&self, workspace: &WorkspaceId) -> Result<Option<Switches>, Self::Error>;
    /// The audit record at 1-based chain position `index`.
    fn audit_record(&self, index: u64) -> Result<Option<AuditRecord>, Self::Error>;
    /// What the cluster registered about `node`'s audit keys.
    fn node_record(&self, node: NodeId) -> Result<Option<NodeRecord>, Self::Error>;
    /// The workspace's agents, in name order.
    fn agents(&self, workspace: &WorkspaceId) -> Result<Vec<Agent>, Self::Error>;
    /// The workspace's model providers, in name order.
    fn providers(&self, workspace: &WorkspaceId) -> Result<Vec<Provider>, Self::Error>;
    /// The workspace's MCP servers, in name order.
    fn mcp_servers(&self, workspace: &WorkspaceId) -> Result<Vec<McpServer>, Self::Error>;
    /// The workspace's budgets: its own first, then its agents' in name order.
    fn budgets(&self, workspace: &WorkspaceId) -> Result<Vec<Budget>, Self::Error>;
    /// The workspace's unfinished (not terminal) tasks and their agents, in id order.
    fn unfinished_tasks(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<Vec<(TaskId, AgentName)>, Self::Error>;
    /// The protocol the cluster runs: the last one set, or `OLDEST_PROTOCOL`.
    fn cluster_protocol(&self) -> Result<u32, Self::Error>;
    fn webhook(
        &self,
        workspace: &WorkspaceId,
        name: &WebhookName,
    ) -> Result<Option<Webhook>, Self::Error>;
    /// The workspace's webhooks, in name order.
    fn webhooks(&self, workspace: &WorkspaceId) -> Result<Vec<Webhook>, Self::Error>;
    fn delivery(
        &self,
        workspace: &WorkspaceId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, Self::Error>;
    fn schedule(
        &self,
        workspace: &WorkspaceId,
        name: &crate::names::ScheduleName,
    ) -> Result<Option<crate::schedule::Schedule>, Self::Error>;
    /// The workspace's schedules, in name order.
    fn schedules(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<Vec<crate::schedule::Schedule>, Self::Error>;
    fn trigger(
        &self,
        workspace: &WorkspaceId,
        name: &crate::names::TriggerName,
    ) -> Result<Option<crate::trigger::Trigger>, Self::Error>;
    /// The workspace's webhook triggers, in name order.
    fn triggers(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<Vec<crate::trigger::Trigger>, Self::Error>;
    /// Who last put the schedule or trigger that submitted the task, as of its firing.
    fn task_author(
        &self,
        workspace: &WorkspaceId,
        task: &TaskId,
    ) -> Result<Option<Principal>, Self::Error>;
    /// A task's links to its parent and children and what it waits for besides approval.
    fn task_links(
        &self,
        workspace: &WorkspaceId,
        task: &TaskId,
    ) -> Result<Option<TaskLinks>, Self::Error>;
}

/// A change to the replicated state, committed by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Workspace(Workspace),
    Task(Task),
    Idempotency {
        workspace: WorkspaceId,
        key: IdempotencyKey,
        record: IdempotencyRecord,
    },
    Provider(Provider),
    McpServer(McpServer),
    CatalogEntry(CatalogEntry),
    RemoveCatalogEntry(CatalogName),
    Agent(Agent),
    Token(Token),
    RoleBinding(RoleBinding),
    RemoveRoleBinding {
        scope: Scope,
        principal: Principal,
    },
    Bootstrapped(Principal),
    Policy(StoredPolicy),
    Budget(Budget),
    RemoveBudget {
        workspace: WorkspaceId,
        scope: BudgetScope,
    },
    Switches(Switches),
    RemoveSwitches(WorkspaceId),
    /// A node's registered audit keys and membership.
    Node(NodeRecord),
    /// An accepted checkpoint, stored by node and index.
    Checkpoint(Checkpoint),
    AuditSettings(AuditSettings),
    /// A new entry of a task's journal; entries are never rewritten.
    Journal {
        workspace: WorkspaceId,
        task: TaskId,
        entry: JournalEntry,
    },
    RemoveProvider {
        workspace: WorkspaceId,
        name: ProviderName,
    },
    RemoveMcpServer {
        workspace: WorkspaceId,
        name: ServerName,
    },
    RemoveAgent {
        workspace: WorkspaceId,
        name: AgentName,
    },
    /// The workspace and everything stored under it (the audit chain is not under it).
    RemoveWorkspace(WorkspaceId),
    WorkspaceSettings(WorkspaceSettings),
    /// The protocol the cluster runs from now on.
    ClusterProtocol(u32),
    Webhook(Webhook),
    RemoveWebhook {
        workspace: WorkspaceId,
        name: WebhookName,
    },
    /// A delivery, new or after an attempt; the store keeps its pending ones indexed.
    Delivery(Delivery),
    TaskLinks(TaskLinks),
    Schedule(crate::schedule::Schedule),
    RemoveSchedule {
        workspace: WorkspaceId,
        name: crate::names::ScheduleName,
    },
    /// Who last put the schedule or trigger that submitted `task`, when it fired: they
    /// decide none of its calls.
    TaskAuthor {
        workspace: WorkspaceId,
        task: TaskId,
        author: Principal,
    },
    Trigger(crate::trigger::Trigger),
    RemoveTrigger {
        workspace: WorkspaceId,
        name: crate::names::TriggerName,
    },
}

/// The most of a refusal's text an audit record keeps, in bytes.
pub const MAX_REJECTION_DETAIL: usize = 512;

/// Everything one applied entry produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub outcome: Outcome,
    pub writes: Vec<Write>,
    pub audit: AuditRecord,
}

type Decision = Result<(Outcome, Vec<Write>), Rejection>;

/// Where in the log a request applies: its entry's index and, for a request of a group
/// (`crate::group`), the number of webhook deliveries the requests before it in the
/// same entry made, which its own are numbered after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub log_index: u64,
    pub first_delivery: u32,
}

impl Place {
    /// The place of a request that has its entry to itself.
    pub fn entry(log_index: u64) -> Place {
        Place {
            log_index,
            first_delivery: 0,
        }
    }
}

/// Applies the request found at `log_index`, chaining its audit record after `head`.
pub fn apply<S: StateRead>(
    state: &S,
    head: &AuditHead,
    log_index: u64,
    request: &Request,
) -> Result<Applied, S::Error> {
    apply_at(state, head, Place::entry(log_index), request)
}

/// Applies `request` at `place`, chaining its audit record after `head`.
pub fn apply_at<S: StateRead>(
    state: &S,
    head: &AuditHead,
    place: Place,
    request: &Request,
) -> Result<Applied, S::Error> {
    let Place {
        log_index,
        first_delivery,
    } = place;
    let command = &request.command;
    // Time in applied state never goes backwards: a proposer's clock behind the last
    // record's (a new leader's, say) counts as that record's time.
    let time_ms = request.time_ms.max(head.time_ms);
    let at = At {
        log_index,
        first_delivery,
        time_ms,
        principal: &request.principal,
        head,
    };
    let refusal = match authz::refusal(state, request, time_ms)? {
        Some(rejection) => Some(rejection),
        None => protocol::refusal(state, command)?,
    };
    let (resource, decision) = match (refusal, command) {
        (Some(rejection), _) => (resource_of(command), Err(rejection)),
        (None, Command::ApplyWorkspace { .. }) => workspace_apply::apply(state, &at, request)?,
        (None, _) => decide(state, &at, command)?,
    };
    // The webhook outbox is written with the events it tells about, after delegation has
    // followed the tasks the command ended to their parents and children.
    let decision = match decision {
        Ok((outcome, mut writes)) => {
            delegate::settle(state, &at, &mut writes)?;
            let deliveries = outbox::deliveries(state, &at, &writes)?;
            writes.extend(deliveries);
            Ok((outcome, writes))
        }
        refused => refused,
    };
    let (outcome, writes, outcome_name, detail) = match decision {
        Ok((outcome, writes)) => {
            let detail = governance_detail(&outcome);
            (outcome, writes, OUTCOME_ACCEPTED, detail)
        }
        Err(rejection) => {
            // A refusal may quote what the caller sent; its record keeps a bounded part.
            let detail = crate::cut_text(&rejection.to_string(), MAX_REJECTION_DETAIL);
            (
                Outcome::Rejected(rejection),
                Vec::new(),
                OUTCOME_REJECTED,
                detail,
            )
        }
    };
    // A journal step is proposed as the task's agent; its record also names the node and
    // epoch it came from, accepted or not.
    let detail = match command {
        Command::AppendJournal { node, epoch, .. } if detail.is_empty() => {
            format!("node {node} epoch {epoch}")
        }
        Command::AppendJournal { node, epoch, .. } => {
            format!("node {node} epoch {epoch}: {detail}")
        }
        // The first node's key and the interval are what offline verification starts from.
        Command::Bootstrap {
            node,
            audit_key,
            checkpoint_interval,
            ..
        } if detail.is_empty() => format!(
            "node {node}, {}, checkpoint interval {checkpoint_interval}",
            audit_key.map_or_else(
                || "without an audit key".to_owned(),
                |key| format!("audit key {key}")
            )
        ),
        _ => detail,
    };
    let audit = head.append(RecordBody {
        log_index,
        time_ms,
        principal: request.principal.to_string(),
        action: command.action().as_str().to_owned(),
        resource,
        outcome: outcome_name.to_owned(),
        detail,
        payload_hash: command.payload_hash(),
    });
    Ok(Applied {
        outcome,
        writes,
        audit,
    })
}

/// Runs an authorized command; returns its audit resource and the decision.
fn decide<S: StateRead>(
    state: &S,
    at: &At<'_>,
    command: &Command,
) -> Result<(String, Decision), S::Error> {
    let decision = match command {
        Command::Bootstrap { .. }
        | Command::CreateToken { .. }
        | Command::RevokeToken { .. }
        | Command::SetRoles { .. } => identity::apply(state, at, command)?,
        Command::CreateWorkspace { workspace, key } => create_workspace(state, at, workspace, key)?,
        Command::AuthorizeMembershipChange { change } => Ok((
            Outcome::MembershipChangeAuthorized(change.clone()),
            checkpoint::membership(state, at.head, change)?,
        )),
        Command::AuditCheckpoint { checkpoint } => checkpoint::record(state, at.head, checkpoint)?,
        Command::PutPolicy { .. } => policy::put_policy(state, at, command)?,
        Command::DecideApproval { .. } | Command::ExpireApproval { .. } => {
            approval::apply(state, at, command)?
        }
        Command::PutProvider { .. } => config::put_provider(state, at, command)?,
        Command::RegisterMcpServer { .. } => mcp_server::register(state, at, command)?,
        Command::PinMcpTools { .. } => mcp_server::pin(state, at, command)?,
        Command::PutCatalogEntry { spec } => catalog::put(state, at, spec)?,
        Command::DeleteCatalogEntry { name } => catalog::delete(state, name)?,
        Command::CreateAgent { workspace, spec } => {
            config::save_agent(state, at, workspace, spec, None)?
        }
        Command::UpdateAgent {
            workspace,
            spec,
            expected_version,
        } => config::save_agent(state, at, workspace, spec, Some(*expected_version))?,
        Command::SubmitTask { .. } => submit::submit_task(state, at, command)?,
        Command::AssignTask { .. } | Command::AppendJournal { .. } => {
            execution::apply(state, at, command)?
        }
        Command::CancelTask { .. }
        | Command::ResolveTask { .. }
        | Command::TimeOutTask { .. }
        | Command::MarkStalled { .. } => lifecycle::apply(state, at, command)?,
        Command::SetBudget { .. } => budget::set_budget(state, at, command)?,
        Command::SetPause { .. } => pause::set_pause(state, at, command)?,
        Command::RecordRejection { rejection, .. } => Err(rejection.clone()),
        Command::DeleteProvider { .. }
        | Command::DeleteMcpServer { .. }
        | Command::DeleteAgent { .. }
        | Command::DeleteWorkspace { .. } => delete::apply(state, command)?,
        Command::SetWorkspaceSettings {
            workspace,
            trace_content,
        } => set_settings(state, at, workspace, *trace_content)?,
        Command::CreateBackup { node } => Ok((Outcome::BackupRecorded { node: *node }, vec![])),
        Command::SetClusterProtocol { protocol } => protocol::set(state, *protocol)?,
        Command::PutWebhook { .. } => webhook::put(state, at, command)?,
        Command::DeleteWebhook { .. } => webhook::delete(state, command)?,
        Command::RecordDeliveryAttempt { .. } => webhook::record_attempt(state, at, command)?,
        Command::AnswerQuestion { .. } | Command::ExpireQuestion { .. } => {
            question::apply(state, at, command)?
        }
        Command::PutSchedule { .. } => schedule::put(state, at, command)?,
        Command::DeleteSchedule { .. } => schedule::delete(state, command)?,
        Command::FireSchedule { .. } => schedule::fire(state, at, command)?,
        Command::PutTrigger { .. } => trigger::put(state, at, command)?,
        Command::DeleteTrigger { .. } => trigger::delete(state, command)?,
        Command::FireTrigger { .. } => trigger::fire(state, at, command)?,
        // Its changes are decided one by one by `workspace_apply`, which `apply` calls;
        // a file's changes never include another file.
        Command::ApplyWorkspace { .. } => Err(Rejection::new(
            Code::InvalidArgument,
            "a configuration file cannot apply another".to_owned(),
        )),
        // The state machine applies a group's requests one by one; a group is never a
        // command of its own (nor one of a group's or a file's requests).
        Command::Group { .. } => Err(Rejection::new(
            Code::InvalidArgument,
            "a group of requests is applied request by request, never as one command".to_owned(),
        )),
    };
    // An accepted submission is recorded against the task it created or, when
    // deduplicated, resolved to; anything else against the command's own resource.
    let resource = match (command, &decision) {
        (Command::SubmitTask { workspace, .. }, Ok((Outcome::TaskSubmitted { task, .. }, _))) => {
            task_resource(workspace, &task.id)
        }
        _ => resource_of(command),
    };
    Ok((resource, decision))
}

/// Where and when a command applies, and who asked for it.
struct At<'a> {
    log_index: u64,
    /// The first webhook delivery number this command may use (see [`Place`]).
    first_delivery: u32,
    time_ms: u64,
    principal: &'a Principal,
    /// The chain before this command's own record.
    head: &'a AuditHead,
}

/// The audit record of a Raft membership change, which carries no proposer clock: it
/// takes the time of the record before it, so replay stays deterministic.
pub fn apply_membership(head: &AuditHead, log_index: u64, description: &str) -> Applied {
    let audit = head.append(RecordBody {
        log_index,
        time_ms: head.time_ms,
        principal: Principal::system().to_string(),
        action: Action::MembershipChange.as_str().to_owned(),
        resource: "cluster/membership".to_owned(),
        outcome: OUTCOME_ACCEPTED.to_owned(),
        detail: description.to_owned(),
        payload_hash: Hash::of(description.as_bytes()),
    });
    Applied {
        outcome: Outcome::MembershipChanged,
        writes: Vec::new(),
        audit,
    }
}

fn create_workspace<S: StateRead>(
    state: &S,
    at: &At<'_>,
    workspace: &WorkspaceId,
    key: &Option<WrappedKey>,
) -> Result<Decision, S::Error> {
    if state.workspace(workspace)?.is_some() {
        return Ok(Err(Rejection::new(
            Code::AlreadyExists,
            format!("workspace {workspace} already exists"),
        )));
    }
    let created = Workspace {
        id: workspace.clone(),
        created_ms: at.time_ms,
        created_by: at.principal.clone(),
        key: key.clone(),
    };
    Ok(Ok((
        Outcome::WorkspaceCreated(created.clone()),
        vec![Write::Workspace(created)],
    )))
}

fn set_settings<S: StateRead>(
    state: &S,
    at: &At<'_>,
    workspace: &WorkspaceId,
    trace_content: bool,
) -> Result<Decision, S::Error> {
    if let Some(rejection) = missing_workspace(state, workspace)? {
        return Ok(Err(rejection));
    }
    let settings = WorkspaceSettings {
        workspace: workspace.clone(),
        trace_content,
        updated_ms: at.time_ms,
        updated_by: at.principal.clone(),
    };
    Ok(Ok((
        Outcome::WorkspaceSettingsSet(settings.clone()),
        vec![Write::WorkspaceSettings(settings)],
    )))
}

/// The rejection for a workspace that does not exist, or `None` when it does.
fn missing_workspace<S: StateRead>(
    state: &S,
    workspace: &WorkspaceId,
) -> Result<Option<Rejection>, S::Error> {
    Ok(match state.workspace(workspace)? {
        Some(_) => None,
        None => Some(Rejection::new(
            Code::NotFound,
            format!("workspace {workspace} not found"),
        )),
    })
}
