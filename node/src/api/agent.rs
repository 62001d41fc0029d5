//! `warden.v1.AgentService`: a workspace's model providers, MCP servers (registered by
//! connecting to them and pinning the tools they list) and agents.

use std::time::Duration;

use prost::Message;
use tonic::{Request, Response, Status};
use warden_actors::credentials::{self, McpCredentials};
use warden_core::{
    Action, AgentName, AgentSpec, Code, Command, Hash, McpTransport, Outcome, Permission,
    ProviderKind, ProviderName, Rejection, ServerName, ToolDefinition, ToolGrant, ToolName,
    WorkspaceId, mcp_bearer_context, mcp_env_context, provider_key_context,
};
use warden_egress::Policy;
use warden_mcp::ServerSpec;
use warden_proto::v1::agent_service_server::AgentService;
use warden_proto::v1::{
    CreateAgentRequest, CreateAgentResponse, GetAgentRequest, GetAgentResponse, ListAgentsRequest,
    ListAgentsResponse, ListMcpServersRequest, ListMcpServersResponse, ListProvidersRequest,
    ListProvidersResponse, PutProviderRequest, PutProviderResponse, RegisterMcpServerRequest,
    RegisterMcpServerResponse, UpdateAgentRequest, UpdateAgentResponse,
};
use warden_secrets::SecretString;

use super::task::parse_workspace;
use super::{Refused, boundary, propose, unexpected};
use crate::auth::Caller;
use crate::cluster::{Cluster, Consistency};
use crate::config::Providers;
use crate::convert;
use crate::error::Error;
use crate::secrets::Vault;

/// How long registering an MCP server may take to connect and list its tools.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Agents {
    cluster: Cluster,
    vault: Vault,
    /// This node's allowlist of provider key variables and its egress rules.
    providers: Providers,
    egress: Policy,
}

