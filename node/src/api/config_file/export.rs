//! A workspace's configuration as a [`Document`]: what `export` writes, and what `apply`
//! compares a file with.

use warden_core::apply::StateRead;
use warden_core::{BudgetScope, McpTransport, WorkspaceId};

use super::document::{
    AgentDoc, BudgetDoc, Document, GrantDoc, LimitsDoc, ProviderDoc, ScheduleDoc, ServerDoc,
    Stored, TriggerDoc,
};

/// The configuration of `workspace` as `state` holds it.
pub fn document<S: StateRead>(state: &S, workspace: &WorkspaceId) -> Result<Document, S::Error> {
    let providers = state
        .providers(workspace)?
        .into_iter()
        .map(|provider| ProviderDoc {
            name: provider.name.to_string(),
            kind: provider.kind.as_str().to_owned(),
            base_url: provider.base_url,
            model: provider.model,
            api_key_env: provider.api_key_env,
            api_key: provider.api_key.map(|_| Stored::Sealed),
            request_timeout_ms: provider.request_timeout_ms,
            max_retries: provider.max_retries,
            max_output_tokens: provider.max_output_tokens,
        })
        .collect();
    let mcp_servers = state
        .mcp_servers(workspace)?
        .into_iter()
        .map(|server| {
            let pinned = server.pinned.then(|| {
                server
                    .tools
                    .iter()
                    .map(|tool| (tool.name.to_string(), tool.definition_hash().to_hex()))
                    .collect()
            });
            match server.transport {
                McpTransport::Stdio {
                    catalog,
                    args,
                    env,
                    secret_env,
                } => ServerDoc {
                    name: server.name.to_string(),
                    catalog: Some(catalog.to_string()),
                    args,
                    env: env.into_iter().collect(),
                    secret_env: secret_env.into_iter().map(|(name, _)| name).collect(),
                    url: None,
                    bearer: None,
                    pinned,
                },
                McpTransport::Http { url, bearer } => ServerDoc {
                    name: server.name.to_string(),
                    catalog: None,
                    args: Vec::new(),
                    env: Default::default(),
                    secret_env: Vec::new(),
                    url: Some(url),
                    bearer: bearer.map(|_| Stored::Sealed),
                    pinned,
                },
            }
        })
        .collect();
    let agents = state.agents(workspace)?;
    let budgets = state
        .budgets(workspace)?
        .into_iter()
        .filter_map(|budget| {
            let agent = match budget.scope {
                BudgetScope::Workspace => None,
                // A budget of an agent deleted since is not configuration any more.
                BudgetScope::Agent(agent) => Some(
                    agents
                        .iter()
                        .any(|known| known.spec.name == agent)
                        .then(|| agent.to_string())?,
                ),
            };
            Some(BudgetDoc {
                agent,
                tokens: budget.tokens,
                tool_calls: budget.tool_calls,
            })
        })
        .collect();
    let agents = agents
        .into_iter()
        .map(|agent| AgentDoc {
            name: agent.spec.name.to_string(),
            provider: agent.spec.provider.to_string(),
            instructions: agent.spec.instructions,
            tools: agent
                .spec
                .tools
                .into_iter()
                .map(|grant| GrantDoc {
                    server: grant.server.to_string(),
                    tool: grant.tool.to_string(),
                    retry_safe: grant.retry_safe,
                })
                .collect(),
            limits: LimitsDoc::from(agent.spec.limits),
        })
        .collect();
    let schedules = state
        .schedules(workspace)?
        .into_iter()
        .map(|schedule| ScheduleDoc {
            name: schedule.spec.name.to_string(),
            cron: schedule.spec.cron,
            timezone: schedule.spec.timezone,
            agent: schedule.spec.agent.to_string(),
            input: schedule.spec.input,
            catch_up: schedule.spec.catch_up.as_str().to_owned(),
            paused: schedule.spec.paused,
        })
        .collect();
    let triggers = state
        .triggers(workspace)?
        .into_iter()
        .map(|trigger| TriggerDoc {
            name: trigger.spec.name.to_string(),
            agent: trigger.spec.agent.to_string(),
            input: trigger.spec.input,
            paused: trigger.spec.paused,
        })
        .collect();
    Ok(Document {
        workspace: workspace.to_string(),
        revision: None,
        providers,
        mcp_servers,
        agents,
        policy: state.policy(workspace)?.map(|stored| stored.policy),
        budgets,
        schedules,
        triggers,
    })
}
