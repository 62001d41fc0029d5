//! The roles a principal can hold in a workspace.

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A workspace role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything in the workspace, including role bindings, policy and secrets.
    Admin,
    /// Agents, providers, MCP servers and tasks.
    Operator,
    /// Decides approval requests.
    Approver,
    /// Reads and exports the audit chain.
    Auditor,
    /// Reads configuration, tasks and journals.
    Viewer,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Operator,
        Role::Approver,
        Role::Auditor,
        Role::Viewer,
    ];

    pub fn parse(text: &str) -> Result<Role, Error> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| Error::InvalidRole {
                role: text.to_owned(),
            })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Approver => "approver",
            Role::Auditor => "auditor",
            Role::Viewer => "viewer",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
