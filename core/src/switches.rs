//! The kill switch: pauses of a whole workspace, of one agent, or of one tool. An
//! agent's pause is the `paused` flag of its record; a workspace's and its tools'
//! pauses live in the workspace's [`Switches`] record. `apply()` enforces them, so a
//! pause holds on every node from the commit that sets it.

use serde::{Deserialize, Serialize};

use crate::ids::{Principal, WorkspaceId};
use crate::names::{AgentName, ServerName, ToolName};

/// What a pause stops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PauseTarget {
    /// Every task of the workspace: none is placed and none takes a step.
    Workspace,
    /// Every task of one agent (its `AgentSpec.paused`).
    Agent(AgentName),
    /// Every call to one tool: denied when the model asks for it, and not started
    /// when it was asked for before the pause.
    Tool { server: ServerName, tool: ToolName },
}

impl std::fmt::Display for PauseTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PauseTarget::Workspace => f.write_str("workspace"),
            PauseTarget::Agent(agent) => write!(f, "agent {agent}"),
            PauseTarget::Tool { server, tool } => write!(f, "tool {server}/{tool}"),
        }
    }
}

/// Who paused something, why, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub by: Principal,
    pub reason: String,
    pub since_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolPause {
    pub server: ServerName,
    pub tool: ToolName,
    pub pause: Pause,
}

/// A workspace's pauses other than its agents'. Removed when nothing is paused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Switches {
    pub workspace: WorkspaceId,
    /// The pause of the whole workspace.
    pub paused: Option<Pause>,
    /// Paused tools, in the order they were paused.
    pub tools: Vec<ToolPause>,
}

impl Switches {
    pub fn new(workspace: WorkspaceId) -> Switches {
        Switches {
            workspace,
            paused: None,
            tools: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.paused.is_none() && self.tools.is_empty()
    }

    pub fn tool(&self, server: &ServerName, tool: &ToolName) -> Option<&Pause> {
        self.tools
            .iter()
            .find(|paused| &paused.server == server && &paused.tool == tool)
            .map(|paused| &paused.pause)
    }

    /// Why the workspace takes no step, while it is paused.
    pub fn workspace_halt(&self) -> Option<String> {
        self.paused.as_ref().map(|pause| {
            format!(
                "workspace {} is paused by {}: {}",
                self.workspace, pause.by, pause.reason
            )
        })
    }

    /// The denial of a call to `server/tool`, while that tool is paused.
    pub fn tool_denial(&self, server: &ServerName, tool: &ToolName) -> Option<String> {
        self.tool(server, tool).map(|pause| {
            format!(
                "tool {server}/{tool} is paused by {}: {}",
                pause.by, pause.reason
            )
        })
    }
}
