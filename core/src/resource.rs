//! The audit resource names of records: the `resource` of an audit record.

use crate::budget::BudgetScope;
use crate::identity::{Scope, TokenId};
use crate::ids::{Principal, TaskId, WorkspaceId};
use crate::names::NodeId;
use crate::switches::PauseTarget;
use crate::webhook::DeliveryId;

/// The audit resource name of a token.
pub fn token_resource(token: &TokenId) -> String {
    format!("token/{token}")
}

/// The audit resource name of a role binding.
pub fn binding_resource(scope: &Scope, principal: &Principal) -> String {
    format!("{scope}/binding/{principal}")
}

/// The audit resource name of a workspace.
pub fn workspace_resource(workspace: &WorkspaceId) -> String {
    format!("workspace/{workspace}")
}

/// The audit resource name of a workspace's task collection.
pub fn tasks_resource(workspace: &WorkspaceId) -> String {
    format!("workspace/{workspace}/task")
}

/// The audit resource name of a task.
pub fn task_resource(workspace: &WorkspaceId, task: &TaskId) -> String {
    format!("workspace/{workspace}/task/{task}")
}

/// The audit resource name of a workspace-scoped configuration record.
pub fn config_resource(workspace: &WorkspaceId, kind: &str, name: &str) -> String {
    format!("workspace/{workspace}/{kind}/{name}")
}

/// The audit resource name of a webhook's delivery.
pub fn delivery_resource(workspace: &WorkspaceId, id: &DeliveryId) -> String {
    format!("workspace/{workspace}/delivery/{id}")
}

/// The audit resource name of a budget.
pub fn budget_resource(workspace: &WorkspaceId, scope: &BudgetScope) -> String {
    match scope {
        BudgetScope::Workspace => format!("workspace/{workspace}/budget"),
        BudgetScope::Agent(agent) => format!("workspace/{workspace}/agent/{agent}/budget"),
    }
}

/// The audit resource name of a node's audit checkpoints.
pub fn checkpoint_resource(node: NodeId) -> String {
    format!("cluster/node/{node}/audit")
}

/// The audit resource name of a pause switch.
pub fn pause_resource(workspace: &WorkspaceId, target: &PauseTarget) -> String {
    match target {
        PauseTarget::Workspace => format!("workspace/{workspace}/pause"),
        PauseTarget::Agent(agent) => format!("workspace/{workspace}/agent/{agent}/pause"),
        PauseTarget::Tool { server, tool } => {
            format!("workspace/{workspace}/mcp_server/{server}/tool/{tool}/pause")
        }
    }
}
