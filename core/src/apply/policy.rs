//! Storing a workspace's policy, and evaluating it for one requested tool call.

use super::{At, Decision, StateRead, Write, missing_workspace};
use crate::command::Command;
use crate::identity::Scope;
use crate::ids::{Principal, WorkspaceId};
use crate::model::StoredPolicy;
use crate::names::{AgentName, ServerName, ToolName};
use crate::outcome::{Code, Outcome, Rejection};
use crate::policy::{CallContext, PolicyDecision, PolicySet};
use crate::role::Role;

pub(super) fn put_policy<S: StateRead>(
    state: &S,
    at: &At<'_>,
    command: &Command,
) -> Result<Decision, S::Error> {
    let Command::PutPolicy {
        workspace,
        policy,
        expected_version,
    } = command
    else {
        unreachable!("put_policy is called for PutPolicy only")
    };
    if let Some(rejection) = missing_workspace(state, workspace)? {
        return Ok(Err(rejection));
    }
    if let Err(error) = policy.validate() {
        return Ok(Err(Rejection::new(
            Code::InvalidArgument,
            format!("policy: {error}"),
        )));
    }
    let current = state.policy(workspace)?.map_or(0, |stored| stored.version);
    if current != *expected_version {
        return Ok(Err(Rejection::new(
            Code::Aborted,
            format!(
                "the policy of workspace {workspace} is at version {current}, not {expected_version}; read it again and retry"
            ),
        )));
    }
    let stored = StoredPolicy {
        workspace: workspace.clone(),
        policy: policy.clone(),
        version: current + 1,
        updated_ms: at.time_ms,
        updated_by: at.principal.clone(),
    };
    Ok(Ok((
        Outcome::PolicyPut(stored.clone()),
        vec![Write::Policy(stored)],
    )))
}

/// The roles `principal` holds in `workspace`, cluster-wide ones included.
pub(super) fn roles_of<S: StateRead>(
    state: &S,
    workspace: &WorkspaceId,
    principal: &Principal,
) -> Result<Vec<Role>, S::Error> {
    let mut roles = Vec::new();
    for scope in [Scope::Cluster, Scope::Workspace(workspace.clone())] {
        if let Some(binding) = state.role_binding(&scope, principal)? {
            roles.extend(binding.roles);
        }
    }
    roles.sort();
    roles.dedup();
    Ok(roles)
}

/// One requested call, as the workspace's policy sees it.
pub(super) struct PolicyCall<'a> {
    pub(super) workspace: &'a WorkspaceId,
    pub(super) agent: &'a AgentName,
    pub(super) submitter: &'a Principal,
    pub(super) server: &'a ServerName,
    pub(super) tool: &'a ToolName,
    pub(super) arguments: &'a serde_json::Value,
}

/// What `policy` says about `call`. An empty policy denies every call.
pub(super) fn evaluate<S: StateRead>(
    state: &S,
    policy: &PolicySet,
    call: &PolicyCall<'_>,
) -> Result<PolicyDecision, S::Error> {
    let roles = roles_of(state, call.workspace, call.submitter)?;
    let agent_principal = Principal::agent(call.workspace, call.agent);
    Ok(policy.evaluate(&CallContext {
        agent: call.agent,
        agent_principal: &agent_principal,
        submitter: call.submitter,
        submitter_roles: &roles,
        server: call.server,
        tool: call.tool,
        arguments: call.arguments,
    }))
}
