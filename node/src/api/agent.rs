//! `warden.v1.AgentService`: a workspace's model providers, MCP servers (registered and
//! pinned in two commits, see `mcp_register.rs`) and agents.

use prost::Message;
use tonic::{Request, Response, Status};
use warden_core::{
    Action, AgentName, AgentSpec, Code, Command, Outcome, ProviderKind, ProviderName, Rejection,
    ServerName, ToolGrant, ToolName, WorkspaceId, provider_key_context,
};
use warden_egress::Policy;
use warden_mcp::ToolSessions;
use warden_proto::v1::agent_service_server::AgentService;
use warden_proto::v1::{
    CreateAgentRequest, CreateAgentResponse, DeleteAgentRequest, DeleteAgentResponse,
    DeleteMcpServerRequest, DeleteMcpServerResponse, DeleteProviderRequest, DeleteProviderResponse,
    GetAgentRequest, GetAgentResponse, ListAgentsRequest, ListAgentsResponse,
    ListMcpServersRequest, ListMcpServersResponse, ListProvidersRequest, ListProvidersResponse,
    PutProviderRequest, PutProviderResponse, RegisterMcpServerRequest, RegisterMcpServerResponse,
    UpdateAgentRequest, UpdateAgentResponse,
};
use warden_secrets::SecretString;

mod delete;

use super::mcp_register::Registrar;
use super::task::parse_workspace;
use super::{Refused, boundary, propose, read_workspace, unexpected};
use crate::api::Payload;
use crate::auth::Caller;
use crate::cluster::Cluster;
use crate::config::Providers;
use crate::convert;
use crate::error::Error;
use crate::secrets::Vault;

pub struct Agents {
    cluster: Cluster,
    vault: Vault,
    /// The node's tool supervisor: registration lists a server's tools through it.
    tools: ToolSessions,
    /// This node's allowlist of provider key variables and its egress rules.
    providers: Providers,
    egress: Policy,
    /// `mcp.trust_tool_annotations`, recorded in the pins this node proposes.
    trust_annotations: bool,
}

impl Agents {
    pub fn new(
        cluster: Cluster,
        vault: Vault,
        tools: ToolSessions,
        providers: Providers,
        egress: Policy,
        trust_annotations: bool,
    ) -> Agents {
        Agents {
            cluster,
            vault,
            tools,
            providers,
            egress,
            trust_annotations,
        }
    }

    /// Seals the API key into a parsed `PutProvider`, with the workspace's new key when
    /// it had none. The plaintext goes no further than this.
    async fn seal_provider_key(
        &self,
        mut command: Command,
        api_key: &SecretString,
        refuse: &impl Fn(String) -> Refused,
    ) -> Result<Result<Command, Refused>, Error> {
        let Command::PutProvider {
            workspace,
            name,
            api_key: sealed_key,
            workspace_key,
            ..
        } = &mut command
        else {
            unreachable!("seal_provider_key is called for PutProvider only")
        };
        let refused = |rejection: Rejection| Refused {
            rejection,
            ..refuse(String::new())
        };
        let sealer = match self.vault.sealer(&self.cluster, workspace).await? {
            Ok(sealer) => sealer,
            Err(rejection) => return Ok(Err(refused(rejection))),
        };
        match sealer.seal(api_key, &provider_key_context(workspace, name)) {
            Ok(sealed) => *sealed_key = Some(sealed),
            Err(rejection) => return Ok(Err(refused(rejection))),
        }
        *workspace_key = sealer.offered();
        Ok(Ok(command))
    }

    async fn save(
        &self,
        caller: &Caller,
        parsed: Result<Command, Refused>,
    ) -> Result<Outcome, Status> {
        Ok(propose(&self.cluster, caller, parsed).await?)
    }
}

/// A refusal at the edge, recorded in the audit chain against `resource`.
fn refusal(action: Action, resource: String, request: &impl Message) -> impl Fn(String) -> Refused {
    let payload = Payload::of(request);
    move |message| Refused {
        action,
        resource: resource.clone(),
        payload,
        rejection: Rejection::new(Code::InvalidArgument, message),
    }
}

fn resource(workspace: &str, kind: &str, name: &str) -> String {
    format!(
        "workspace/{}/{kind}/{}",
        convert::sanitized(workspace),
        convert::sanitized(name)
    )
}

fn parse<T>(
    result: Result<T, warden_core::Error>,
    refuse: &impl Fn(String) -> Refused,
) -> Result<T, Refused> {
    result.map_err(|error| refuse(error.to_string()))
}

fn provider_refusal(request: &PutProviderRequest) -> impl Fn(String) -> Refused {
    let provider = request.provider.clone().unwrap_or_default();
    refusal(
        Action::ProviderPut,
        resource(&provider.workspace, "provider", &provider.name),
        request,
    )
}

