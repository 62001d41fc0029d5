//! The agent-configuration RPCs of `Client`: a workspace's model providers, MCP servers
//! and agents.

use warden_proto::v1::agent_service_client::AgentServiceClient;
use warden_proto::v1::{
    Agent, CreateAgentRequest, CreateAgentResponse, GetAgentRequest, GetAgentResponse,
    ListAgentsRequest, ListAgentsResponse, ListMcpServersRequest, ListMcpServersResponse,
    ListProvidersRequest, ListProvidersResponse, McpServer, Provider, PutProviderRequest,
    PutProviderResponse, RegisterMcpServerRequest, RegisterMcpServerResponse, UpdateAgentRequest,
    UpdateAgentResponse,
};

use crate::{Client, Consistency, Error};

impl Client {
    /// Creates or replaces the model provider `provider.name` of `provider.workspace`.
    /// `version` is ignored; the answer carries the stored one.
    ///
    /// Retried like a read: putting the same definition again leaves the same provider.
    pub async fn put_provider(&self, provider: Provider) -> Result<PutProviderResponse, Error> {
        let request = PutProviderRequest {
            provider: Some(provider),
        };
        self.unary(request, |channel, request| async move {
            AgentServiceClient::new(channel).put_provider(request).await
        })
        .await
    }

    /// The model providers of `workspace`.
    pub async fn list_providers(
        &self,
        workspace: impl Into<String>,
    ) -> Result<ListProvidersResponse, Error> {
        let request = ListProvidersRequest {
            workspace: workspace.into(),
            consistency: Consistency::Linearizable.to_proto(),
        };
        self.unary(request, |channel, request| async move {
            AgentServiceClient::new(channel)
                .list_providers(request)
                .await
        })
        .await
    }

    /// Registers (or re-registers) MCP server `server.name`: a stdio server by cluster
    /// catalog entry `catalog` (with the extra `args` and `env` the entry allows), or an
    /// HTTP server by `url`. The serving node commits the registration, then starts or
    /// reaches the server, lists its tools and commits their pins; a listing that fails
    /// is an error naming the server, which stays registered unpinned. `tools` and
    /// `version` are ignored.
    ///
    /// Connecting and listing happen within the call, so a slow server may need a longer
    /// `ClientOptions::request_timeout`. Retried like a read: registering again pins the
    /// server's current tools.
    pub async fn register_mcp_server(
        &self,
        server: McpServer,
    ) -> Result<RegisterMcpServerResponse, Error> {
        let request = RegisterMcpServerRequest {
            server: Some(server),
        };
        self.unary(request, |channel, request| async move {
            AgentServiceClient::new(channel)
                .register_mcp_server(request)
                .await
        })
        .await
    }

    /// The MCP servers of `workspace`, with their pinned tools.
    pub async fn list_mcp_servers(
        &self,
        workspace: impl Into<String>,
    ) -> Result<ListMcpServersResponse, Error> {
        let request = ListMcpServersRequest {
            workspace: workspace.into(),
            consistency: Consistency::Linearizable.to_proto(),
        };
        self.unary(request, |channel, request| async move {
            AgentServiceClient::new(channel)
                .list_mcp_servers(request)
                .await
        })
        .await
    }

    /// Creates agent `agent.name` in `agent.workspace`; ALREADY_EXISTS if there is one.
    /// Unset limits take the server's defaults; a `paused` agent's tasks are accepted but
    /// not run until it is unpaused.
    ///
    /// Not retried once an attempt may have reached a server, because a creation that took
    /// effect answers ALREADY_EXISTS the second time. Such a failure is
    /// [`Error::OutcomeUnknown`]; `get_agent` tells whether it was created.
    pub async fn create_agent(&self, agent: Agent) -> Result<CreateAgentResponse, Error> {
        let request = CreateAgentRequest { agent: Some(agent) };
        self.unary_once(request, |channel, request| async move {
            AgentServiceClient::new(channel).create_agent(request).await
        })
        .await
    }

    /// Replaces the spec of agent `agent.name` with `agent`, provided it is still at
    /// `expected_version` (ABORTED otherwise, NOT_FOUND when there is no such agent).
    ///
    /// Not retried once an attempt may have reached a server, because an update that took
    /// effect answers ABORTED the second time. Such a failure is
    /// [`Error::OutcomeUnknown`]; `get_agent` shows the version it is at.
    pub async fn update_agent(
        &self,
        agent: Agent,
        expected_version: u64,
    ) -> Result<UpdateAgentResponse, Error> {
        let request = UpdateAgentRequest {
            agent: Some(agent),
            expected_version,
        };
        self.unary_once(request, |channel, request| async move {
            AgentServiceClient::new(channel).update_agent(request).await
        })
        .await
    }

    /// Agent `name` of `workspace`.
    pub async fn get_agent(
        &self,
        workspace: impl Into<String>,
        name: impl Into<String>,
        consistency: Consistency,
    ) -> Result<GetAgentResponse, Error> {
        let request = GetAgentRequest {
            workspace: workspace.into(),
            name: name.into(),
            consistency: consistency.to_proto(),
        };
        self.unary(request, |channel, request| async move {
            AgentServiceClient::new(channel).get_agent(request).await
        })
        .await
    }

    /// The agents of `workspace`.
    pub async fn list_agents(
        &self,
        workspace: impl Into<String>,
    ) -> Result<ListAgentsResponse, Error> {
        let request = ListAgentsRequest {
            workspace: workspace.into(),
            consistency: Consistency::Linearizable.to_proto(),
        };
        self.unary(request, |channel, request| async move {
            AgentServiceClient::new(channel).list_agents(request).await
        })
        .await
    }
}
