//! What a tool is and what a call returned, converted from rmcp's model at this edge.

use rmcp::model::{CallToolResult, Tool};
use serde::{Deserialize, Serialize};

/// A tool as the server lists it.
///
/// The hints follow the MCP spec's defaults when absent: `readOnlyHint` false,
/// `idempotentHint` false, `destructiveHint` true. The spec makes the last two meaningful
/// only for tools that are not read-only; a read-only tool does not change its environment,
/// so it is reported here as idempotent and not destructive whatever those hints say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub description: String,
    pub input_schema: serde_json::Value,
    pub read_only: bool,
    pub idempotent: bool,
    pub destructive: bool,
    /// The whole definition as the server listed it (rmcp's model as JSON: title, output
    /// schema, every annotation, icons, `_meta`), so that a pin covers all of it, not only
    /// the fields above.
    pub listed: serde_json::Value,
}

/// The result of a tool call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallOutput {
    /// The text content blocks joined with newlines; when there are none, the structured
    /// content as JSON; otherwise empty. Images, audio and resources are dropped.
    pub text: String,
    /// The tool reported a failure (`isError`): the call itself went through.
    pub is_error: bool,
}

impl From<&Tool> for ToolInfo {
    fn from(tool: &Tool) -> ToolInfo {
        let hints = tool.annotations.as_ref();
        let read_only = hints.and_then(|h| h.read_only_hint).unwrap_or(false);
        let idempotent = read_only || hints.and_then(|h| h.idempotent_hint).unwrap_or(false);
        let destructive = !read_only && hints.and_then(|h| h.destructive_hint).unwrap_or(true);
        ToolInfo {
            name: tool.name.to_string(),
            description: tool.description.as_deref().unwrap_or_default().to_owned(),
            input_schema: serde_json::Value::Object((*tool.input_schema).clone()),
            read_only,
            idempotent,
            destructive,
            // Serializing rmcp's model (strings, JSON objects) cannot fail.
            listed: serde_json::to_value(tool).unwrap_or_default(),
        }
    }
}

impl From<CallToolResult> for CallOutput {
    fn from(result: CallToolResult) -> CallOutput {
        let texts: Vec<&str> = result
            .content
            .iter()
            .filter_map(|block| block.as_text())
            .map(|text| text.text.as_str())
            .collect();
        let text = if !texts.is_empty() {
            texts.join("\n")
        } else if let Some(structured) = &result.structured_content {
            structured.to_string()
        } else {
            String::new()
        };
        CallOutput {
            text,
            is_error: result.is_error.unwrap_or(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rmcp::model::{ContentBlock, ToolAnnotations};

    use super::*;

    fn tool(annotations: Option<ToolAnnotations>) -> Tool {
        let mut tool = Tool::new("t", "a tool", Arc::new(serde_json::Map::new()));
        tool.annotations = annotations;
        tool
    }

    #[test]
    fn missing_hints_take_the_spec_defaults() {
        let info = ToolInfo::from(&tool(None));
        assert_eq!(
            (info.read_only, info.idempotent, info.destructive),
            (false, false, true)
        );
        let info = ToolInfo::from(&tool(Some(ToolAnnotations::new())));
        assert_eq!(
            (info.read_only, info.idempotent, info.destructive),
            (false, false, true)
        );
    }

    #[test]
    fn explicit_hints_are_kept_and_read_only_implies_safe() {
        let info = ToolInfo::from(&tool(Some(
            ToolAnnotations::new().idempotent(true).destructive(false),
        )));
        assert_eq!(
            (info.read_only, info.idempotent, info.destructive),
            (false, true, false)
        );
        let info = ToolInfo::from(&tool(Some(ToolAnnotations::new().read_only(true))));
        assert_eq!(
            (info.read_only, info.idempotent, info.destructive),
            (true, true, false)
        );
    }

    /// Whatever a server changes in a tool's listing changes what is pinned: title, output
    /// schema, any annotation (openWorldHint too), icons and `_meta`, not only the parts
    /// Warden reads.
    #[test]
    fn every_part_of_a_listed_tool_is_part_of_its_info() {
        let base = tool(Some(ToolAnnotations::new().read_only(true)));
        let mut changes: Vec<Tool> = Vec::new();
        let mut changed = base.clone();
        changed.title = Some("Harmless".to_owned());
        changes.push(changed);
        let mut changed = base.clone();
        let schema = serde_json::json!({"type": "object"});
        changed.output_schema = Some(Arc::new(schema.as_object().cloned().unwrap_or_default()));
        changes.push(changed);
        let mut changed = base.clone();
        changed.annotations = Some(ToolAnnotations::new().read_only(true).open_world(false));
        changes.push(changed);
        let mut changed = base.clone();
        let mut annotations = ToolAnnotations::new().read_only(true);
        annotations.title = Some("Harmless".to_owned());
        changed.annotations = Some(annotations);
        changes.push(changed);
        let mut changed = base.clone();
        let mut meta = serde_json::Map::new();
        meta.insert("vendor/risk".to_owned(), serde_json::json!("none"));
        changed.meta = Some(rmcp::model::MetaObject(meta));
        changes.push(changed);
        let pinned = ToolInfo::from(&base);
        for (index, changed) in changes.iter().enumerate() {
            assert_ne!(
                ToolInfo::from(changed),
                pinned,
                "change {index}: {changed:?}"
            );
        }
        assert_eq!(ToolInfo::from(&base.clone()), pinned);
    }

    #[test]
    fn text_blocks_are_joined_and_is_error_kept() {
        let output = CallOutput::from(CallToolResult::error(vec![
            ContentBlock::text("a"),
            ContentBlock::text("b"),
        ]));
        assert_eq!(
            output,
            CallOutput {
                text: "a\nb".into(),
                is_error: true
            }
        );
        let mut structured = CallToolResult::success(vec![]);
        structured.structured_content = Some(serde_json::json!({"k": 1}));
        assert_eq!(CallOutput::from(structured).text, r#"{"k":1}"#);
    }
}