impl Agents {
    pub fn new(cluster: Cluster, vault: Vault, providers: Providers, egress: Policy) -> Agents {
        Agents {
            cluster,
            vault,
            providers,
            egress,
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
    let payload_hash = Hash::of(&request.encode_to_vec());
    move |message| Refused {
        action,
        resource: resource.clone(),
        payload_hash,
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

/// Connects to the server the request names (with the credentials it sent, and only
/// where this node's egress rules allow) and lists its tools, to pin them.
async fn list_server_tools(
    spec: &ServerSpec,
    name: &str,
    egress: &Policy,
) -> Result<Vec<ToolDefinition>, Rejection> {
    let failed = |message: String| Rejection::new(Code::FailedPrecondition, message);
    let session = match warden_mcp::McpSession::connect(spec, REGISTER_TIMEOUT, egress).await {
        Ok(session) => session,
        Err(warden_mcp::Error::Egress { refusal, .. }) => {
            return Err(Rejection::new(
                Code::PermissionDenied,
                format!("url: {refusal}"),
            ));
        }
        Err(error) => return Err(failed(format!("cannot reach mcp server {name}: {error}"))),
    };
    let listed = session.list_tools(REGISTER_TIMEOUT).await;
    session.close().await;
    let listed = listed.map_err(|error| {
        failed(format!(
            "cannot list the tools of mcp server {name}: {error}"
        ))
    })?;
    // Pinned exactly as the task actor later compares it before each call.
    listed
        .iter()
        .map(|tool| {
            warden_actors::pinning::definition_of(tool).map_err(|error| {
                failed(format!(
                    "mcp server {name} offers a tool Warden cannot name: {error}"
                ))
            })
        })
        .collect()
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
        let caller = Caller::of(&request)?;
        let workspace = parse_workspace(&request.into_inner().workspace)?;
        let reader = caller
            .read_workspace(&self.cluster, &workspace, Consistency::Linearizable)
            .await?;
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
        let mut request = request.into_inner();
        // The credentials are taken out first, as a provider's key is. The secret
        // variables' names stay in the request, so a refusal's hash covers them.
        let server = request.server.get_or_insert_default();
        let mut secret_env: Vec<(String, SecretString)> = std::mem::take(&mut server.secret_env)
            .into_iter()
            .map(|(name, value)| (name, SecretString::new(value)))
            .collect();
        // In name order, so the stored record does not depend on a map's order.
        secret_env.sort_by(|(a, _), (b, _)| a.cmp(b));
        server.secret_env_names = secret_env.iter().map(|(name, _)| name.clone()).collect();
        let secret_bearer = SecretString::new(std::mem::take(&mut server.secret_bearer));
        server.secret_bearer_set = !secret_bearer.expose().is_empty();
        let server = server.clone();
        let refuse = refusal(
            Action::McpServerRegister,
            resource(&server.workspace, "mcp_server", &server.name),
            &request,
        );
        let parsed = async {
            let workspace = parse(WorkspaceId::parse(&server.workspace), &refuse)?;
            let name = parse(ServerName::parse(&server.name), &refuse)?;
            let has_bearer = !secret_bearer.expose().is_empty();
            let mut transport = match (server.command.is_empty(), server.url.is_empty()) {
                (false, true) if has_bearer => {
                    return Err(refuse(
                        "secret_bearer is for an http server (url); use secret_env".to_owned(),
                    ));
                }
                (false, true) => McpTransport::Stdio {
                    command: server.command.clone(),
                    args: server.args.clone(),
                    env: server.env.clone().into_iter().collect(),
                    secret_env: Vec::new(),
                },
                (true, false) if !secret_env.is_empty() => {
                    return Err(refuse(
                        "secret_env is for a stdio server (command); use secret_bearer".to_owned(),
                    ));
                }
                (true, false) => {
                    // Refused before the server is reached, as well as when it is.
                    if let Some(rejection) = boundary::url_refusal(&self.egress, "url", &server.url)
                    {
                        return Err(Refused {
                            rejection,
                            ..refuse(String::new())
                        });
                    }
                    McpTransport::Http {
                        url: server.url.clone(),
                        bearer: None,
                    }
                }
                _ => return Err(refuse("set exactly one of command and url".to_owned())),
            };
            // Registering starts the server's command on this node: only a caller who
            // may configure the workspace gets that far.
            caller
                .require(&self.cluster, Some(&workspace), Permission::Configure)
                .map_err(|error| Refused {
                    rejection: match error {
                        Error::Rejected(rejection) => rejection,
                        other => Rejection::new(Code::PermissionDenied, other.to_string()),
                    },
                    ..refuse(String::new())
                })?;
            let refused = |rejection: Rejection| Refused {
                rejection,
                ..refuse(String::new())
            };
            // Sealed before the server is reached, so a node without a master key refuses
            // without starting anything.
            let mut workspace_key = None;
            if !secret_env.is_empty() || has_bearer {
                let sealer = match self.vault.sealer(&self.cluster, &workspace).await {
                    Ok(Ok(sealer)) => sealer,
                    Ok(Err(rejection)) => return Err(refused(rejection)),
                    Err(error) => return Ok(Err(error)),
                };
                match &mut transport {
                    McpTransport::Stdio {
                        secret_env: sealed, ..
                    } => {
                        for (variable, value) in &secret_env {
                            let context = mcp_env_context(&workspace, &name, variable);
                            sealed.push((
                                variable.clone(),
                                sealer.seal(value, &context).map_err(refused)?,
                            ));
                        }
                    }
                    McpTransport::Http { bearer, .. } => {
                        let context = mcp_bearer_context(&workspace, &name);
                        *bearer = Some(sealer.seal(&secret_bearer, &context).map_err(refused)?);
                    }
                }
                workspace_key = sealer.offered();
            }
            // Listing the tools uses the credentials as sent.
            let spec = credentials::server_spec(
                &transport,
                &McpCredentials {
                    env: secret_env,
                    bearer: has_bearer.then_some(secret_bearer),
                },
            );
            let tools = list_server_tools(&spec, name.as_str(), &self.egress)
                .await
                .map_err(|rejection| Refused {
                    rejection,
                    ..refuse(String::new())
                })?;
            drop(spec);
            Ok(Ok(Command::RegisterMcpServer {
                workspace,
                name,
                transport,
                tools,
                workspace_key,
            }))
        }
        .await;
        let parsed = match parsed {
            Ok(Ok(command)) => Ok(command),
            Ok(Err(error)) => return Err(error.into()),
            Err(refused) => Err(refused),
        };
        match self.save(&caller, parsed).await? {
            Outcome::McpServerRegistered(server) => Ok(Response::new(RegisterMcpServerResponse {
                server: Some(convert::mcp_server(&server)),
            })),
            other => Err(unexpected(&other).into()),
        }
    }

    async fn list_mcp_servers(
        &self,
        request: Request<ListMcpServersRequest>,
    ) -> Result<Response<ListMcpServersResponse>, Status> {
        let caller = Caller::of(&request)?;
        let workspace = parse_workspace(&request.into_inner().workspace)?;
        let reader = caller
            .read_workspace(&self.cluster, &workspace, Consistency::Linearizable)
            .await?;
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
                convert::consistency(request.consistency),
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
        let caller = Caller::of(&request)?;
        let workspace = parse_workspace(&request.into_inner().workspace)?;
        let reader = caller
            .read_workspace(&self.cluster, &workspace, Consistency::Linearizable)
            .await?;
        let agents = reader.agents(&workspace).map_err(Error::from)?;
        Ok(Response::new(ListAgentsResponse {
            agents: agents.iter().map(convert::agent).collect(),
        }))
    }
}
