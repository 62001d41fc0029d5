//! Workspace configuration: providers and agents (MCP servers: `mcp_server.rs`). Validated here, so every
//! proposer gets the same answer for the same input.

use warden_secrets::WrappedKey;

use super::{At, Decision, StateRead, Write, missing_workspace};
use crate::builtin::Builtin;
use crate::catalog::is_env_name;
use crate::command::Command;
use crate::config::{Agent, AgentSpec, Provider};
use crate::ids::WorkspaceId;
use crate::model::Workspace;
use crate::outcome::{Code, Outcome, Rejection};

/// Longest agent instructions accepted.
pub const MAX_INSTRUCTIONS_BYTES: usize = 64 * 1024;

pub(super) fn invalid(message: String) -> Rejection {
    Rejection::new(Code::InvalidArgument, message)
}

pub(super) fn check_url(field: &str, url: &str) -> Option<Rejection> {
    if url.starts_with("http://") || url.starts_with("https://") {
        None
    } else {
        Some(invalid(format!(
            "{field} {url:?} must start with http:// or https://"
        )))
    }
}

/// The workspace, updated when a command storing secrets brings the workspace's first key.
///
/// The proposer seals secrets with the workspace's key, or, when it found none, with a new
/// key it offers wrapped in the command. The first key stored is kept: a command whose
/// secrets were sealed with another key (two first writes racing) is refused, since they
/// would never open.
pub(super) fn adopt_workspace_key(
    workspace: &Workspace,
    offered: Option<&WrappedKey>,
    has_secrets: bool,
) -> Result<Option<Workspace>, Rejection> {
    if !has_secrets {
        return Ok(None);
    }
    match (&workspace.key, offered) {
        (Some(_), None) => Ok(None),
        (Some(stored), Some(offered)) if stored == offered => Ok(None),
        (Some(_), Some(_)) => Err(Rejection::new(
            Code::Aborted,
            format!(
                "workspace {} got its key from a concurrent write: retry",
                workspace.id
            ),
        )),
        (None, Some(offered)) => Ok(Some(Workspace {
            key: Some(offered.clone()),
            ..workspace.clone()
        })),
        (None, None) => Err(Rejection::new(
            Code::FailedPrecondition,
            format!("workspace {} has no key to seal secrets with", workspace.id),
        )),
    }
}

/// The workspace a configuration command writes to, or the rejection when it is missing.
pub(super) fn existing_workspace<S: StateRead>(
    state: &S,
    workspace: &WorkspaceId,
) -> Result<Result<Workspace, Rejection>, S::Error> {
    Ok(match state.workspace(workspace)? {
        Some(found) => Ok(found),
        None => Err(Rejection::new(
            Code::NotFound,
            format!("workspace {workspace} not found"),
        )),
    })
}

pub(super) fn put_provider<S: StateRead>(
    state: &S,
    at: &At<'_>,
    command: &Command,
) -> Result<Decision, S::Error> {
    let Command::PutProvider {
        workspace,
        name,
        kind,
        base_url,
        model,
        api_key_env,
        api_key,
        request_timeout_ms,
        max_retries,
        max_output_tokens,
        workspace_key,
    } = command
    else {
        unreachable!("put_provider is called for PutProvider only")
    };
    let record = match existing_workspace(state, workspace)? {
        Ok(record) => record,
        Err(rejection) => return Ok(Err(rejection)),
    };
    let problem = check_url("base_url", base_url)
        .or_else(|| {
            model
                .is_empty()
                .then(|| invalid("model must not be empty".to_owned()))
        })
        .or_else(|| {
            api_key_env
                .as_deref()
                .filter(|env| !is_env_name(env))
                .map(|env| {
                    invalid(format!(
                        "api_key_env {env:?} is not an environment variable name"
                    ))
                })
        })
        .or_else(|| {
            (api_key_env.is_some() && api_key.is_some())
                .then(|| invalid("set at most one of api_key and api_key_env".to_owned()))
        })
        .or_else(|| {
            (*request_timeout_ms == 0)
                .then(|| invalid("request_timeout must be positive".to_owned()))
        })
        .or_else(|| {
            (*max_output_tokens == 0)
                .then(|| invalid("max_output_tokens must be positive".to_owned()))
        });
    if let Some(rejection) = problem {
        return Ok(Err(rejection));
    }
    let keyed = match adopt_workspace_key(&record, workspace_key.as_ref(), api_key.is_some()) {
        Ok(keyed) => keyed,
        Err(rejection) => return Ok(Err(rejection)),
    };
    let version = state
        .provider(workspace, name)?
        .map_or(1, |earlier| earlier.version + 1);
    let provider = Provider {
        workspace: workspace.clone(),
        name: name.clone(),
        kind: *kind,
        base_url: base_url.clone(),
        model: model.clone(),
        api_key_env: api_key_env.clone(),
        api_key: api_key.clone(),
        request_timeout_ms: *request_timeout_ms,
        max_retries: *max_retries,
        max_output_tokens: *max_output_tokens,
        version,
        updated_ms: at.time_ms,
    };
    let mut writes: Vec<Write> = keyed.into_iter().map(Write::Workspace).collect();
    writes.push(Write::Provider(provider.clone()));
    Ok(Ok((Outcome::ProviderPut(provider), writes)))
}

