//! An `AgentService` double that keeps providers, MCP servers and agents in memory, with
//! the server's versioning rules: create refuses an existing agent, update checks the
//! expected version; delete removes a record or answers NOT_FOUND (without the server's
//! dependency checks). A registered MCP server gets two fixed tools.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tonic::transport::Server;
use tonic::{Request, Response, Status};
use warden_client::proto::agent_service_server::{AgentService, AgentServiceServer};
use warden_client::proto::{
    Agent, CreateAgentRequest, CreateAgentResponse, DeleteAgentRequest, DeleteAgentResponse,
    DeleteMcpServerRequest, DeleteMcpServerResponse, DeleteProviderRequest, DeleteProviderResponse,
    GetAgentRequest, GetAgentResponse, ListAgentsRequest, ListAgentsResponse,
    ListMcpServersRequest, ListMcpServersResponse, ListProvidersRequest, ListProvidersResponse,
    McpServer, McpTool, Provider, PutProviderRequest, PutProviderResponse,
    RegisterMcpServerRequest, RegisterMcpServerResponse, UpdateAgentRequest, UpdateAgentResponse,
};

use super::{TestServer, serve};

#[derive(Default)]
struct State {
    providers: BTreeMap<String, Provider>,
    servers: BTreeMap<String, McpServer>,
    agents: BTreeMap<String, Agent>,
    updates: Vec<UpdateAgentRequest>,
}

#[derive(Clone, Default)]
pub struct AgentServiceDouble {
    state: Arc<Mutex<State>>,
}

impl AgentServiceDouble {
    pub fn new() -> Self {
        AgentServiceDouble::default()
    }

    /// Stores `agent` as it is, version included.
    pub fn with_agent(self, agent: Agent) -> Self {
        self.state
            .lock()
            .expect("lock")
            .agents
            .insert(agent.name.clone(), agent);
        self
    }

    pub fn agent(&self, name: &str) -> Option<Agent> {
        self.state.lock().expect("lock").agents.get(name).cloned()
    }

    pub fn provider(&self, name: &str) -> Option<Provider> {
        self.state
            .lock()
            .expect("lock")
            .providers
            .get(name)
            .cloned()
    }

    pub fn server(&self, name: &str) -> Option<McpServer> {
        self.state.lock().expect("lock").servers.get(name).cloned()
    }

    /// Every `UpdateAgent` request received, in order.
    pub fn updates(&self) -> Vec<UpdateAgentRequest> {
        self.state.lock().expect("lock").updates.clone()
    }

    pub async fn serve(&self) -> TestServer {
        serve(Server::builder().add_service(AgentServiceServer::new(self.clone()))).await
    }
}

fn fixed_tools() -> Vec<McpTool> {
    vec![
        McpTool {
            name: "read".into(),
            description: "read a file".into(),
            input_schema_json: r#"{"type":"object"}"#.into(),
            read_only: true,
            idempotent: true,
            destructive: false,
            definition_hash: "ab".repeat(32),
            drifted_hash: String::new(),
        },
        McpTool {
            name: "delete".into(),
            description: "delete a file".into(),
            input_schema_json: r#"{"type":"object"}"#.into(),
            read_only: false,
            idempotent: true,
            destructive: true,
            definition_hash: "cd".repeat(32),
            drifted_hash: String::new(),
        },
    ]
}

#[tonic::async_trait]
impl AgentService for AgentServiceDouble {
    async fn put_provider(
        &self,
        request: Request<PutProviderRequest>,
    ) -> Result<Response<PutProviderResponse>, Status> {
        let mut provider = request.into_inner().provider.unwrap_or_default();
        let mut state = self.state.lock().expect("lock");
        provider.version = state
            .providers
            .get(&provider.name)
            .map_or(1, |earlier| earlier.version + 1);
        state
            .providers
            .insert(provider.name.clone(), provider.clone());
        Ok(Response::new(PutProviderResponse {
            provider: Some(provider),
        }))
    }

    async fn list_providers(
        &self,
        _request: Request<ListProvidersRequest>,
    ) -> Result<Response<ListProvidersResponse>, Status> {
        let state = self.state.lock().expect("lock");
        Ok(Response::new(ListProvidersResponse {
            providers: state.providers.values().cloned().collect(),
        }))
    }

