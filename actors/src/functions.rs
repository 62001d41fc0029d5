//! The names tools have towards a model: `server__tool`, which fits every provider's
//! function-name rules (`[A-Za-z0-9_-]{1,64}`), and the tool list an agent may see.

use warden_core::{Agent, McpServer, ServerName, ToolName};
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

/// The tools an agent may see: its grants, described as their servers pinned them.
/// A grant whose server or tool is gone is left out (a call to it is denied anyway).
pub fn visible_tools(
    agent: &Agent,
    servers: &[McpServer],
) -> Vec<(ServerName, ToolName, ToolSpec)> {
    agent
        .spec
        .tools
        .iter()
        .filter_map(|grant| {
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
