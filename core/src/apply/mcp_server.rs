//! MCP servers: registration (authorized here before anything is started for the
//! server) and pinning the tools the registering node then listed from it.
//!
//! A stdio server names a cluster catalog entry; registration is refused when the entry
//! does not exist or does not allow the extra arguments or environment variables.

use std::collections::BTreeSet;

use super::config::{adopt_workspace_key, check_url, existing_workspace, invalid};
use super::{At, Decision, StateRead, Write};
use crate::builtin::{BUILTIN_PROTOCOL, Builtin};
use crate::catalog::is_env_name;
use crate::command::Command;
use crate::config::{McpServer, McpTransport, ToolDefinition};
use crate::names::ServerName;
use crate::outcome::{Code, Outcome, Rejection};

pub(super) fn register<S: StateRead>(
    state: &S,
    at: &At<'_>,
    command: &Command,
) -> Result<Decision, S::Error> {
    let Command::RegisterMcpServer {
        workspace,
        name,
        transport,
        workspace_key,
    } = command
    else {
        unreachable!("register is called for RegisterMcpServer only")
    };
    let record = match existing_workspace(state, workspace)? {
        Ok(record) => record,
        Err(rejection) => return Ok(Err(rejection)),
    };
    if Builtin::is_reserved(name) && state.cluster_protocol()? >= BUILTIN_PROTOCOL {
        return Ok(Err(Rejection::new(
            Code::InvalidArgument,
            format!(
                "name: {name} is reserved for Warden's built-in tools (warden/ask_human, agent/<name>)"
            ),
        )));
    }
    let transport_problem = match transport {
        McpTransport::Stdio {
            catalog,
            args,
            env,
            secret_env,
        } => match check_env(env, secret_env) {
            Some(rejection) => Some(rejection),
            None => match state.catalog_entry(catalog)? {
                None => Some(Rejection::new(
                    Code::NotFound,
                    format!("catalog entry {catalog} not found"),
                )),
                Some(entry) => {
                    let names = env
                        .iter()
                        .map(|(name, _)| name.as_str())
                        .chain(secret_env.iter().map(|(name, _)| name.as_str()));
                    entry
                        .spec
                        .refuses(args, names)
                        .map(|message| Rejection::new(Code::PermissionDenied, message))
                }
            },
        },
        McpTransport::Http { url, .. } => check_url("url", url),
    };
    if let Some(rejection) = transport_problem {
        return Ok(Err(rejection));
    }
    let keyed = match adopt_workspace_key(&record, workspace_key.as_ref(), transport.has_secrets())
    {
        Ok(keyed) => keyed,
        Err(rejection) => return Ok(Err(rejection)),
    };
    let version = state
        .mcp_server(workspace, name)?
        .map_or(1, |earlier| earlier.version + 1);
    let server = McpServer {
        workspace: workspace.clone(),
        name: name.clone(),
        transport: transport.clone(),
        // Nothing is pinned until the registering node has listed the tools.
        tools: Vec::new(),
        pinned: false,
        version,
        registered_ms: at.time_ms,
        drifted: Vec::new(),
        trust_annotations: false,
    };
    let mut writes: Vec<Write> = keyed.into_iter().map(Write::Workspace).collect();
    writes.push(Write::McpServer(server.clone()));
    Ok(Ok((Outcome::McpServerRegistered(server), writes)))
}

pub(super) fn pin<S: StateRead>(
    state: &S,
    at: &At<'_>,
    command: &Command,
) -> Result<Decision, S::Error> {
    let Command::PinMcpTools {
        workspace,
        name,
        expected_version,
        tools,
        trust_annotations,
    } = command
    else {
        unreachable!("pin is called for PinMcpTools only")
    };
    let Some(server) = state.mcp_server(workspace, name)? else {
        return Ok(Err(Rejection::new(
            Code::NotFound,
            format!("mcp server {name} not found in workspace {workspace}"),
        )));
    };
    if server.version != *expected_version {
        return Ok(Err(Rejection::new(
            Code::Aborted,
            format!(
                "mcp server {name} is at version {}, not the listed registration's {expected_version}: register it again",
                server.version
            ),
        )));
    }
    if let Some(rejection) = check_tools(name, tools) {
        return Ok(Err(rejection));
    }
    let pinned = McpServer {
        tools: tools.clone(),
        pinned: true,
        version: server.version + 1,
        registered_ms: at.time_ms,
        drifted: Vec::new(),
        trust_annotations: *trust_annotations,
        ..server
    };
    Ok(Ok((
        Outcome::McpServerPinned(pinned.clone()),
        vec![Write::McpServer(pinned)],
    )))
}

fn check_tools(name: &ServerName, tools: &[ToolDefinition]) -> Option<Rejection> {
    let mut seen = BTreeSet::new();
    tools.iter().find_map(|tool| {
        if !seen.insert(&tool.name) {
            Some(invalid(format!(
                "server {name} lists tool {} twice",
                tool.name
            )))
        } else if serde_json::from_str::<serde_json::Value>(&tool.input_schema).is_err() {
            Some(invalid(format!(
                "input schema of tool {} is not JSON",
                tool.name
            )))
        } else if serde_json::from_str::<serde_json::Value>(&tool.listed).is_err() {
            Some(invalid(format!(
                "listed definition of tool {} is not JSON",
                tool.name
            )))
        } else {
            None
        }
    })
}

/// A variable must be a variable name, given once, and not both plain and secret.
fn check_env<T>(env: &[(String, String)], secret_env: &[(String, T)]) -> Option<Rejection> {
    if let Some((name, _)) = env.iter().find(|(name, _)| !is_env_name(name)) {
        return Some(invalid(format!(
            "env {name:?} is not an environment variable name"
        )));
    }
    let plain: BTreeSet<&str> = env.iter().map(|(name, _)| name.as_str()).collect();
    let mut seen = BTreeSet::new();
    secret_env.iter().find_map(|(name, _)| {
        if !is_env_name(name) {
            Some(invalid(format!(
                "secret_env {name:?} is not an environment variable name"
            )))
        } else if plain.contains(name.as_str()) {
            Some(invalid(format!("{name} is set in both env and secret_env")))
        } else if !seen.insert(name.as_str()) {
            Some(invalid(format!("secret_env sets {name} twice")))
        } else {
            None
        }
    })
}