    async fn register_mcp_server(
        &self,
        request: Request<RegisterMcpServerRequest>,
    ) -> Result<Response<RegisterMcpServerResponse>, Status> {
        let mut server = request.into_inner().server.unwrap_or_default();
        let mut state = self.state.lock().expect("lock");
        server.version = state
            .servers
            .get(&server.name)
            .map_or(1, |earlier| earlier.version + 1);
        server.tools = fixed_tools();
        state.servers.insert(server.name.clone(), server.clone());
        Ok(Response::new(RegisterMcpServerResponse {
            server: Some(server),
        }))
    }

    async fn list_mcp_servers(
        &self,
        _request: Request<ListMcpServersRequest>,
    ) -> Result<Response<ListMcpServersResponse>, Status> {
        let state = self.state.lock().expect("lock");
        Ok(Response::new(ListMcpServersResponse {
            servers: state.servers.values().cloned().collect(),
        }))
    }

    async fn create_agent(
        &self,
        request: Request<CreateAgentRequest>,
    ) -> Result<Response<CreateAgentResponse>, Status> {
        let mut agent = request.into_inner().agent.unwrap_or_default();
        let mut state = self.state.lock().expect("lock");
        if state.agents.contains_key(&agent.name) {
            return Err(Status::already_exists(format!(
                "agent {} already exists",
                agent.name
            )));
        }
        agent.version = 1;
        state.agents.insert(agent.name.clone(), agent.clone());
        Ok(Response::new(CreateAgentResponse { agent: Some(agent) }))
    }

    async fn update_agent(
        &self,
        request: Request<UpdateAgentRequest>,
    ) -> Result<Response<UpdateAgentResponse>, Status> {
        let request = request.into_inner();
        let mut state = self.state.lock().expect("lock");
        state.updates.push(request.clone());
        let mut agent = request.agent.unwrap_or_default();
        let current = state
            .agents
            .get(&agent.name)
            .ok_or_else(|| Status::not_found(format!("agent {} not found", agent.name)))?;
        if current.version != request.expected_version {
            return Err(Status::aborted(format!(
                "agent {} is at version {}, not the expected {}",
                agent.name, current.version, request.expected_version
            )));
        }
        agent.version = current.version + 1;
        state.agents.insert(agent.name.clone(), agent.clone());
        Ok(Response::new(UpdateAgentResponse { agent: Some(agent) }))
    }

    async fn get_agent(
        &self,
        request: Request<GetAgentRequest>,
    ) -> Result<Response<GetAgentResponse>, Status> {
        let name = request.into_inner().name;
        let state = self.state.lock().expect("lock");
        let agent = state
            .agents
            .get(&name)
            .cloned()
            .ok_or_else(|| Status::not_found(format!("agent {name} not found")))?;
        Ok(Response::new(GetAgentResponse { agent: Some(agent) }))
    }

    async fn list_agents(
        &self,
        _request: Request<ListAgentsRequest>,
    ) -> Result<Response<ListAgentsResponse>, Status> {
        let state = self.state.lock().expect("lock");
        Ok(Response::new(ListAgentsResponse {
            agents: state.agents.values().cloned().collect(),
        }))
    }

    async fn delete_provider(
        &self,
        request: Request<DeleteProviderRequest>,
    ) -> Result<Response<DeleteProviderResponse>, Status> {
        let name = request.into_inner().name;
        let provider = self.state.lock().expect("lock").providers.remove(&name);
        match provider {
            Some(provider) => Ok(Response::new(DeleteProviderResponse {
                provider: Some(provider),
            })),
            None => Err(Status::not_found(format!("provider {name} not found"))),
        }
    }

    async fn delete_mcp_server(
        &self,
        request: Request<DeleteMcpServerRequest>,
    ) -> Result<Response<DeleteMcpServerResponse>, Status> {
        let name = request.into_inner().name;
        let server = self.state.lock().expect("lock").servers.remove(&name);
        match server {
            Some(server) => Ok(Response::new(DeleteMcpServerResponse {
                server: Some(server),
            })),
            None => Err(Status::not_found(format!("mcp server {name} not found"))),
        }
    }

    async fn delete_agent(
        &self,
        request: Request<DeleteAgentRequest>,
    ) -> Result<Response<DeleteAgentResponse>, Status> {
        let name = request.into_inner().name;
        let agent = self.state.lock().expect("lock").agents.remove(&name);
        match agent {
            Some(agent) => Ok(Response::new(DeleteAgentResponse { agent: Some(agent) })),
            None => Err(Status::not_found(format!("agent {name} not found"))),
        }
    }
}
