//! Names of workspace-scoped configuration: agents, providers, MCP servers and their
//! tools, and the numeric id of a cluster node. Each parses caller input once, at the
//! edge.

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Why `name` is not a valid name of the given shape, if it is not.
fn check(
    name: &str,
    max_len: usize,
    allowed: fn(u8) -> bool,
    allowed_text: &'static str,
) -> Option<&'static str> {
    if name.is_empty() {
        Some("must not be empty")
    } else if name.len() > max_len {
        Some(if max_len == 32 {
            "must be at most 32 characters"
        } else {
            "must be at most 64 characters"
        })
    } else if !name.as_bytes()[0].is_ascii_alphabetic() {
        Some("must start with a letter")
    } else if !name.bytes().all(allowed) {
        Some(allowed_text)
    } else {
        None
    }
}

fn lower_dash(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'
}

fn tool_chars(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'
}

macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident, $kind:literal, $max:expr, $allowed:expr, $allowed_text:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $ty(String);

        impl $ty {
            pub const MAX_LEN: usize = $max;

            pub fn parse(name: &str) -> Result<Self, Error> {
                match check(name, $max, $allowed, $allowed_text) {
                    Some(reason) => Err(Error::InvalidName {
                        kind: $kind,
                        name: name.to_owned(),
                        reason,
                    }),
                    None => Ok($ty(name.to_owned())),
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{:?}", self.0)
            }
        }
    };
}

name_type!(
    /// An agent's name within its workspace: 1-64 of `[a-z0-9-]`, starting with a letter.
    AgentName, "agent", 64, lower_dash, "may contain only a-z, 0-9 and '-'"
);
name_type!(
    /// A model provider's name within its workspace: 1-64 of `[a-z0-9-]`.
    ProviderName, "provider", 64, lower_dash, "may contain only a-z, 0-9 and '-'"
);
name_type!(
    /// An MCP server's name within its workspace: 1-32 of `[a-z0-9-]`. No `_`, so a model
    /// facing function name `server__tool` splits unambiguously.
    ServerName, "server", 32, lower_dash, "may contain only a-z, 0-9 and '-'"
);
name_type!(
    /// A cluster catalog entry's name: 1-64 of `[a-z0-9-]`, starting with a letter.
    CatalogName, "catalog entry", 64, lower_dash, "may contain only a-z, 0-9 and '-'"
);
name_type!(
    /// A tool's name as its MCP server lists it: 1-64 of `[A-Za-z0-9_.-]`.
    ToolName, "tool", 64, tool_chars, "may contain only A-Z, a-z, 0-9, '_', '-' and '.'"
);

/// A cluster node: its Raft node id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeId(pub u64);

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::fmt::Debug for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "node-{}", self.0)
    }
}
