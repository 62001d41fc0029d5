//! The ledger server's tool definitions: names, schemas and honest MCP annotations.

use std::sync::Arc;

use rmcp::model::{Tool, ToolAnnotations};
use serde_json::json;

pub(crate) const APPEND: &str = "append";
pub(crate) const PUT: &str = "put";
pub(crate) const GET: &str = "get";
pub(crate) const NOOP: &str = "noop";

pub const DEFAULT_APPEND_DESCRIPTION: &str = "Append an entry to the ledger (after an optional delay). Not idempotent: every call adds a line.";

/// The four tools, with `append_description` as the description of `append` (a flag can
/// change it, to test that clients notice a changed tool definition).
pub(crate) fn definitions(append_description: &str) -> Vec<Tool> {
    vec![
        Tool::new(
            APPEND,
            append_description.to_owned(),
            schema(json!({
                "entry": {"type": "string", "description": "the text to append"},
                "delay_ms": {"type": "integer", "minimum": 0, "description": "sleep this long first"}
            }), &["entry"]),
        )
        .annotate(
            ToolAnnotations::new()
                .read_only(false)
                .destructive(true)
                .idempotent(false)
                .open_world(false),
        ),
        Tool::new(
            PUT,
            "Set a key to a value in the key-value file next to the ledger. Idempotent.",
            schema(json!({
                "key": {"type": "string"},
                "value": {"type": "string"},
                "delay_ms": {"type": "integer", "minimum": 0, "description": "sleep this long first"}
            }), &["key", "value"]),
        )
        .annotate(
            ToolAnnotations::new()
                .read_only(false)
                .destructive(false)
                .idempotent(true)
                .open_world(false),
        ),
        Tool::new(
            GET,
            "Read a key from the key-value file; an error result when it is missing.",
            schema(json!({"key": {"type": "string"}}), &["key"]),
        )
        .annotate(
            ToolAnnotations::new()
                .read_only(true)
                .destructive(false)
                .idempotent(true)
                .open_world(false),
        ),
        Tool::new(
            NOOP,
            "Do nothing and answer ok; writes nothing, not even the ledger.",
            schema(json!({}), &[]),
        )
        .annotate(
            ToolAnnotations::new()
                .read_only(true)
                .destructive(false)
                .idempotent(true)
                .open_world(false),
        ),
    ]
}

fn schema(
    properties: serde_json::Value,
    required: &[&str],
) -> Arc<serde_json::Map<String, serde_json::Value>> {
    let schema = json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    });
    match schema {
        serde_json::Value::Object(map) => Arc::new(map),
        _ => Arc::default(),
    }
}
