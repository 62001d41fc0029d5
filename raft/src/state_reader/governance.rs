//! Reads of a workspace's budgets, pause switches and settings.

use warden_core::{Budget, BudgetScope, Switches, WorkspaceId, WorkspaceSettings};

use super::StateReader;
use crate::error::Error;
use crate::keys;

impl StateReader {
    /// The workspace's settings; `None` while it has the defaults.
    pub fn settings(&self, workspace: &WorkspaceId) -> Result<Option<WorkspaceSettings>, Error> {
        self.storage
            .get(keys::SM_CF, &keys::settings(workspace), || {
                format!("settings of {workspace}")
            })
    }

    pub fn budget(
        &self,
        workspace: &WorkspaceId,
        scope: &BudgetScope,
    ) -> Result<Option<Budget>, Error> {
        self.storage
            .get(keys::SM_CF, &keys::budget(workspace, scope), || {
                format!("budget {workspace}/{scope:?}")
            })
    }

    /// The budgets of `workspace`: its own first, then its agents' in name order.
    pub fn budgets(&self, workspace: &WorkspaceId) -> Result<Vec<Budget>, Error> {
        self.all_in(keys::budgets(workspace), "budget")
    }

    /// The pauses of `workspace` and of its tools; `None` when nothing is paused.
    pub fn switches(&self, workspace: &WorkspaceId) -> Result<Option<Switches>, Error> {
        self.storage
            .get(keys::SM_CF, &keys::switches(workspace), || {
                format!("switches of {workspace}")
            })
    }
}
