//! Budgets: how many tokens and tool calls a workspace, or one agent in it, may spend
//! across all of its tasks. Usage is charged by `apply()` in the commit of the model
//! turn that spends it, so every node counts the same.

use serde::{Deserialize, Serialize};

use crate::ids::{Principal, WorkspaceId};
use crate::names::AgentName;

/// What a budget limits: the whole workspace, or one of its agents.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BudgetScope {
    Workspace,
    Agent(AgentName),
}

impl BudgetScope {
    /// The agent scope for `Some(agent)`, the workspace scope for `None`.
    pub fn of(agent: Option<&AgentName>) -> BudgetScope {
        agent.map_or(BudgetScope::Workspace, |agent| {
            BudgetScope::Agent(agent.clone())
        })
    }
}

/// One budget's limits and what was spent against them since it was first set (or
/// last reset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    pub workspace: WorkspaceId,
    pub scope: BudgetScope,
    /// Input plus output tokens; `None` is unlimited.
    pub tokens: Option<u64>,
    /// Tool calls the policy allowed or sent for approval; `None` is unlimited.
    pub tool_calls: Option<u64>,
    pub tokens_used: u64,
    pub tool_calls_used: u64,
    /// When usage started counting: the first `SetBudget`, or the last one with `reset`.
    pub counting_since_ms: u64,
    pub set_ms: u64,
    pub set_by: Principal,
}

impl Budget {
    /// The budget's name in messages: `workspace acme` or `agent bot`.
    pub fn name(&self) -> String {
        match &self.scope {
            BudgetScope::Workspace => format!("workspace {}", self.workspace),
            BudgetScope::Agent(agent) => format!("agent {agent}"),
        }
    }

    /// Why nothing more may be started against this budget, when a limit is fully used.
    pub fn used_up(&self) -> Option<String> {
        if let Some(limit) = self.tokens.filter(|limit| self.tokens_used >= *limit) {
            return Some(format!(
                "{} token budget exhausted: {} of {limit} used",
                self.name(),
                self.tokens_used
            ));
        }
        if let Some(limit) = self
            .tool_calls
            .filter(|limit| self.tool_calls_used >= *limit)
        {
            return Some(format!(
                "{} tool-call budget exhausted: {} of {limit} used",
                self.name(),
                self.tool_calls_used
            ));
        }
        None
    }

    /// Why a turn that used `tokens` and asks for `calls` tool calls overruns this
    /// budget, if it does.
    pub fn overrun(&self, tokens: u64, calls: u64) -> Option<String> {
        if let Some(limit) = self
            .tokens
            .filter(|limit| self.tokens_used.saturating_add(tokens) > *limit)
        {
            return Some(format!(
                "{} token budget exhausted: {} of {limit} used, this turn used {tokens}",
                self.name(),
                self.tokens_used
            ));
        }
        if let Some(limit) = self
            .tool_calls
            .filter(|limit| self.tool_calls_used.saturating_add(calls) > *limit)
        {
            return Some(format!(
                "{} tool-call budget exhausted: {} of {limit} used, this turn asks for {calls}",
                self.name(),
                self.tool_calls_used
            ));
        }
        None
    }
}
