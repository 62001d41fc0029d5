//! What the runtime reads of the replicated state: the few records a task's loop needs.
//! The node's storage (`warden_raft::StateReader`) implements it; tests use an
//! in-memory state.

use warden_core::{
    Agent, AgentName, CatalogEntry, CatalogName, JournalEntry, McpServer, Provider, ProviderName,
    StateRead, Switches, Task, TaskId, WorkspaceId,
};
use warden_raft::StateReader;

/// A read of the node's storage failed: fatal to the step that needed it, which the
/// supervisor restarts.
#[derive(Debug, thiserror::Error)]
#[error("storage: {0}")]
pub struct StoreError(pub String);

/// Point reads of the state this node has applied.
pub trait Store: Send + Sync {
    fn task(&self, workspace: &WorkspaceId, task: &TaskId) -> Result<Option<Task>, StoreError>;
    /// The task's whole journal, oldest first.
    fn journal(
        &self,
        workspace: &WorkspaceId,
        task: &TaskId,
    ) -> Result<Vec<JournalEntry>, StoreError>;
    fn agent(&self, workspace: &WorkspaceId, name: &AgentName)
    -> Result<Option<Agent>, StoreError>;
    fn provider(
        &self,
        workspace: &WorkspaceId,
        name: &ProviderName,
    ) -> Result<Option<Provider>, StoreError>;
    fn mcp_servers(&self, workspace: &WorkspaceId) -> Result<Vec<McpServer>, StoreError>;
    fn catalog_entry(&self, name: &CatalogName) -> Result<Option<CatalogEntry>, StoreError>;
    /// The workspace's pauses.
    fn switches(&self, workspace: &WorkspaceId) -> Result<Option<Switches>, StoreError>;
    /// The names of the workspace's agents, in name order.
    fn agent_names(&self, workspace: &WorkspaceId) -> Result<Vec<AgentName>, StoreError>;
    /// The protocol the cluster runs (which tools exist).
    fn cluster_protocol(&self) -> Result<u32, StoreError>;
}

fn storage(error: warden_raft::Error) -> StoreError {
    StoreError(error.to_string())
}

impl Store for StateReader {
    fn task(&self, workspace: &WorkspaceId, task: &TaskId) -> Result<Option<Task>, StoreError> {
        StateReader::task(self, workspace, task).map_err(storage)
    }

    fn journal(
        &self,
        workspace: &WorkspaceId,
        task: &TaskId,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        StateReader::journal(self, workspace, task, 0, usize::MAX).map_err(storage)
    }

    fn agent(
        &self,
        workspace: &WorkspaceId,
        name: &AgentName,
    ) -> Result<Option<Agent>, StoreError> {
        StateReader::agent(self, workspace, name).map_err(storage)
    }

    fn provider(
        &self,
        workspace: &WorkspaceId,
        name: &ProviderName,
    ) -> Result<Option<Provider>, StoreError> {
        StateReader::provider(self, workspace, name).map_err(storage)
    }

    fn mcp_servers(&self, workspace: &WorkspaceId) -> Result<Vec<McpServer>, StoreError> {
        StateReader::mcp_servers(self, workspace).map_err(storage)
    }

    fn catalog_entry(&self, name: &CatalogName) -> Result<Option<CatalogEntry>, StoreError> {
        StateReader::catalog_entry(self, name).map_err(storage)
    }

    fn switches(&self, workspace: &WorkspaceId) -> Result<Option<Switches>, StoreError> {
        StateRead::switches(self, workspace).map_err(storage)
    }

    fn agent_names(&self, workspace: &WorkspaceId) -> Result<Vec<AgentName>, StoreError> {
        Ok(StateRead::agents(self, workspace)
            .map_err(storage)?
            .into_iter()
            .map(|agent| agent.spec.name)
            .collect())
    }

    fn cluster_protocol(&self) -> Result<u32, StoreError> {
        StateRead::cluster_protocol(self).map_err(storage)
    }
}
