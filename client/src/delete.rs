//! The delete RPCs of `Client`: workspaces, and a workspace's providers, MCP servers and
//! agents.
//!
//! None is retried once an attempt may have reached a server: a second attempt after a
//! first that took effect would answer NOT_FOUND. Such a failure is
//! [`Error::OutcomeUnknown`]; list what was being deleted to see whether it is gone.

use warden_proto::v1::agent_service_client::AgentServiceClient;
use warden_proto::v1::workspace_service_client::WorkspaceServiceClient;
use warden_proto::v1::{
    DeleteAgentRequest, DeleteAgentResponse, DeleteMcpServerRequest, DeleteMcpServerResponse,
    DeleteProviderRequest, DeleteProviderResponse, DeleteWorkspaceRequest, DeleteWorkspaceResponse,
};

use crate::{Client, Error};

impl Client {
    /// Deletes workspace `name` and everything stored under it (cluster admins only).
    /// FAILED_PRECONDITION while any of its tasks is unfinished.
    pub async fn delete_workspace(
        &self,
        name: impl Into<String>,
    ) -> Result<DeleteWorkspaceResponse, Error> {
        let request = DeleteWorkspaceRequest { name: name.into() };
        self.unary_once(request, |channel, request| async move {
            WorkspaceServiceClient::new(channel)
                .delete_workspace(request)
                .await
        })
        .await
    }

    /// Deletes provider `name` of `workspace`; FAILED_PRECONDITION while agents use it.
    pub async fn delete_provider(
        &self,
        workspace: impl Into<String>,
        name: impl Into<String>,
    ) -> Result<DeleteProviderResponse, Error> {
        let request = DeleteProviderRequest {
            workspace: workspace.into(),
            name: name.into(),
        };
        self.unary_once(request, |channel, request| async move {
            AgentServiceClient::new(channel)
                .delete_provider(request)
                .await
        })
        .await
    }

    /// Deletes MCP server `name` of `workspace`; FAILED_PRECONDITION while agents'
    /// grants name it.
    pub async fn delete_mcp_server(
        &self,
        workspace: impl Into<String>,
        name: impl Into<String>,
    ) -> Result<DeleteMcpServerResponse, Error> {
        let request = DeleteMcpServerRequest {
            workspace: workspace.into(),
            name: name.into(),
        };
        self.unary_once(request, |channel, request| async move {
            AgentServiceClient::new(channel)
                .delete_mcp_server(request)
                .await
        })
        .await
    }

    /// Deletes agent `name` of `workspace`; FAILED_PRECONDITION while any of its tasks
    /// is unfinished.
    pub async fn delete_agent(
        &self,
        workspace: impl Into<String>,
        name: impl Into<String>,
    ) -> Result<DeleteAgentResponse, Error> {
        let request = DeleteAgentRequest {
            workspace: workspace.into(),
            name: name.into(),
        };
        self.unary_once(request, |channel, request| async move {
            AgentServiceClient::new(channel).delete_agent(request).await
        })
        .await
    }
}
