//! Names of workspace-scoped configuration: agents, providers, MCP servers and their
//! tools, and the numeric id of a cluster node. Each parses caller input once, at the
//! edge.

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// What a name of one kind may look like. Every name and id parsed from caller input
/// (workspaces, rules, agents, providers, servers, catalog entries, tools) is checked by
/// [`check`] against its shape.
pub(crate) struct Shape {
    pub(crate) max_len: usize,
    /// The reason given for a longer name.
    pub(crate) too_long: &'static str,
    pub(crate) first: fn(u8) -> bool,
    /// The reason given when the first character fails `first`.
    pub(crate) first_text: &'static str,
    pub(crate) allowed: fn(u8) -> bool,
    /// The reason given when a character fails `allowed`.
    pub(crate) allowed_text: &'static str,
    pub(crate) may_end_with_dash: bool,
}

/// Why `name` does not have `shape`, if it does not.
pub(crate) fn check(name: &str, shape: &Shape) -> Option<&'static str> {
    if name.is_empty() {
        Some("must not be empty")
    } else if name.len() > shape.max_len {
        Some(shape.too_long)
    } else if !(shape.first)(name.as_bytes()[0]) {
        Some(shape.first_text)
    } else if !shape.may_end_with_dash && name.ends_with('-') {
        Some("must not end with '-'")
    } else if !name.bytes().all(shape.allowed) {
        Some(shape.allowed_text)
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

const LOWER_DASH_TEXT: &str = "may contain only a-z, 0-9 and '-'";

/// `[a-z0-9-]`, starting with a letter, at most 64 characters. (A capital first
/// letter is refused by `allowed`, with the reason that names the characters.)
pub(crate) const LOWER_64: Shape = Shape {
    max_len: 64,
    too_long: "must be at most 64 characters",
    first: |b| b.is_ascii_alphabetic(),
    first_text: "must start with a letter",
    allowed: lower_dash,
    allowed_text: LOWER_DASH_TEXT,
    may_end_with_dash: true,
};

/// A policy rule's id: as `LOWER_64`, and a capital first letter is refused as not a
/// letter it may start with.
pub(crate) const RULE: Shape = Shape {
    first: |b| b.is_ascii_lowercase(),
    ..LOWER_64
};

const LOWER_32: Shape = Shape {
    max_len: 32,
    too_long: "must be at most 32 characters",
    ..LOWER_64
};

/// A workspace: as `LOWER_64` but at most 63 characters (a DNS label) and not ending
/// with '-'.
pub(crate) const WORKSPACE: Shape = Shape {
    max_len: 63,
    too_long: "must be at most 63 characters",
    first: |b| b.is_ascii_lowercase(),
    first_text: "must start with a lowercase letter",
    may_end_with_dash: false,
    ..LOWER_64
};

const TOOL: Shape = Shape {
    allowed: tool_chars,
    allowed_text: "may contain only A-Z, a-z, 0-9, '_', '-' and '.'",
    ..LOWER_64
};

macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident, $kind:literal, $shape:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $ty(String);

        impl $ty {
            pub const MAX_LEN: usize = $shape.max_len;

            pub fn parse(name: &str) -> Result<Self, Error> {
                match check(name, &$shape) {
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
    AgentName, "agent", LOWER_64
);
name_type!(
    /// A model provider's name within its workspace: 1-64 of `[a-z0-9-]`.
    ProviderName, "provider", LOWER_64
);
name_type!(
    /// An MCP server's name within its workspace: 1-32 of `[a-z0-9-]`. No `_`, so a model
    /// facing function name `server__tool` splits unambiguously.
    ServerName, "server", LOWER_32
);
name_type!(
    /// A cluster catalog entry's name: 1-64 of `[a-z0-9-]`, starting with a letter.
    CatalogName, "catalog entry", LOWER_64
);
name_type!(
    /// A webhook's name within its workspace: 1-64 of `[a-z0-9-]`, starting with a letter.
    WebhookName, "webhook", LOWER_64
);
name_type!(
    /// A schedule's name within its workspace: 1-64 of `[a-z0-9-]`, starting with a letter.
    ScheduleName, "schedule", LOWER_64
);
name_type!(
    /// A webhook trigger's name within its workspace: 1-64 of `[a-z0-9-]`, starting with a
    /// letter. Triggers and schedules share one namespace: both act as
    /// `trigger/<workspace>/<name>`.
    TriggerName, "trigger", LOWER_64
);
name_type!(
    /// A tool's name as its MCP server lists it: 1-64 of `[A-Za-z0-9_.-]`.
    ToolName, "tool", TOOL
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
