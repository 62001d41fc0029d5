//! An in-memory replicated state: the reference [`StateRead`] used by the tests of
//! `apply()` and by anything that needs to replay a log without storage.

use std::collections::BTreeMap;
use std::convert::Infallible;

use crate::anchor::{AuditSettings, Checkpoint, NodeRecord};
use crate::apply::{Applied, Place, StateRead, Write, apply, apply_at};
use crate::audit::{AuditHead, AuditRecord};
use crate::budget::{Budget, BudgetScope};
use crate::builtin::TaskLinks;
use crate::catalog::CatalogEntry;
use crate::command::{Command, Request};
use crate::config::{Agent, McpServer, Provider};
use crate::group::deliveries_in;
use crate::identity::{RoleBinding, Scope, Token, TokenId};
use crate::ids::{IdempotencyKey, Principal, TaskId, WorkspaceId};
use crate::journal::JournalEntry;
use crate::model::{IdempotencyRecord, StoredPolicy, Task, Workspace, WorkspaceSettings};
use crate::names::{AgentName, CatalogName, NodeId, ProviderName, ServerName, WebhookName};
use crate::outcome::Outcome;
use crate::switches::Switches;
use crate::webhook::{Delivery, DeliveryId, Webhook};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MemoryState {
    pub workspaces: BTreeMap<WorkspaceId, Workspace>,
    pub tasks: BTreeMap<(WorkspaceId, TaskId), Task>,
    pub idempotency: BTreeMap<(WorkspaceId, IdempotencyKey), IdempotencyRecord>,
    pub providers: BTreeMap<(WorkspaceId, ProviderName), Provider>,
    pub mcp_servers: BTreeMap<(WorkspaceId, ServerName), McpServer>,
    pub agents: BTreeMap<(WorkspaceId, AgentName), Agent>,
    pub catalog: BTreeMap<CatalogName, CatalogEntry>,
    pub journal: BTreeMap<(WorkspaceId, TaskId, u64), JournalEntry>,
    pub tokens: BTreeMap<TokenId, Token>,
    pub bindings: BTreeMap<(Scope, Principal), RoleBinding>,
    pub bootstrapped: Option<Principal>,
    pub policies: BTreeMap<WorkspaceId, StoredPolicy>,
    pub budgets: BTreeMap<(WorkspaceId, BudgetScope), Budget>,
    pub switches: BTreeMap<WorkspaceId, Switches>,
    pub settings: BTreeMap<WorkspaceId, WorkspaceSettings>,
    pub audit: Vec<AuditRecord>,
    pub head: AuditHead,
    pub nodes: BTreeMap<NodeId, NodeRecord>,
    /// Accepted checkpoints by node and index.
    pub checkpoints: BTreeMap<(NodeId, u64), Checkpoint>,
    pub audit_settings: Option<AuditSettings>,
    /// The protocol last set; `None` runs `OLDEST_PROTOCOL`.
    pub cluster_protocol: Option<u32>,
    pub webhooks: BTreeMap<(WorkspaceId, WebhookName), Webhook>,
    pub deliveries: BTreeMap<(WorkspaceId, DeliveryId), Delivery>,
    pub task_links: BTreeMap<(WorkspaceId, TaskId), TaskLinks>,
    pub schedules: BTreeMap<(WorkspaceId, crate::names::ScheduleName), crate::schedule::Schedule>,
    pub triggers: BTreeMap<(WorkspaceId, crate::names::TriggerName), crate::trigger::Trigger>,
    pub task_authors: BTreeMap<(WorkspaceId, TaskId), Principal>,
    pub applied_index: u64,
}

impl MemoryState {
    /// Applies `request` as log entry `log_index` and commits its writes; a group's
    /// requests one by one, each seeing the ones before.
    pub fn apply(&mut self, log_index: u64, request: &Request) -> Outcome {
        let Command::Group { requests } = &request.command else {
            let applied = match apply(self, &self.head, log_index, request) {
                Ok(applied) => applied,
                Err(never) => match never {},
            };
            return self.commit(log_index, applied);
        };
        let mut place = Place::entry(log_index);
        let mut outcomes = Vec::with_capacity(requests.len());
        for request in requests {
            let applied = match apply_at(self, &self.head, place, request) {
                Ok(applied) => applied,
                Err(never) => match never {},
            };
            place.first_delivery += deliveries_in(&applied.writes);
            outcomes.push(self.commit(log_index, applied));
        }
        Outcome::Group(outcomes)
    }