/// Creates an agent (`expected_version` none) or replaces its spec.
pub(super) fn save_agent<S: StateRead>(
    state: &S,
    at: &At<'_>,
    workspace: &WorkspaceId,
    spec: &AgentSpec,
    expected_version: Option<u64>,
) -> Result<Decision, S::Error> {
    if let Some(rejection) = missing_workspace(state, workspace)? {
        return Ok(Err(rejection));
    }
    let existing = state.agent(workspace, &spec.name)?;
    let (version, created_ms) = match (expected_version, &existing) {
        (None, Some(_)) => {
            return Ok(Err(Rejection::new(
                Code::AlreadyExists,
                format!(
                    "agent {} already exists in workspace {workspace}",
                    spec.name
                ),
            )));
        }
        (None, None) => (1, at.time_ms),
        (Some(_), None) => {
            return Ok(Err(Rejection::new(
                Code::NotFound,
                format!("agent {} not found in workspace {workspace}", spec.name),
            )));
        }
        (Some(expected), Some(current)) if current.version != expected => {
            return Ok(Err(Rejection::new(
                Code::Aborted,
                format!(
                    "agent {} is at version {}, not the expected {expected}",
                    spec.name, current.version
                ),
            )));
        }
        (Some(_), Some(current)) => (current.version + 1, current.created_ms),
    };
    if let Some(rejection) = check_agent_spec(state, workspace, spec)? {
        return Ok(Err(rejection));
    }
    let agent = Agent {
        workspace: workspace.clone(),
        spec: spec.clone(),
        version,
        created_ms,
        updated_ms: at.time_ms,
    };
    Ok(Ok((
        Outcome::AgentSaved(agent.clone()),
        vec![Write::Agent(agent)],
    )))
}

fn check_agent_spec<S: StateRead>(
    state: &S,
    workspace: &WorkspaceId,
    spec: &AgentSpec,
) -> Result<Option<Rejection>, S::Error> {
    if spec.instructions.len() > MAX_INSTRUCTIONS_BYTES {
        return Ok(Some(Rejection::new(
            Code::ResourceExhausted,
            format!("instructions must be at most {MAX_INSTRUCTIONS_BYTES} bytes"),
        )));
    }
    let limits = &spec.limits;
    let zero_limit = [
        ("limits.max_steps", u64::from(limits.max_steps)),
        ("limits.token_budget", limits.token_budget),
        ("limits.deadline", limits.deadline_ms),
        ("limits.stall_timeout", limits.stall_timeout_ms),
    ]
    .into_iter()
    .find(|(_, value)| *value == 0);
    if let Some((field, _)) = zero_limit {
        return Ok(Some(invalid(format!("{field} must be positive"))));
    }
    if state.provider(workspace, &spec.provider)?.is_none() {
        return Ok(Some(Rejection::new(
            Code::NotFound,
            format!(
                "provider {} not found in workspace {workspace}",
                spec.provider
            ),
        )));
    }
    let protocol = state.cluster_protocol()?;
    for grant in &spec.tools {
        // A built-in tool needs no registered server; an agent it names may be created
        // later (a call to one that does not exist is denied, naming it).
        let registered = Builtin::is_reserved(&grant.server)
            && state.mcp_server(workspace, &grant.server)?.is_some();
        match Builtin::in_workspace(protocol, registered, &grant.server, &grant.tool) {
            Some(Ok(_)) => continue,
            Some(Err(why)) => return Ok(Some(invalid(format!("tools: {why}")))),
            None => {}
        }
        let Some(server) = state.mcp_server(workspace, &grant.server)? else {
            return Ok(Some(Rejection::new(
                Code::NotFound,
                format!(
                    "mcp server {} not found in workspace {workspace}",
                    grant.server
                ),
            )));
        };
        if server.tool(&grant.tool).is_none() {
            return Ok(Some(Rejection::new(
                Code::NotFound,
                format!(
                    "tool {} is not registered on mcp server {}",
                    grant.tool, grant.server
                ),
            )));
        }
    }
    Ok(None)
}
