//! The node's side of the agent runtime's [`Host`]: proposals go through the cluster's
//! write path (journal steps as the task's agent, anything else as the node), `sync` is a
//! linearizable read barrier, secrets are opened with the node's [`Vault`].

use std::sync::Arc;

use futures::future::BoxFuture;
use warden_actors::{Host, HostError, RuntimeOptions, SecretError, Store, Tools};
use warden_core::{Command, NodeId, Outcome, Principal, Request, WorkspaceId};
use warden_mcp::ToolSessions;
use warden_secrets::{SealedSecret, SecretString};

use super::liveness::LeaseClock;
use crate::api::now_ms;
use crate::cluster::{Cluster, Consistency};
use crate::config::Runtime;
use crate::error::Error;
use crate::secrets::Vault;

pub struct NodeHost {
    pub cluster: Cluster,
    pub lease: Arc<LeaseClock>,
    pub runtime: Runtime,
    pub options: RuntimeOptions,
    pub tools: ToolSessions,
    pub vault: Vault,
}

fn host_error(error: Error) -> HostError {
    match error {
        Error::Storage(error) => HostError::Storage(error.to_string()),
        other => HostError::Unavailable(other.to_string()),
    }
}

impl NodeHost {
    /// A task's journal steps are the agent's own acts, so they are proposed (and
    /// audited) as the agent; anything else as this node.
    fn principal_for(&self, command: &Command) -> Result<Principal, Error> {
        if let Command::AppendJournal {
            workspace, task, ..
        } = command
            && let Some(task) = self.cluster.reader().task(workspace, task)?
        {
            return Ok(Principal::agent(workspace, &task.agent));
        }
        Ok(Principal::node(self.node()))
    }
}

impl Host for NodeHost {
    fn node(&self) -> NodeId {
        NodeId(self.cluster.node_id())
    }

    fn propose(&self, command: Command) -> BoxFuture<'_, Result<Outcome, HostError>> {
        Box::pin(async move {
            let request = Request {
                time_ms: now_ms(),
                principal: self.principal_for(&command).map_err(host_error)?,
                token: None,
                command,
            };
            self.cluster.propose(request).await.map_err(host_error)
        })
    }

    fn sync(&self) -> BoxFuture<'_, Result<(), HostError>> {
        Box::pin(async move {
            self.cluster
                .read_barrier(Consistency::Linearizable)
                .await
                .map_err(host_error)
        })
    }

    fn reader(&self) -> &dyn Store {
        self.cluster.reader()
    }

    fn holds_lease(&self) -> bool {
        self.lease.holds(self.runtime.lease)
    }

    fn tools(&self) -> &dyn Tools {
        &self.tools
    }

    fn options(&self) -> &RuntimeOptions {
        &self.options
    }

    fn open_secret(
        &self,
        workspace: &WorkspaceId,
        context: &str,
        sealed: &SealedSecret,
    ) -> Result<SecretString, SecretError> {
        let record = self
            .cluster
            .reader()
            .workspace(workspace)
            .map_err(|error| SecretError::Storage(error.to_string()))?
            .ok_or_else(|| SecretError::WorkspaceNotFound(workspace.clone()))?;
        self.vault.open(&record, context, sealed)
    }
}
