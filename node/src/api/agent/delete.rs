//! The commands of `DeleteProvider`, `DeleteMcpServer` and `DeleteAgent`: a malformed
//! name is refused here (and audited); whether the record may go is `apply()`'s call.

use prost::Message;
use warden_core::{Action, AgentName, Command, ProviderName, ServerName, WorkspaceId};
use warden_proto::v1::{DeleteAgentRequest, DeleteMcpServerRequest, DeleteProviderRequest};

use super::{parse, refusal, resource};
use crate::api::Refused;

pub(super) fn provider(request: &DeleteProviderRequest) -> Result<Command, Refused> {
    let (workspace, name) = (&request.workspace, &request.name);
    let refuse = refused(Action::ProviderDelete, workspace, "provider", name, request);
    Ok(Command::DeleteProvider {
        workspace: parse(WorkspaceId::parse(workspace), &refuse)?,
        name: parse(ProviderName::parse(name), &refuse)?,
    })
}

pub(super) fn mcp_server(request: &DeleteMcpServerRequest) -> Result<Command, Refused> {
    let (workspace, name) = (&request.workspace, &request.name);
    let refuse = refused(
        Action::McpServerDelete,
        workspace,
        "mcp_server",
        name,
        request,
    );
    Ok(Command::DeleteMcpServer {
        workspace: parse(WorkspaceId::parse(workspace), &refuse)?,
        name: parse(ServerName::parse(name), &refuse)?,
    })
}

pub(super) fn agent(request: &DeleteAgentRequest) -> Result<Command, Refused> {
    let (workspace, name) = (&request.workspace, &request.name);
    let refuse = refused(Action::AgentDelete, workspace, "agent", name, request);
    Ok(Command::DeleteAgent {
        workspace: parse(WorkspaceId::parse(workspace), &refuse)?,
        name: parse(AgentName::parse(name), &refuse)?,
    })
}

fn refused(
    action: Action,
    workspace: &str,
    kind: &str,
    name: &str,
    request: &impl Message,
) -> impl Fn(String) -> Refused {
    refusal(action, resource(workspace, kind, name), request)
}
