//! Deleting workspace configuration and whole workspaces. A record something still
//! depends on is refused with FAILED_PRECONDITION naming what depends on it: a provider
//! an agent uses, an MCP server an agent's grants name, an agent or a workspace with an
//! unfinished task. Nothing is removed from the audit chain.

use super::{Decision, StateRead, Write};
use crate::command::Command;
use crate::ids::{TaskId, WorkspaceId};
use crate::names::AgentName;
use crate::outcome::{Code, Outcome, Rejection};

/// How many dependents a refusal names before it says how many more there are.
const NAMED: usize = 5;

pub(super) fn apply<S: StateRead>(state: &S, command: &Command) -> Result<Decision, S::Error> {
    match command {
        Command::DeleteProvider { workspace, name } => {
            let Some(provider) = state.provider(workspace, name)? else {
                return Ok(Err(not_found(format!("provider {workspace}/{name}"))));
            };
            let users = agents_where(state, workspace, |agent| &agent.spec.provider == name)?;
            if !users.is_empty() {
                return Ok(Err(Rejection::new(
                    Code::FailedPrecondition,
                    format!(
                        "provider {workspace}/{name} is used by {}: point them at another \
                         provider or delete them first",
                        agent_list(&users)
                    ),
                )));
            }
            Ok(Ok((
                Outcome::ProviderDeleted(provider),
                vec![Write::RemoveProvider {
                    workspace: workspace.clone(),
                    name: name.clone(),
                }],
            )))
        }
        Command::DeleteMcpServer { workspace, name } => {
            let Some(server) = state.mcp_server(workspace, name)? else {
                return Ok(Err(not_found(format!("mcp server {workspace}/{name}"))));
            };
            let users = agents_where(state, workspace, |agent| {
                agent.spec.tools.iter().any(|grant| &grant.server == name)
            })?;
            if !users.is_empty() {
                return Ok(Err(Rejection::new(
                    Code::FailedPrecondition,
                    format!(
                        "mcp server {workspace}/{name} is granted to {}: remove those \
                         grants first",
                        agent_list(&users)
                    ),
                )));
            }
            Ok(Ok((
                Outcome::McpServerDeleted(server),
                vec![Write::RemoveMcpServer {
                    workspace: workspace.clone(),
                    name: name.clone(),
                }],
            )))
        }
        Command::DeleteAgent { workspace, name } => {
            let Some(agent) = state.agent(workspace, name)? else {
                return Ok(Err(not_found(format!("agent {workspace}/{name}"))));
            };
            let unfinished: Vec<TaskId> = state
                .unfinished_tasks(workspace)?
                .into_iter()
                .filter(|(_, owner)| owner == name)
                .map(|(task, _)| task)
                .collect();
            if let Some(rejection) = busy(&format!("agent {workspace}/{name}"), &unfinished) {
                return Ok(Err(rejection));
            }
            let schedules: Vec<String> = state
                .schedules(workspace)?
                .into_iter()
                .filter(|schedule| &schedule.spec.agent == name)
                .map(|schedule| schedule.spec.name.to_string())
                .collect();
            if !schedules.is_empty() {
                return Ok(Err(Rejection::new(
                    Code::FailedPrecondition,
                    format!(
                        "agent {workspace}/{name} is used by schedules {}; delete them first",
                        schedules.join(", ")
                    ),
                )));
            }
            let triggers: Vec<String> = state
                .triggers(workspace)?
                .into_iter()
                .filter(|trigger| &trigger.spec.agent == name)
                .map(|trigger| trigger.spec.name.to_string())
                .collect();
            if !triggers.is_empty() {
                return Ok(Err(Rejection::new(
                    Code::FailedPrecondition,
                    format!(
                        "agent {workspace}/{name} is used by triggers {}; delete them first",
                        triggers.join(", ")
                    ),
                )));
            }
            Ok(Ok((
                Outcome::AgentDeleted(agent),
                vec![Write::RemoveAgent {
                    workspace: workspace.clone(),
                    name: name.clone(),
                }],
            )))
        }
        Command::DeleteWorkspace { workspace } => {
            let Some(record) = state.workspace(workspace)? else {
                return Ok(Err(not_found(format!("workspace {workspace}"))));
            };
            let unfinished: Vec<TaskId> = state
                .unfinished_tasks(workspace)?
                .into_iter()
                .map(|(task, _)| task)
                .collect();
            if let Some(rejection) = busy(&format!("workspace {workspace}"), &unfinished) {
                return Ok(Err(rejection));
            }
            Ok(Ok((
                Outcome::WorkspaceDeleted(record),
                vec![Write::RemoveWorkspace(workspace.clone())],
            )))
        }
        _ => unreachable!("delete::apply is called for the delete commands only"),
    }
}

fn not_found(what: String) -> Rejection {
    Rejection::new(Code::NotFound, format!("{what} not found"))
}

/// The names of the workspace's agents that `uses` picks.
fn agents_where<S: StateRead>(
    state: &S,
    workspace: &WorkspaceId,
    uses: impl Fn(&crate::config::Agent) -> bool,
) -> Result<Vec<AgentName>, S::Error> {
    Ok(state
        .agents(workspace)?
        .into_iter()
        .filter(|agent| uses(agent))
        .map(|agent| agent.spec.name)
        .collect())
}

/// The refusal for `what` while `tasks` are unfinished.
fn busy(what: &str, tasks: &[TaskId]) -> Option<Rejection> {
    if tasks.is_empty() {
        return None;
    }
    let noun = if tasks.len() == 1 { "task" } else { "tasks" };
    Some(Rejection::new(
        Code::FailedPrecondition,
        format!(
            "{what} has {} unfinished {noun} ({}): cancel them or wait for them to end",
            tasks.len(),
            named(tasks.iter().map(ToString::to_string))
        ),
    ))
}

fn agent_list(agents: &[AgentName]) -> String {
    let noun = if agents.len() == 1 { "agent" } else { "agents" };
    format!("{noun} {}", named(agents.iter().map(ToString::to_string)))
}

/// The first few of `items`, comma-separated, and how many more there are.
fn named(items: impl ExactSizeIterator<Item = String>) -> String {
    let total = items.len();
    let shown: Vec<String> = items.take(NAMED).collect();
    match total - shown.len() {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}
