//! How to reach an MCP server: a stdio command or a streamable-HTTP URL, with the
//! credentials it takes.

use std::{collections::BTreeMap, fmt, path::PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// A credential's plaintext: zeroed when dropped, never serialized, never printed.
pub type Secret = Zeroizing<String>;

/// Where an MCP server lives. Serialized with a `transport` tag:
/// `{"transport": "stdio", "command": "mcp-server-time", "args": [], "env": {}}` or
/// `{"transport": "http", "url": "http://127.0.0.1:8080/mcp"}`. The credentials
/// (`secret_env`, `bearer_token`) are skipped by serde and shown as `<redacted>` by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "transport", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerSpec {
    /// A child process speaking MCP on its stdin and stdout. It gets a small allowlist of
    /// our environment (see [`crate::session`]) plus `env` and `secret_env`.
    Stdio {
        command: String,
        #[serde(default)]
        args: Vec<String>,
        #[serde(default)]
        env: BTreeMap<String, String>,
        #[serde(skip)]
        secret_env: BTreeMap<String, Secret>,
        /// Paths the confined server may read and execute beyond the node's defaults.
        #[serde(default)]
        read_paths: Vec<PathBuf>,
        /// Paths the confined server may read and write beyond its scratch directory.
        #[serde(default)]
        write_paths: Vec<PathBuf>,
    },
    /// A streamable-HTTP endpoint; with a bearer token, every request carries
    /// `Authorization: Bearer <token>`.
    Http {
        url: String,
        #[serde(skip)]
        bearer_token: Option<Secret>,
    },
}

/// Names the variables but shows no value of `secret_env` and no token.
impl fmt::Debug for ServerSpec {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerSpec::Stdio {
                command,
                args,
                env,
                secret_env,
                read_paths,
                write_paths,
            } => formatter
                .debug_struct("Stdio")
                .field("command", command)
                .field("args", args)
                .field("env", env)
                .field(
                    "secret_env",
                    &secret_env
                        .keys()
                        .map(|name| (name, "<redacted>"))
                        .collect::<BTreeMap<_, _>>(),
                )
                .field("read_paths", read_paths)
                .field("write_paths", write_paths)
                .finish(),
            ServerSpec::Http { url, bearer_token } => formatter
                .debug_struct("Http")
                .field("url", url)
                .field("bearer_token", &bearer_token.as_ref().map(|_| "<redacted>"))
                .finish(),
        }
    }
}

impl ServerSpec {
    /// A short name for messages: the command or the URL, never the environment (it may
    /// hold credentials).
    pub fn display_name(&self) -> String {
        match self {
            ServerSpec::Stdio { command, .. } => command.clone(),
            ServerSpec::Http { url, .. } => url.clone(),
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
            secret_env: BTreeMap::new(),
            read_paths: vec![],
            write_paths: vec!["/srv/ledger".into()],
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
                url: "http://127.0.0.1:1/mcp".into(),
                bearer_token: None,
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
                env: BTreeMap::new(),
                secret_env: BTreeMap::new(),
                read_paths: vec![],
                write_paths: vec![],
            }
        );
        assert!(
            serde_json::from_str::<ServerSpec>(r#"{"transport":"http","url":"u","extra":1}"#)
                .is_err()
        );
    }

    #[test]
    fn credentials_are_neither_printed_nor_serialized() {
        let stdio = ServerSpec::Stdio {
            command: "x".into(),
            args: vec![],
            env: BTreeMap::from([("MODE".into(), "plain".into())]),
            secret_env: BTreeMap::from([("TOKEN".into(), Secret::new("s3cr3t-env".into()))]),
            read_paths: vec![],
            write_paths: vec![],
        };
        let http = ServerSpec::Http {
            url: "http://127.0.0.1:1/mcp".into(),
            bearer_token: Some(Secret::new("s3cr3t-bearer".into())),
        };
        for spec in [&stdio, &http] {
            let printed = format!("{spec:?} {spec:#?}");
            let json = serde_json::to_string(spec).expect("serialize");
            for text in [&printed, &json] {
                assert!(!text.contains("s3cr3t"), "{text}");
            }
        }
        assert!(format!("{stdio:?}").contains("TOKEN"));
        assert!(format!("{http:?}").contains("<redacted>"));
    }
}