    /// Commits what `apply()` produced.
    pub fn commit(&mut self, log_index: u64, applied: Applied) -> Outcome {
        for write in applied.writes {
            match write {
                Write::Workspace(workspace) => {
                    self.workspaces.insert(workspace.id.clone(), workspace);
                }
                Write::Task(task) => {
                    self.tasks.insert((task.workspace.clone(), task.id), task);
                }
                Write::Idempotency {
                    workspace,
                    key,
                    record,
                } => {
                    self.idempotency.insert((workspace, key), record);
                }
                Write::Provider(provider) => {
                    self.providers.insert(
                        (provider.workspace.clone(), provider.name.clone()),
                        provider,
                    );
                }
                Write::McpServer(server) => {
                    self.mcp_servers
                        .insert((server.workspace.clone(), server.name.clone()), server);
                }
                Write::CatalogEntry(entry) => {
                    self.catalog.insert(entry.spec.name.clone(), entry);
                }
                Write::RemoveCatalogEntry(name) => {
                    self.catalog.remove(&name);
                }
                Write::Agent(agent) => {
                    self.agents
                        .insert((agent.workspace.clone(), agent.spec.name.clone()), agent);
                }
                Write::Journal {
                    workspace,
                    task,
                    entry,
                } => {
                    self.journal.insert((workspace, task, entry.seq), entry);
                }
                Write::Token(token) => {
                    self.tokens.insert(token.id, token);
                }
                Write::RoleBinding(binding) => {
                    self.bindings
                        .insert((binding.scope.clone(), binding.principal.clone()), binding);
                }
                Write::RemoveRoleBinding { scope, principal } => {
                    self.bindings.remove(&(scope, principal));
                }
                Write::Bootstrapped(principal) => {
                    self.bootstrapped = Some(principal);
                }
                Write::Policy(policy) => {
                    self.policies.insert(policy.workspace.clone(), policy);
                }
                Write::Budget(budget) => {
                    self.budgets
                        .insert((budget.workspace.clone(), budget.scope.clone()), budget);
                }
                Write::RemoveBudget { workspace, scope } => {
                    self.budgets.remove(&(workspace, scope));
                }
                Write::Switches(switches) => {
                    self.switches.insert(switches.workspace.clone(), switches);
                }
                Write::RemoveSwitches(workspace) => {
                    self.switches.remove(&workspace);
                }
                Write::Node(record) => {
                    self.nodes.insert(record.node, record);
                }
                Write::Checkpoint(checkpoint) => {
                    self.checkpoints
                        .insert((checkpoint.node, checkpoint.index), checkpoint);
                }
                Write::AuditSettings(settings) => {
                    self.audit_settings = Some(settings);
                }
                Write::ClusterProtocol(protocol) => self.cluster_protocol = Some(protocol),
                Write::RemoveProvider { workspace, name } => {
                    self.providers.remove(&(workspace, name));
                }
                Write::RemoveMcpServer { workspace, name } => {
                    self.mcp_servers.remove(&(workspace, name));
                }
                Write::RemoveAgent { workspace, name } => {
                    self.agents.remove(&(workspace, name));
                }
                Write::RemoveWorkspace(workspace) => self.remove_workspace(&workspace),
                Write::Schedule(schedule) => {
                    self.schedules.insert(
                        (schedule.workspace.clone(), schedule.spec.name.clone()),
                        schedule,
                    );
                }
                Write::RemoveSchedule { workspace, name } => {
                    self.schedules.remove(&(workspace, name));
                }
                Write::TaskAuthor {
                    workspace,
                    task,
                    author,
                } => {
                    self.task_authors.insert((workspace, task), author);
                }
                Write::Trigger(trigger) => {
                    self.triggers.insert(
                        (trigger.workspace.clone(), trigger.spec.name.clone()),
                        trigger,
                    );
                }
                Write::RemoveTrigger { workspace, name } => {
                    self.triggers.remove(&(workspace, name));
                }
                Write::TaskLinks(links) => {
                    self.task_links
                        .insert((links.workspace.clone(), links.task), links);
                }
                Write::WorkspaceSettings(settings) => {
                    self.settings.insert(settings.workspace.clone(), settings);
                }
                Write::Webhook(webhook) => {
                    self.webhooks
                        .insert((webhook.workspace.clone(), webhook.name.clone()), webhook);
                }
                Write::RemoveWebhook { workspace, name } => {
                    self.webhooks.remove(&(workspace, name));
                }
                Write::Delivery(delivery) => {
                    self.deliveries
                        .insert((delivery.workspace.clone(), delivery.id), delivery);
                }
            }
        }
        self.head = AuditHead::advanced(&applied.audit);
        self.audit.push(applied.audit);
        self.applied_index = log_index;
        applied.outcome
    }
}

