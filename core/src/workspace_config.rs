//! A workspace's configuration as a whole, for configuration as code: what a node read
//! when it compared a file with the workspace (each record's identity and version), so
//! that `apply()` applies the file's changes only if the configuration is still that.
//!
//! Changing what is observed changes which files apply: it belongs to a protocol.

use serde::{Deserialize, Serialize};

use crate::apply::StateRead;
use crate::budget::BudgetScope;
use crate::ids::WorkspaceId;
use crate::names::{AgentName, ProviderName, ScheduleName, ServerName, TriggerName};

/// One configuration record as read: its name, version and the time of its last change
/// (so one deleted and created again at the same version is not the one read).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Observed {
    Provider {
        name: ProviderName,
        version: u64,
        at_ms: u64,
    },
    McpServer {
        name: ServerName,
        version: u64,
        at_ms: u64,
    },
    Agent {
        name: AgentName,
        version: u64,
        at_ms: u64,
    },
    Policy {
        version: u64,
        at_ms: u64,
    },
    /// A budget's limits (usage changes all the time and is not configuration).
    Budget {
        agent: Option<AgentName>,
        tokens: Option<u64>,
        tool_calls: Option<u64>,
    },
    Schedule {
        name: ScheduleName,
        version: u64,
        at_ms: u64,
    },
    Trigger {
        name: TriggerName,
        version: u64,
        at_ms: u64,
    },
}

/// The workspace's configuration records as `state` holds them, in a fixed order. A
/// budget of an agent that no longer exists is not configuration any more.
pub fn observed<S: StateRead>(
    state: &S,
    workspace: &WorkspaceId,
) -> Result<Vec<Observed>, S::Error> {
    let mut found = Vec::new();
    for provider in state.providers(workspace)? {
        found.push(Observed::Provider {
            name: provider.name,
            version: provider.version,
            at_ms: provider.updated_ms,
        });
    }
    for server in state.mcp_servers(workspace)? {
        found.push(Observed::McpServer {
            name: server.name,
            version: server.version,
            at_ms: server.registered_ms,
        });
    }
    let agents = state.agents(workspace)?;
    for agent in &agents {
        found.push(Observed::Agent {
            name: agent.spec.name.clone(),
            version: agent.version,
            at_ms: agent.updated_ms,
        });
    }
    if let Some(policy) = state.policy(workspace)? {
        found.push(Observed::Policy {
            version: policy.version,
            at_ms: policy.updated_ms,
        });
    }
    for budget in state.budgets(workspace)? {
        let agent = match budget.scope {
            BudgetScope::Workspace => None,
            BudgetScope::Agent(agent) => {
                if !agents.iter().any(|known| known.spec.name == agent) {
                    continue;
                }
                Some(agent)
            }
        };
        found.push(Observed::Budget {
            agent,
            tokens: budget.tokens,
            tool_calls: budget.tool_calls,
        });
    }
    for schedule in state.schedules(workspace)? {
        found.push(Observed::Schedule {
            name: schedule.spec.name,
            version: schedule.version,
            at_ms: schedule.updated_ms,
        });
    }
    for trigger in state.triggers(workspace)? {
        found.push(Observed::Trigger {
            name: trigger.spec.name,
            version: trigger.version,
            at_ms: trigger.updated_ms,
        });
    }
    found.sort();
    Ok(found)
}
