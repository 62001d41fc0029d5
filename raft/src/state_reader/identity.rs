//! Reads of tokens and role bindings, and `StateRead` over the stored state so the API
//! can ask `warden_core::require` the same questions `apply()` asks.

use warden_core::{
    Agent, AgentName, Budget, BudgetScope, CatalogEntry, CatalogName, IdempotencyKey,
    IdempotencyRecord, McpServer, Principal, Provider, ProviderName, RoleBinding, Scope,
    ServerName, StateRead, StoredPolicy, Switches, Task, TaskId, Token, TokenId, Workspace,
    WorkspaceId,
};

use super::StateReader;
use crate::error::Error;
use crate::keys;

impl StateReader {
    pub fn token(&self, id: &TokenId) -> Result<Option<Token>, Error> {
        self.storage
            .get(keys::SM_CF, &keys::token(id), || format!("token {id}"))
    }

    /// Every token, revoked and expired ones included, in id order.
    pub fn tokens(&self) -> Result<Vec<Token>, Error> {
        self.all_in(keys::tokens(), "token")
    }

    pub fn role_binding(
        &self,
        scope: &Scope,
        principal: &Principal,
    ) -> Result<Option<RoleBinding>, Error> {
        self.storage
            .get(keys::SM_CF, &keys::role_binding(scope, principal), || {
                format!("role binding {scope}/{principal}")
            })
    }

    /// The role bindings of `scope`, in principal order.
    pub fn role_bindings(&self, scope: &Scope) -> Result<Vec<RoleBinding>, Error> {
        self.all_in(keys::role_bindings(scope), "role binding")
    }

    pub fn policy(&self, workspace: &WorkspaceId) -> Result<Option<StoredPolicy>, Error> {
        self.storage.get(keys::SM_CF, &keys::policy(workspace), || {
            format!("policy of {workspace}")
        })
    }

    /// The protocol the cluster runs, as of the last applied entry.
    pub fn cluster_protocol(&self) -> Result<u32, Error> {
        let stored = self.storage.get(keys::SM_CF, keys::CLUSTER_PROTOCOL, || {
            "cluster protocol".to_owned()
        })?;
        Ok(stored.unwrap_or(warden_core::OLDEST_PROTOCOL))
    }

    pub fn bootstrapped(&self) -> Result<Option<Principal>, Error> {
        self.storage.get(keys::SM_CF, keys::BOOTSTRAPPED, || {
            "bootstrap admin".to_owned()
        })
    }
}

impl StateRead for StateReader {
    type Error = Error;

    fn audit_record(&self, index: u64) -> Result<Option<warden_core::AuditRecord>, Error> {
        self.storage
            .get(keys::SM_CF, &keys::audit_record(index), || {
                format!("audit record {index}")
            })
    }

    fn node_record(
        &self,
        node: warden_core::NodeId,
    ) -> Result<Option<warden_core::NodeRecord>, Error> {
        self.storage.get(keys::SM_CF, &keys::node(node), || {
            format!("node record {node}")
        })
    }

    fn workspace(&self, id: &WorkspaceId) -> Result<Option<Workspace>, Error> {
        StateReader::workspace(self, id)
    }

    fn task(&self, workspace: &WorkspaceId, id: &TaskId) -> Result<Option<Task>, Error> {
        StateReader::task(self, workspace, id)
    }