impl StateRead for MemoryState {
    type Error = Infallible;

    fn audit_record(&self, index: u64) -> Result<Option<AuditRecord>, Infallible> {
        let position = index.checked_sub(1).and_then(|i| usize::try_from(i).ok());
        Ok(position.and_then(|i| self.audit.get(i)).cloned())
    }

    fn node_record(&self, node: NodeId) -> Result<Option<NodeRecord>, Infallible> {
        Ok(self.nodes.get(&node).cloned())
    }

    fn workspace(&self, id: &WorkspaceId) -> Result<Option<Workspace>, Infallible> {
        Ok(self.workspaces.get(id).cloned())
    }

    fn task(&self, workspace: &WorkspaceId, id: &TaskId) -> Result<Option<Task>, Infallible> {
        Ok(self.tasks.get(&(workspace.clone(), *id)).cloned())
    }

    fn idempotency(
        &self,
        workspace: &WorkspaceId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, Infallible> {
        Ok(self
            .idempotency
            .get(&(workspace.clone(), key.clone()))
            .cloned())
    }

    fn provider(
        &self,
        workspace: &WorkspaceId,
        name: &ProviderName,
    ) -> Result<Option<Provider>, Infallible> {
        Ok(self
            .providers
            .get(&(workspace.clone(), name.clone()))
            .cloned())
    }

    fn mcp_server(
        &self,
        workspace: &WorkspaceId,
        name: &ServerName,
    ) -> Result<Option<McpServer>, Infallible> {
        Ok(self
            .mcp_servers
            .get(&(workspace.clone(), name.clone()))
            .cloned())
    }

    fn catalog_entry(&self, name: &CatalogName) -> Result<Option<CatalogEntry>, Infallible> {
        Ok(self.catalog.get(name).cloned())
    }

    fn agent(
        &self,
        workspace: &WorkspaceId,
        name: &AgentName,
    ) -> Result<Option<Agent>, Infallible> {
        Ok(self.agents.get(&(workspace.clone(), name.clone())).cloned())
    }

    fn token(&self, id: &TokenId) -> Result<Option<Token>, Infallible> {
        Ok(self.tokens.get(id).cloned())
    }

    fn role_binding(
        &self,
        scope: &Scope,
        principal: &Principal,
    ) -> Result<Option<RoleBinding>, Infallible> {
        Ok(self
            .bindings
            .get(&(scope.clone(), principal.clone()))
            .cloned())
    }

    fn bootstrapped(&self) -> Result<Option<Principal>, Infallible> {
        Ok(self.bootstrapped.clone())
    }

    fn policy(&self, workspace: &WorkspaceId) -> Result<Option<StoredPolicy>, Infallible> {
        Ok(self.policies.get(workspace).cloned())
    }

    fn budget(
        &self,
        workspace: &WorkspaceId,
        scope: &BudgetScope,
    ) -> Result<Option<Budget>, Infallible> {
        Ok(self
            .budgets
            .get(&(workspace.clone(), scope.clone()))
            .cloned())
    }

    fn switches(&self, workspace: &WorkspaceId) -> Result<Option<Switches>, Infallible> {
        Ok(self.switches.get(workspace).cloned())
    }

    fn agents(&self, workspace: &WorkspaceId) -> Result<Vec<Agent>, Infallible> {
        Ok(self
            .agents
            .iter()
            .filter(|((owner, _), _)| owner == workspace)
            .map(|(_, agent)| agent.clone())
            .collect())
    }

    fn unfinished_tasks(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<Vec<(TaskId, AgentName)>, Infallible> {
        Ok(self
            .tasks
            .iter()
            .filter(|((owner, _), task)| owner == workspace && !task.status.is_terminal())
            .map(|((_, id), task)| (*id, task.agent.clone()))
            .collect())
    }

    fn cluster_protocol(&self) -> Result<u32, Infallible> {
        Ok(self.cluster_protocol.unwrap_or(crate::OLDEST_PROTOCOL))
    }

    fn webhook(
        &self,
        workspace: &WorkspaceId,
        name: &WebhookName,
    ) -> Result<Option<Webhook>, Infallible> {
        Ok(self
            .webhooks
            .get(&(workspace.clone(), name.clone()))
            .cloned())
    }

    fn webhooks(&self, workspace: &WorkspaceId) -> Result<Vec<Webhook>, Infallible> {
        Ok(self
            .webhooks
            .iter()
            .filter(|((owner, _), _)| owner == workspace)
            .map(|(_, webhook)| webhook.clone())
            .collect())
    }

    fn delivery(
        &self,
        workspace: &WorkspaceId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, Infallible> {
        Ok(self.deliveries.get(&(workspace.clone(), *id)).cloned())
    }

    fn schedule(
        &self,
        workspace: &WorkspaceId,
        name: &crate::names::ScheduleName,
    ) -> Result<Option<crate::schedule::Schedule>, Infallible> {
        Ok(self
            .schedules
            .get(&(workspace.clone(), name.clone()))
            .cloned())
    }

    fn schedules(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<Vec<crate::schedule::Schedule>, Infallible> {
        Ok(self
            .schedules
            .iter()
            .filter(|((owner, _), _)| owner == workspace)
            .map(|(_, schedule)| schedule.clone())
            .collect())
    }

    fn task_author(
        &self,
        workspace: &WorkspaceId,
        task: &TaskId,
    ) -> Result<Option<Principal>, Infallible> {
        Ok(self.task_authors.get(&(workspace.clone(), *task)).cloned())
    }

    fn providers(&self, workspace: &WorkspaceId) -> Result<Vec<Provider>, Infallible> {
        Ok(self
            .providers
            .iter()
            .filter(|((owner, _), _)| owner == workspace)
            .map(|(_, provider)| provider.clone())
            .collect())
    }

    fn mcp_servers(&self, workspace: &WorkspaceId) -> Result<Vec<McpServer>, Infallible> {
        Ok(self
            .mcp_servers
            .iter()
            .filter(|((owner, _), _)| owner == workspace)
            .map(|(_, server)| server.clone())
            .collect())
    }

    fn budgets(&self, workspace: &WorkspaceId) -> Result<Vec<Budget>, Infallible> {
        Ok(self
            .budgets
            .iter()
            .filter(|((owner, _), _)| owner == workspace)
            .map(|(_, budget)| budget.clone())
            .collect())
    }

    fn trigger(
        &self,
        workspace: &WorkspaceId,
        name: &crate::names::TriggerName,
    ) -> Result<Option<crate::trigger::Trigger>, Infallible> {
        Ok(self
            .triggers
            .get(&(workspace.clone(), name.clone()))
            .cloned())
    }

    fn triggers(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<Vec<crate::trigger::Trigger>, Infallible> {
        Ok(self
            .triggers
            .iter()
            .filter(|((owner, _), _)| owner == workspace)
            .map(|(_, trigger)| trigger.clone())
            .collect())
    }

    fn task_links(
        &self,
        workspace: &WorkspaceId,
        task: &TaskId,
    ) -> Result<Option<TaskLinks>, Infallible> {
        Ok(self.task_links.get(&(workspace.clone(), *task)).cloned())
    }
}

impl MemoryState {
    /// Drops the workspace and everything stored under it; the audit chain stays.
    fn remove_workspace(&mut self, id: &WorkspaceId) {
        self.workspaces.remove(id);
        self.tasks.retain(|(workspace, _), _| workspace != id);
        self.idempotency.retain(|(workspace, _), _| workspace != id);
        self.providers.retain(|(workspace, _), _| workspace != id);
        self.mcp_servers.retain(|(workspace, _), _| workspace != id);
        self.agents.retain(|(workspace, _), _| workspace != id);
        self.journal.retain(|(workspace, _, _), _| workspace != id);
        let scope = Scope::Workspace(id.clone());
        self.bindings.retain(|(bound, _), _| *bound != scope);
        self.policies.remove(id);
        self.budgets.retain(|(workspace, _), _| workspace != id);
        self.switches.remove(id);
        self.settings.remove(id);
        self.webhooks.retain(|(workspace, _), _| workspace != id);
        self.deliveries.retain(|(workspace, _), _| workspace != id);
        self.task_links.retain(|(workspace, _), _| workspace != id);
        self.schedules.retain(|(workspace, _), _| workspace != id);
        self.triggers.retain(|(workspace, _), _| workspace != id);
        self.task_authors
            .retain(|(workspace, _), _| workspace != id);
    }

    /// A task's journal in sequence order.
    pub fn journal_of(&self, workspace: &WorkspaceId, task: &TaskId) -> Vec<JournalEntry> {
        self.journal
            .range((workspace.clone(), *task, 0)..=(workspace.clone(), *task, u64::MAX))
            .map(|(_, entry)| entry.clone())
            .collect()
    }
}