/// The command without its API key, which [`Agents::seal_provider_key`] adds sealed.
fn parse_provider(request: &PutProviderRequest) -> Result<Command, Refused> {
    let provider = request.provider.clone().unwrap_or_default();
    let refuse = provider_refusal(request);
    let kind = match provider.kind.as_str() {
        "openai" => ProviderKind::OpenAi,
        "anthropic" => ProviderKind::Anthropic,
        other => {
            return Err(refuse(format!(
                "kind {other:?} must be openai or anthropic"
            )));
        }
    };
    Ok(Command::PutProvider {
        workspace: parse(WorkspaceId::parse(&provider.workspace), &refuse)?,
        name: parse(ProviderName::parse(&provider.name), &refuse)?,
        kind,
        base_url: provider.base_url.trim_end_matches('/').to_owned(),
        model: provider.model,
        api_key_env: (!provider.api_key_env.is_empty()).then_some(provider.api_key_env),
        api_key: None,
        request_timeout_ms: if provider.request_timeout_ms == 0 {
            60_000
        } else {
            provider.request_timeout_ms
        },
        max_retries: provider.max_retries,
        max_output_tokens: if provider.max_output_tokens == 0 {
            1024
        } else {
            provider.max_output_tokens
        },
        workspace_key: None,
    })
}

fn parse_agent(
    agent: &warden_proto::v1::Agent,
    refuse: &impl Fn(String) -> Refused,
) -> Result<(WorkspaceId, AgentSpec), Refused> {
    let workspace = parse(WorkspaceId::parse(&agent.workspace), refuse)?;
    let mut tools = Vec::with_capacity(agent.tools.len());
    for grant in &agent.tools {
        tools.push(ToolGrant {
            server: parse(ServerName::parse(&grant.server), refuse)?,
            tool: parse(ToolName::parse(&grant.tool), refuse)?,
            retry_safe: grant.retry_safe,
        });
    }
    let spec = AgentSpec {
        name: parse(AgentName::parse(&agent.name), refuse)?,
        instructions: agent.instructions.clone(),
        provider: parse(ProviderName::parse(&agent.provider), refuse)?,
        tools,
        limits: convert::limits_from(agent.limits.as_ref()),
        paused: agent.paused,
    };
    Ok((workspace, spec))
}

#[tonic::async_trait]
impl AgentService for Agents {
    async fn put_provider(
        &self,
        request: Request<PutProviderRequest>,
    ) -> Result<Response<PutProviderResponse>, Status> {
        let caller = Caller::of(&request)?;
        let mut request = request.into_inner();
        // The key is taken out first: it is sealed, and nothing else sees it (a refusal
        // records the hash of the request without it).
        let api_key = SecretString::new(std::mem::take(
            &mut request.provider.get_or_insert_default().api_key,
        ));
        let refuse = provider_refusal(&request);
        let parsed =
            parse_provider(&request).and_then(|command| {
                match boundary::provider_refusal(&self.providers, &self.egress, &command) {
                    Some(rejection) => Err(Refused {
                        rejection,
                        ..refuse(String::new())
                    }),
                    None => Ok(command),
                }
            });
        let parsed = match parsed {
            Ok(command) if !api_key.expose().is_empty() => {
                self.seal_provider_key(command, &api_key, &refuse).await?
            }
            other => other,
        };
        drop(api_key);
        match self.save(&caller, parsed).await? {
            Outcome::ProviderPut(provider) => Ok(Response::new(PutProviderResponse {
                provider: Some(convert::provider(&provider)),
            })),
            other => Err(unexpected(&other).into()),
        }
    }

    async fn list_providers(
        &self,
        request: Request<ListProvidersRequest>,
    ) -> Result<Response<ListProvidersResponse>, Status> {
        let (reader, workspace) = read_workspace(&self.cluster, &request).await?;
        let providers = reader.providers(&workspace).map_err(Error::from)?;
        Ok(Response::new(ListProvidersResponse {
            providers: providers.iter().map(convert::provider).collect(),
        }))
    }

    async fn register_mcp_server(
        &self,
        request: Request<RegisterMcpServerRequest>,
    ) -> Result<Response<RegisterMcpServerResponse>, Status> {
        let caller = Caller::of(&request)?;
        let registrar = Registrar {
            cluster: &self.cluster,
            vault: &self.vault,
            tools: &self.tools,
            egress: &self.egress,
            trust_annotations: self.trust_annotations,
        };
        let server = registrar.register(&caller, request.into_inner()).await?;
        Ok(Response::new(RegisterMcpServerResponse {
            server: Some(convert::mcp_server(&server)),
        }))
    }

