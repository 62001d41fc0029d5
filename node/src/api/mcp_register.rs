//! Registering an MCP server in two commits, so that nothing is started for a caller
//! before `apply()` has authorized the registration:
//!
//! 1. `RegisterMcpServer` stores the server unpinned (a stdio server by catalog entry,
//!    which `apply()` checks exists and allows the extra arguments and variables);
//! 2. only then the node starts or reaches the server through its tool supervisor (the
//!    same one task actors use), lists its tools, and proposes `PinMcpTools` for that
//!    registration's version, which `apply()` authorizes again and refuses if the server
//!    was registered anew in between.
//!
//! A listing that fails leaves the server registered unpinned (none of its tools can be
//! granted or called) and the caller gets FAILED_PRECONDITION naming the server and cause.

use std::time::Duration;

use warden_actors::credentials::{self, McpCredentials};
use warden_core::{
    Action, CatalogName, Code, Command, McpServer, McpTransport, Outcome, Rejection, ServerName,
    ToolDefinition, WorkspaceId, mcp_bearer_context, mcp_env_context,
};
use warden_mcp::{ServerSpec, ToolSessions};
use warden_proto::v1::RegisterMcpServerRequest;
use warden_secrets::SecretString;

use super::{Refused, propose, unexpected};
use crate::api::Payload;
use crate::auth::Caller;
use crate::cluster::{Cluster, Consistency};
use crate::convert;
use crate::error::Error;
use crate::secrets::Vault;

/// How long listing a newly registered server's tools may take, start-up included.
const LIST_TIMEOUT: Duration = Duration::from_secs(30);

/// What registering needs from the node.
pub struct Registrar<'a> {
    pub cluster: &'a Cluster,
    pub vault: &'a Vault,
    pub tools: &'a ToolSessions,
    /// Where this node may connect: an HTTP server's URL is checked at the edge too.
    pub egress: &'a warden_egress::Policy,
    /// This node's `mcp.trust_tool_annotations`, recorded in the pin.
    pub trust_annotations: bool,
}

/// The plaintext credentials of a request, taken out of it before anything else sees it.
struct Credentials {
    env: Vec<(String, SecretString)>,
    bearer: SecretString,
}

impl Credentials {
    /// Takes the credentials out of `request`, leaving their names (so a refusal's hash
    /// covers them).
    fn take(request: &mut RegisterMcpServerRequest) -> Credentials {
        let server = request.server.get_or_insert_default();
        let mut env: Vec<(String, SecretString)> = std::mem::take(&mut server.secret_env)
            .into_iter()
            .map(|(name, value)| (name, SecretString::new(value)))
            .collect();
        // In name order, so the stored record does not depend on a map's order.
        env.sort_by(|(a, _), (b, _)| a.cmp(b));
        server.secret_env_names = env.iter().map(|(name, _)| name.clone()).collect();
        let bearer = SecretString::new(std::mem::take(&mut server.secret_bearer));
        server.secret_bearer_set = !bearer.expose().is_empty();
        Credentials { env, bearer }
    }

    fn has_bearer(&self) -> bool {
        !self.bearer.expose().is_empty()
    }
}