    fn idempotency(
        &self,
        workspace: &WorkspaceId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, Error> {
        self.storage
            .get(keys::SM_CF, &keys::idempotency(workspace, key), || {
                format!("idempotency key {workspace}/{key:?}")
            })
    }

    fn provider(
        &self,
        workspace: &WorkspaceId,
        name: &ProviderName,
    ) -> Result<Option<Provider>, Error> {
        StateReader::provider(self, workspace, name)
    }

    fn mcp_server(
        &self,
        workspace: &WorkspaceId,
        name: &ServerName,
    ) -> Result<Option<McpServer>, Error> {
        StateReader::mcp_server(self, workspace, name)
    }

    fn agent(&self, workspace: &WorkspaceId, name: &AgentName) -> Result<Option<Agent>, Error> {
        StateReader::agent(self, workspace, name)
    }

    fn catalog_entry(&self, name: &CatalogName) -> Result<Option<CatalogEntry>, Error> {
        StateReader::catalog_entry(self, name)
    }

    fn token(&self, id: &TokenId) -> Result<Option<Token>, Error> {
        StateReader::token(self, id)
    }

    fn role_binding(
        &self,
        scope: &Scope,
        principal: &Principal,
    ) -> Result<Option<RoleBinding>, Error> {
        StateReader::role_binding(self, scope, principal)
    }

    fn bootstrapped(&self) -> Result<Option<Principal>, Error> {
        StateReader::bootstrapped(self)
    }

    fn agents(&self, workspace: &WorkspaceId) -> Result<Vec<Agent>, Error> {
        StateReader::agents(self, workspace)
    }

    fn unfinished_tasks(&self, workspace: &WorkspaceId) -> Result<Vec<(TaskId, AgentName)>, Error> {
        StateReader::unfinished_tasks(self, workspace)
    }

    fn cluster_protocol(&self) -> Result<u32, Error> {
        StateReader::cluster_protocol(self)
    }

    fn policy(&self, workspace: &WorkspaceId) -> Result<Option<StoredPolicy>, Error> {
        StateReader::policy(self, workspace)
    }

    fn budget(
        &self,
        workspace: &WorkspaceId,
        scope: &BudgetScope,
    ) -> Result<Option<Budget>, Error> {
        StateReader::budget(self, workspace, scope)
    }

    fn switches(&self, workspace: &WorkspaceId) -> Result<Option<Switches>, Error> {
        StateReader::switches(self, workspace)
    }

    fn webhook(
        &self,
        workspace: &WorkspaceId,
        name: &warden_core::WebhookName,
    ) -> Result<Option<warden_core::Webhook>, Error> {
        StateReader::webhook(self, workspace, name)
    }

    fn webhooks(&self, workspace: &WorkspaceId) -> Result<Vec<warden_core::Webhook>, Error> {
        StateReader::webhooks(self, workspace)
    }

    fn delivery(
        &self,
        workspace: &WorkspaceId,
        id: &warden_core::DeliveryId,
    ) -> Result<Option<warden_core::Delivery>, Error> {
        StateReader::delivery(self, workspace, id)
    }

    fn task_links(
        &self,
        workspace: &WorkspaceId,
        task: &TaskId,
    ) -> Result<Option<warden_core::TaskLinks>, Error> {
        StateReader::task_links(self, workspace, task)
    }

    fn schedule(
        &self,
        workspace: &WorkspaceId,
        name: &warden_core::ScheduleName,
    ) -> Result<Option<warden_core::Schedule>, Error> {
        StateReader::schedule(self, workspace, name)
    }

    fn schedules(&self, workspace: &WorkspaceId) -> Result<Vec<warden_core::Schedule>, Error> {
        StateReader::schedules(self, workspace)
    }

    fn task_author(
        &self,
        workspace: &WorkspaceId,
        task: &TaskId,
    ) -> Result<Option<warden_core::Principal>, Error> {
        self.storage
            .get(keys::SM_CF, &keys::task_author(workspace, task), || {
                format!("author of task {workspace}/{task}")
            })
    }

    fn providers(&self, workspace: &WorkspaceId) -> Result<Vec<warden_core::Provider>, Error> {
        StateReader::providers(self, workspace)
    }

    fn mcp_servers(&self, workspace: &WorkspaceId) -> Result<Vec<warden_core::McpServer>, Error> {
        StateReader::mcp_servers(self, workspace)
    }

    fn budgets(&self, workspace: &WorkspaceId) -> Result<Vec<warden_core::Budget>, Error> {
        StateReader::budgets(self, workspace)
    }

    fn trigger(
        &self,
        workspace: &WorkspaceId,
        name: &warden_core::TriggerName,
    ) -> Result<Option<warden_core::Trigger>, Error> {
        StateReader::trigger(self, workspace, name)
    }

    fn triggers(&self, workspace: &WorkspaceId) -> Result<Vec<warden_core::Trigger>, Error> {
        StateReader::triggers(self, workspace)
    }
}
