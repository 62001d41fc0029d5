//! How to reach an MCP server: a stdio command or a streamable-HTTP URL.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where an MCP server lives. Serialized with a `transport` tag:
/// `{"transport": "stdio", "command": "mcp-server-time", "args": [], "env": {}}` or
/// `{"transport": "http", "url": "http://127.0.0.1:8080/mcp"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "transport", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerSpec {
    /// A child process speaking MCP on its stdin and stdout. It gets a small allowlist of
    /// our environment (see [`crate::session`]) plus `env`.
    Stdio {
        command: String,
        #[serde(default)]
        args: Vec<String>,
        #[serde(default)]
        env: BTreeMap<String, String>,
    },
    /// A streamable-HTTP endpoint.
    Http { url: String },
}

impl ServerSpec {
    /// A short name for messages: the command or the URL, never the environment (it may
    /// hold credentials).
    pub fn display_name(&self) -> String {
        match self {
            ServerSpec::Stdio { command, .. } => command.clone(),
            ServerSpec::Http { url } => url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json_with_a_transport_tag() {
        let stdio = ServerSpec::Stdio {
            command: "mcp-server-time".into(),
            args: vec!["--local-timezone".into(), "UTC".into()],
            env: BTreeMap::from([("TZ".into(), "UTC".into())]),
        };
        let json = serde_json::to_value(&stdio).expect("serialize");
        assert_eq!(json["transport"], "stdio");
        assert_eq!(
            serde_json::from_value::<ServerSpec>(json).expect("parse"),
            stdio
        );

        let http: ServerSpec =
            serde_json::from_str(r#"{"transport":"http","url":"http://127.0.0.1:1/mcp"}"#)
                .expect("parse");
        assert_eq!(
            http,
            ServerSpec::Http {
                url: "http://127.0.0.1:1/mcp".into()
            }
        );
    }

    #[test]
    fn args_and_env_default_to_empty_and_unknown_fields_are_rejected() {
        let spec: ServerSpec =
            serde_json::from_str(r#"{"transport":"stdio","command":"x"}"#).expect("parse");
        assert_eq!(
            spec,
            ServerSpec::Stdio {
                command: "x".into(),
                args: vec![],
                env: BTreeMap::new()
            }
        );
        assert!(
            serde_json::from_str::<ServerSpec>(r#"{"transport":"http","url":"u","extra":1}"#)
                .is_err()
        );
    }
}