impl Registrar<'_> {
    /// Registers, lists and pins; returns the pinned server.
    pub async fn register(
        &self,
        caller: &Caller,
        mut request: RegisterMcpServerRequest,
    ) -> Result<McpServer, Error> {
        let secrets = Credentials::take(&mut request);
        let server = request.server.clone().unwrap_or_default();
        let payload = Payload::of(&request);
        let refuse = |rejection: Rejection| Refused {
            action: Action::McpServerRegister,
            resource: format!(
                "workspace/{}/mcp_server/{}",
                convert::sanitized(&server.workspace),
                convert::sanitized(&server.name)
            ),
            payload,
            rejection,
        };
        // A refusal to record (`Ok`), or a failure of this node (`Err`).
        let invalid = |message: String| Ok(refuse(Rejection::new(Code::InvalidArgument, message)));
        let parsed = async {
            let workspace = WorkspaceId::parse(&server.workspace)
                .map_err(|error| invalid(error.to_string()))?;
            let name =
                ServerName::parse(&server.name).map_err(|error| invalid(error.to_string()))?;
            let transport = parse_transport(&server, &secrets).map_err(invalid)?;
            if let McpTransport::Http { url, .. } = &transport
                && let Some(rejection) = super::boundary::url_refusal(self.egress, "url", url)
            {
                return Err(Ok(refuse(rejection)));
            }
            self.seal(workspace, name, transport, &secrets)
                .await
                .map_err(|rejection| rejection.map(refuse))
        }
        .await;
        let parsed = match parsed {
            Ok(command) => Ok(command),
            Err(Ok(refused)) => Err(refused),
            Err(Err(error)) => return Err(error),
        };
        let registered = match propose(self.cluster, caller, parsed).await? {
            Outcome::McpServerRegistered(server) => server,
            other => return Err(unexpected(&other)),
        };
        // Authorized and committed: only now is anything started.
        let unpinned_as = |code: Code, cause: String| {
            Error::Rejected(Rejection::new(
                code,
                format!(
                    "mcp server {} is registered but unpinned (its tools cannot be called): {cause}",
                    registered.name
                ),
            ))
        };
        let unpinned = |cause: String| unpinned_as(Code::FailedPrecondition, cause);
        let credentials = McpCredentials {
            env: secrets.env,
            bearer: (!secrets.bearer.expose().is_empty()).then_some(secrets.bearer),
        };
        let spec = self
            .resolve(&registered, &credentials)
            .await?
            .map_err(unpinned)?;
        let key = format!("{}/{}", registered.workspace, registered.name);
        let node = self.cluster.node_id();
        let tools = list_tools(self.tools, &key, &spec)
            .await
            .map_err(|(code, cause)| unpinned_as(code, format!("on node {node}, {cause}")))?;
        drop(spec);
        let pin = Command::PinMcpTools {
            workspace: registered.workspace.clone(),
            name: registered.name.clone(),
            expected_version: registered.version,
            tools,
            trust_annotations: self.trust_annotations,
        };
        match propose(self.cluster, caller, Ok(pin)).await? {
            Outcome::McpServerPinned(server) => Ok(server),
            other => Err(unexpected(&other)),
        }
    }

    /// The command with the credentials sealed by the workspace's key (a node without a
    /// master key refuses here, before anything is proposed).
    async fn seal(
        &self,
        workspace: WorkspaceId,
        name: ServerName,
        mut transport: McpTransport,
        secrets: &Credentials,
    ) -> Result<Command, Result<Rejection, Error>> {
        let mut workspace_key = None;
        if !secrets.env.is_empty() || secrets.has_bearer() {
            let sealer = self
                .vault
                .sealer(self.cluster, &workspace)
                .await
                .map_err(Err)?
                .map_err(Ok)?;
            match &mut transport {
                McpTransport::Stdio { secret_env, .. } => {
                    for (variable, value) in &secrets.env {
                        let context = mcp_env_context(&workspace, &name, variable);
                        let sealed = sealer.seal(value, &context).map_err(Ok)?;
                        secret_env.push((variable.clone(), sealed));
                    }
                }
                McpTransport::Http { bearer, .. } => {
                    let context = mcp_bearer_context(&workspace, &name);
                    *bearer = Some(sealer.seal(&secrets.bearer, &context).map_err(Ok)?);
                }
            }
            workspace_key = sealer.offered();
        }
        Ok(Command::RegisterMcpServer {
            workspace,
            name,
            transport,
            workspace_key,
        })
    }

    /// How to start or reach the registered server, with its catalog entry as committed.
    async fn resolve(
        &self,
        server: &McpServer,
        credentials: &McpCredentials,
    ) -> Result<Result<ServerSpec, String>, Error> {
        let entry = match &server.transport {
            McpTransport::Stdio { catalog, .. } => {
                // The entry as of (at least) the registration's commit.
                self.cluster.read_barrier(Consistency::Linearizable).await?;
                self.cluster.reader().catalog_entry(catalog)?
            }
            McpTransport::Http { .. } => None,
        };
        Ok(credentials::server_spec(
            &server.transport,
            entry.as_ref(),
            credentials,
        ))
    }
}

/// The transport a request asks for, without its secrets (sealed later). A raw command
/// is refused: stdio servers come from the cluster catalog only.
fn parse_transport(
    server: &warden_proto::v1::McpServer,
    secrets: &Credentials,
) -> Result<McpTransport, String> {
    if !server.command.is_empty() {
        return Err(format!(
            "command {:?} is not accepted: register a stdio server by catalog entry (catalog), \
             which a cluster admin manages (wardenctl catalog list)",
            convert::sanitized(&server.command)
        ));
    }
    match (server.catalog.is_empty(), server.url.is_empty()) {
        (false, true) if secrets.has_bearer() => {
            Err("secret_bearer is for an http server (url); use secret_env".to_owned())
        }
        (false, true) => Ok(McpTransport::Stdio {
            catalog: CatalogName::parse(&server.catalog).map_err(|error| error.to_string())?,
            args: server.args.clone(),
            env: server.env.clone().into_iter().collect(),
            secret_env: Vec::new(),
        }),
        (true, false) if !secrets.env.is_empty() => {
            Err("secret_env is for a stdio server (catalog); use secret_bearer".to_owned())
        }
        (true, false) if !server.args.is_empty() || !server.env.is_empty() => {
            Err("args and env are for a stdio server (catalog)".to_owned())
        }
        (true, false) => Ok(McpTransport::Http {
            url: server.url.clone(),
            bearer: None,
        }),
        _ => Err("set exactly one of catalog and url".to_owned()),
    }
}

/// Lists the server's tools through the tool supervisor, as the task actors will see
/// them, and turns them into the definitions to pin.
pub(crate) async fn list_tools(
    tools: &ToolSessions,
    key: &str,
    spec: &ServerSpec,
) -> Result<Vec<ToolDefinition>, (Code, String)> {
    let failed = |message: String| (Code::FailedPrecondition, message);
    let listed = match tokio::time::timeout(LIST_TIMEOUT, tools.list_tools(key, spec)).await {
        Ok(Ok(listed)) => listed,
        // Where this node may not connect is the boundary's refusal, not a server fault.
        Ok(Err(warden_mcp::Error::Egress { refusal, .. })) => {
            return Err((Code::PermissionDenied, format!("url: {refusal}")));
        }
        Ok(Err(error)) => return Err(failed(format!("listing its tools failed: {error}"))),
        Err(_) => {
            return Err(failed(format!(
                "listing its tools took over {LIST_TIMEOUT:?}"
            )));
        }
    };
    // Pinned exactly as the task actor later compares it before each call.
    listed
        .iter()
        .map(|tool| {
            warden_actors::pinning::definition_of(tool)
                .map_err(|error| failed(format!("it offers a tool Warden cannot name: {error}")))
        })
        .collect()
}
