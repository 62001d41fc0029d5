//! The point reads and scans `apply()` makes, answered from the pending writes in
//! front of the database.

use warden_core::{
    Agent, AgentName, AuditRecord, Budget, BudgetScope, CatalogEntry, CatalogName, IdempotencyKey,
    IdempotencyRecord, McpServer, NodeId, NodeRecord, Principal, Provider, ProviderName,
    RoleBinding, Scope, ServerName, StateRead, StoredPolicy, Switches, Task, TaskId, Token,
    TokenId, Workspace, WorkspaceId,
};
use warden_core::{Delivery, DeliveryId, Webhook, WebhookName};

use super::Pending;
use crate::codec;
use crate::error::Error;
use crate::keys;

impl Pending<'_> {
    /// Every record in `[start, end)`, decoded, in key order.
    fn all_in<T: serde::de::DeserializeOwned>(
        &self,
        (start, end): (Vec<u8>, Vec<u8>),
        what: &str,
    ) -> Result<Vec<T>, Error> {
        self.scan(&start, &end)?
            .iter()
            .map(|(key, value)| codec::decode(|| format!("{what} key {key:?}"), value))
            .collect()
    }
}

impl StateRead for Pending<'_> {
    type Error = Error;

    fn workspace(&self, id: &WorkspaceId) -> Result<Option<Workspace>, Error> {
        self.get(keys::workspace(id), || format!("workspace {id}"))
    }

    fn task(&self, workspace: &WorkspaceId, id: &TaskId) -> Result<Option<Task>, Error> {
        self.get(keys::task(workspace, id), || {
            format!("task {workspace}/{id}")
        })
    }

    fn idempotency(
        &self,
        workspace: &WorkspaceId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, Error> {
        self.get(keys::idempotency(workspace, key), || {
            format!("idempotency key {workspace}/{key:?}")
        })
    }

    fn provider(
        &self,
        workspace: &WorkspaceId,
        name: &ProviderName,
    ) -> Result<Option<Provider>, Error> {
        self.get(keys::provider(workspace, name), || {
            format!("provider {workspace}/{name}")
        })
    }

    fn mcp_server(
        &self,
        workspace: &WorkspaceId,
        name: &ServerName,
    ) -> Result<Option<McpServer>, Error> {
        self.get(keys::mcp_server(workspace, name), || {
            format!("mcp server {workspace}/{name}")
        })
    }

    fn agent(&self, workspace: &WorkspaceId, name: &AgentName) -> Result<Option<Agent>, Error> {
        self.get(keys::agent(workspace, name), || {
            format!("agent {workspace}/{name}")
        })
    }

    fn catalog_entry(&self, name: &CatalogName) -> Result<Option<CatalogEntry>, Error> {
        self.get(keys::catalog_entry(name), || {
            format!("catalog entry {name}")
        })
    }

    fn token(&self, id: &TokenId) -> Result<Option<Token>, Error> {
        self.get(keys::token(id), || format!("token {id}"))
    }

    fn role_binding(
        &self,
        scope: &Scope,
        principal: &Principal,
    ) -> Result<Option<RoleBinding>, Error> {
        self.get(keys::role_binding(scope, principal), || {
            format!("role binding {scope}/{principal}")
        })
    }

    fn bootstrapped(&self) -> Result<Option<Principal>, Error> {
        self.get(keys::BOOTSTRAPPED.to_vec(), || "bootstrap admin".to_owned())
    }

    fn policy(&self, workspace: &WorkspaceId) -> Result<Option<StoredPolicy>, Error> {
        self.get(keys::policy(workspace), || format!("policy of {workspace}"))
    }

    fn budget(
        &self,
        workspace: &WorkspaceId,
        scope: &BudgetScope,
    ) -> Result<Option<Budget>, Error> {
        self.get(keys::budget(workspace, scope), || {
            format!("budget {workspace}/{scope:?}")
        })
    }

    fn switches(&self, workspace: &WorkspaceId) -> Result<Option<Switches>, Error> {
        self.get(keys::switches(workspace), || {
            format!("switches of {workspace}")
        })
    }

    fn audit_record(&self, index: u64) -> Result<Option<AuditRecord>, Error> {
        self.get(keys::audit_record(index), || {
            format!("audit record {index}")
        })
    }

    fn node_record(&self, node: NodeId) -> Result<Option<NodeRecord>, Error> {
        self.get(keys::node(node), || format!("node record {node}"))
    }

    fn agents(&self, workspace: &WorkspaceId) -> Result<Vec<Agent>, Error> {
        self.all_in(keys::agents(workspace), "agent")
    }

    fn webhook(
        &self,
        workspace: &WorkspaceId,
        name: &WebhookName,
    ) -> Result<Option<Webhook>, Error> {
        self.get(keys::webhook(workspace, name), || {
            format!("webhook {workspace}/{name}")
        })
    }

    fn webhooks(&self, workspace: &WorkspaceId) -> Result<Vec<Webhook>, Error> {
        self.all_in(keys::webhooks(workspace), "webhook")
    }

    fn delivery(
        &self,
        workspace: &WorkspaceId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, Error> {
        self.get(keys::delivery(workspace, id), || {
            format!("delivery {workspace}/{id}")
        })
    }

    fn task_links(
        &self,
        workspace: &WorkspaceId,
        task: &TaskId,
    ) -> Result<Option<warden_core::TaskLinks>, Error> {
        self.get(keys::task_links(workspace, task), || {
            format!("links of task {workspace}/{task}")
        })
    }

    fn schedule(
        &self,
        workspace: &WorkspaceId,
        name: &warden_core::ScheduleName,
    ) -> Result<Option<warden_core::Schedule>, Error> {
        self.get(keys::schedule(workspace, name), || {
            format!("schedule {workspace}/{name}")
        })
    }

    fn schedules(&self, workspace: &WorkspaceId) -> Result<Vec<warden_core::Schedule>, Error> {
        self.all_in(keys::schedules(workspace), "schedule")
    }

    fn task_author(
        &self,
        workspace: &WorkspaceId,
        task: &TaskId,
    ) -> Result<Option<warden_core::Principal>, Error> {
        self.get(keys::task_author(workspace, task), || {
            format!("author of task {workspace}/{task}")
        })
    }

    fn providers(&self, workspace: &WorkspaceId) -> Result<Vec<warden_core::Provider>, Error> {
        self.all_in(keys::providers(workspace), "provider")
    }

    fn mcp_servers(&self, workspace: &WorkspaceId) -> Result<Vec<warden_core::McpServer>, Error> {
        self.all_in(keys::mcp_servers(workspace), "mcp server")
    }

    fn budgets(&self, workspace: &WorkspaceId) -> Result<Vec<warden_core::Budget>, Error> {
        self.all_in(keys::budgets(workspace), "budget")
    }

    fn trigger(
        &self,
        workspace: &WorkspaceId,
        name: &warden_core::TriggerName,
    ) -> Result<Option<warden_core::Trigger>, Error> {
        self.get(keys::trigger(workspace, name), || {
            format!("trigger {workspace}/{name}")
        })
    }

    fn triggers(&self, workspace: &WorkspaceId) -> Result<Vec<warden_core::Trigger>, Error> {
        self.all_in(keys::triggers(workspace), "trigger")
    }

    fn unfinished_tasks(&self, workspace: &WorkspaceId) -> Result<Vec<(TaskId, AgentName)>, Error> {
        let (start, end) = keys::active_tasks_of(workspace);
        self.scan(&start, &end)?
            .iter()
            .map(|(key, value)| crate::state_reader::unfinished_task(key, value))
            .collect()
    }

    fn cluster_protocol(&self) -> Result<u32, Error> {
        let stored = self.get(keys::CLUSTER_PROTOCOL.to_vec(), || {
            "cluster protocol".to_owned()
        })?;
        Ok(stored.unwrap_or(warden_core::OLDEST_PROTOCOL))
    }
}
