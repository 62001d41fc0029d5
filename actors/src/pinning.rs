//! Pinned tool definitions: what registering an MCP server pins, and the check before
//! every call that the server still offers the pinned definition (a server that
//! changes a tool's description or schema after review is a "rug pull").

use warden_core::{Hash, ToolDefinition, ToolName};
use warden_mcp::{ServerSpec, ToolInfo};

use crate::tools::Tools;

/// A listed tool as Warden pins it: its name, description, input schema and annotations,
/// and the whole listing (`listed`), so every part of it is compared before each call.
pub fn definition_of(tool: &ToolInfo) -> Result<ToolDefinition, String> {
    Ok(ToolDefinition {
        name: ToolName::parse(&tool.name).map_err(|error| error.to_string())?,
        description: tool.description.clone(),
        input_schema: tool.input_schema.to_string(),
        read_only: tool.read_only,
        idempotent: tool.idempotent,
        destructive: tool.destructive,
        listed: tool.listed.to_string(),
    })
}

/// How the server offers a pinned tool right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offered {
    AsPinned,
    /// With another definition, whose hash this is.
    Changed(Hash),
    /// Not at all.
    Missing,
}

/// Lists the server's tools through its session and compares `pinned` with what it
/// offers now.
pub async fn check(
    tools: &dyn Tools,
    key: &str,
    spec: &ServerSpec,
    pinned: &ToolDefinition,
) -> Result<Offered, warden_mcp::Error> {
    let listed = tools.list_tools(key, spec).await?;
    let Some(offered) = listed.iter().find(|tool| tool.name == pinned.name.as_str()) else {
        return Ok(Offered::Missing);
    };
    Ok(match definition_of(offered) {
        Ok(definition) if definition == *pinned => Offered::AsPinned,
        Ok(definition) => Offered::Changed(definition.definition_hash()),
        // A name Warden cannot parse cannot be the pinned one.
        Err(_) => Offered::Missing,
    })
}