    async fn list_mcp_servers(
        &self,
        request: Request<ListMcpServersRequest>,
    ) -> Result<Response<ListMcpServersResponse>, Status> {
        let (reader, workspace) = read_workspace(&self.cluster, &request).await?;
        let servers = reader.mcp_servers(&workspace).map_err(Error::from)?;
        Ok(Response::new(ListMcpServersResponse {
            servers: servers.iter().map(convert::mcp_server).collect(),
        }))
    }

    async fn create_agent(
        &self,
        request: Request<CreateAgentRequest>,
    ) -> Result<Response<CreateAgentResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let agent = request.agent.clone().unwrap_or_default();
        let refuse = refusal(
            Action::AgentCreate,
            resource(&agent.workspace, "agent", &agent.name),
            &request,
        );
        let parsed = parse_agent(&agent, &refuse)
            .map(|(workspace, spec)| Command::CreateAgent { workspace, spec });
        match self.save(&caller, parsed).await? {
            Outcome::AgentSaved(agent) => Ok(Response::new(CreateAgentResponse {
                agent: Some(convert::agent(&agent)),
            })),
            other => Err(unexpected(&other).into()),
        }
    }

    async fn update_agent(
        &self,
        request: Request<UpdateAgentRequest>,
    ) -> Result<Response<UpdateAgentResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let agent = request.agent.clone().unwrap_or_default();
        let refuse = refusal(
            Action::AgentUpdate,
            resource(&agent.workspace, "agent", &agent.name),
            &request,
        );
        let parsed = parse_agent(&agent, &refuse).map(|(workspace, spec)| Command::UpdateAgent {
            workspace,
            spec,
            expected_version: request.expected_version,
        });
        match self.save(&caller, parsed).await? {
            Outcome::AgentSaved(agent) => Ok(Response::new(UpdateAgentResponse {
                agent: Some(convert::agent(&agent)),
            })),
            other => Err(unexpected(&other).into()),
        }
    }

    async fn get_agent(
        &self,
        request: Request<GetAgentRequest>,
    ) -> Result<Response<GetAgentResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let workspace = parse_workspace(&request.workspace)?;
        let name = AgentName::parse(&request.name).map_err(|error| Error::InvalidArgument {
            field: "name",
            message: error.to_string(),
        })?;
        let reader = caller
            .read_workspace(
                &self.cluster,
                &workspace,
                convert::consistency(request.consistency)?,
            )
            .await?;
        match reader.agent(&workspace, &name).map_err(Error::from)? {
            Some(agent) => Ok(Response::new(GetAgentResponse {
                agent: Some(convert::agent(&agent)),
            })),
            None => Err(Error::NotFound {
                what: format!("agent {name} in workspace {workspace}"),
            }
            .into()),
        }
    }

    async fn list_agents(
        &self,
        request: Request<ListAgentsRequest>,
    ) -> Result<Response<ListAgentsResponse>, Status> {
        let (reader, workspace) = read_workspace(&self.cluster, &request).await?;
        let agents = reader.agents(&workspace).map_err(Error::from)?;
        Ok(Response::new(ListAgentsResponse {
            agents: agents.iter().map(convert::agent).collect(),
        }))
    }

    async fn delete_provider(
        &self,
        request: Request<DeleteProviderRequest>,
    ) -> Result<Response<DeleteProviderResponse>, Status> {
        let caller = Caller::of(&request)?;
        match self
            .save(&caller, delete::provider(request.get_ref()))
            .await?
        {
            Outcome::ProviderDeleted(provider) => Ok(Response::new(DeleteProviderResponse {
                provider: Some(convert::provider(&provider)),
            })),
            other => Err(unexpected(&other).into()),
        }
    }

    async fn delete_mcp_server(
        &self,
        request: Request<DeleteMcpServerRequest>,
    ) -> Result<Response<DeleteMcpServerResponse>, Status> {
        let caller = Caller::of(&request)?;
        match self
            .save(&caller, delete::mcp_server(request.get_ref()))
            .await?
        {
            Outcome::McpServerDeleted(server) => Ok(Response::new(DeleteMcpServerResponse {
                server: Some(convert::mcp_server(&server)),
            })),
            other => Err(unexpected(&other).into()),
        }
    }

    async fn delete_agent(
        &self,
        request: Request<DeleteAgentRequest>,
    ) -> Result<Response<DeleteAgentResponse>, Status> {
        let caller = Caller::of(&request)?;
        match self.save(&caller, delete::agent(request.get_ref())).await? {
            Outcome::AgentDeleted(agent) => Ok(Response::new(DeleteAgentResponse {
                agent: Some(convert::agent(&agent)),
            })),
            other => Err(unexpected(&other).into()),
        }
    }
}
