//! The names tools have towards a model: `server__tool`, which fits every provider's
//! function-name rules (`[A-Za-z0-9_-]{1,64}`), and the tool list an agent may see.

use warden_core::{Agent, AgentName, Builtin, McpServer, ServerName, ToolName};
use warden_providers::ToolSpec;

const SEPARATOR: &str = "__";

pub fn function_name(server: &ServerName, tool: &ToolName) -> String {
    // Dots are allowed in MCP tool names but not in function names.
    format!("{server}{SEPARATOR}{}", tool.as_str().replace('.', "-"))
}

/// The server and tool a function name stands for, among the tools the agent sees.
pub fn resolve<'a>(
    function: &str,
    tools: &'a [(ServerName, ToolName, ToolSpec)],
) -> Option<(&'a ServerName, &'a ToolName)> {
    tools
        .iter()
        .find(|(_, _, spec)| spec.name == function)
        .map(|(server, tool, _)| (server, tool))
}

/// The tools an agent may see: its grants, described as their servers pinned them, and
/// the built-in ones it is granted when the cluster's `protocol` has them, a delegation
/// only to an agent in `agents`. A grant whose server, tool or agent is gone is left out
/// (a call to it is denied anyway).
pub fn visible_tools(
    agent: &Agent,
    servers: &[McpServer],
    agents: &[AgentName],
    protocol: u32,
) -> Vec<(ServerName, ToolName, ToolSpec)> {
    agent
        .spec
        .tools
        .iter()
        .filter_map(|grant| {
            // A server registered under a reserved name before the built-ins existed
            // keeps serving its tools.
            let registered = servers.iter().any(|server| server.name == grant.server);
            if let Some(builtin) =
                Builtin::in_workspace(protocol, registered, &grant.server, &grant.tool)
            {
                let builtin = builtin.ok()?;
                if let Builtin::Agent(callee) = &builtin
                    && !agents.contains(callee)
                {
                    return None;
                }
                let (description, input_schema) = builtin.definition();
                return Some((
                    grant.server.clone(),
                    grant.tool.clone(),
                    ToolSpec {
                        name: function_name(&grant.server, &grant.tool),
                        description,
                        input_schema,
                    },
                ));
            }
            let server = servers.iter().find(|server| server.name == grant.server)?;
            let definition = server.tool(&grant.tool)?;
            let input_schema = serde_json::from_str(&definition.input_schema)
                .unwrap_or_else(|_| serde_json::json!({"type": "object"}));
            Some((
                grant.server.clone(),
                grant.tool.clone(),
                ToolSpec {
                    name: function_name(&grant.server, &grant.tool),
                    description: definition.description.clone(),
                    input_schema,
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_core::{AgentSpec, Limits, ProviderName, ToolGrant, WorkspaceId};

    fn agent(grants: &[(&str, &str)]) -> Agent {
        Agent {
            workspace: WorkspaceId::parse("acme").expect("valid"),
            spec: AgentSpec {
                name: AgentName::parse("lead").expect("valid"),
                instructions: String::new(),
                provider: ProviderName::parse("model").expect("valid"),
                tools: grants
                    .iter()
                    .map(|(server, tool)| ToolGrant {
                        server: ServerName::parse(server).expect("valid"),
                        tool: ToolName::parse(tool).expect("valid"),
                        retry_safe: None,
                    })
                    .collect(),
                limits: Limits::default(),
                paused: false,
            },
            version: 1,
            created_ms: 0,
            updated_ms: 0,
        }
    }

    #[test]
    fn granted_built_ins_are_offered_from_protocol_4_and_only_for_existing_agents() {
        let lead = agent(&[
            ("warden", "ask_human"),
            ("agent", "helper"),
            ("agent", "ghost"),
        ]);
        let agents = [AgentName::parse("helper").expect("valid")];
        let offered = visible_tools(&lead, &[], &agents, 4);
        let names: Vec<&str> = offered
            .iter()
            .map(|(_, _, spec)| spec.name.as_str())
            .collect();
        assert_eq!(names, ["warden__ask_human", "agent__helper"]);
        let ask = &offered[0].2;
        assert_eq!(
            ask.input_schema["required"],
            serde_json::json!(["question"])
        );
        assert!(offered[1].2.description.contains("agent helper"));
        assert!(
            visible_tools(&lead, &[], &agents, 3).is_empty(),
            "before protocol 4 they are unregistered servers"
        );
    }
}
