//! Budgets of tokens and tool calls: setting one, charging a model turn against the
//! workspace's and the agent's budgets, and refusing new tasks once one is used up.

use super::{At, Decision, StateRead, Write, missing_workspace};
use crate::budget::{Budget, BudgetScope};
use crate::command::Command;
use crate::ids::WorkspaceId;
use crate::names::AgentName;
use crate::outcome::{Code, Outcome, Rejection};

pub(super) fn set_budget<S: StateRead>(
    state: &S,
    at: &At<'_>,
    command: &Command,
) -> Result<Decision, S::Error> {
    let Command::SetBudget {
        workspace,
        agent,
        tokens,
        tool_calls,
        reset,
    } = command
    else {
        unreachable!("set_budget is called for SetBudget only")
    };
    if let Some(rejection) = missing_workspace(state, workspace)? {
        return Ok(Err(rejection));
    }
    if let Some(agent) = agent
        && state.agent(workspace, agent)?.is_none()
    {
        return Ok(Err(Rejection::new(
            Code::NotFound,
            format!("agent {agent} not found in workspace {workspace}"),
        )));
    }
    let scope = BudgetScope::of(agent.as_ref());
    let outcome = |budget: Option<Budget>| Outcome::BudgetSet {
        workspace: workspace.clone(),
        scope: scope.clone(),
        budget,
    };
    if tokens.is_none() && tool_calls.is_none() {
        let removal = Write::RemoveBudget {
            workspace: workspace.clone(),
            scope: scope.clone(),
        };
        return Ok(Ok((outcome(None), vec![removal])));
    }
    let kept = state.budget(workspace, &scope)?.filter(|_| !reset);
    let budget = Budget {
        workspace: workspace.clone(),
        scope: scope.clone(),
        tokens: *tokens,
        tool_calls: *tool_calls,
        tokens_used: kept.as_ref().map_or(0, |kept| kept.tokens_used),
        tool_calls_used: kept.as_ref().map_or(0, |kept| kept.tool_calls_used),
        counting_since_ms: kept
            .as_ref()
            .map_or(at.time_ms, |kept| kept.counting_since_ms),
        set_ms: at.time_ms,
        set_by: at.principal.clone(),
    };
    Ok(Ok((
        outcome(Some(budget.clone())),
        vec![Write::Budget(budget)],
    )))
}

/// The audit detail of an accepted `SetBudget`.
pub(super) fn detail(
    workspace: &WorkspaceId,
    scope: &BudgetScope,
    budget: Option<&Budget>,
) -> String {
    let limit =
        |limit: Option<u64>| limit.map_or_else(|| "unlimited".to_owned(), |n| n.to_string());
    let name = match scope {
        BudgetScope::Workspace => format!("workspace {workspace}"),
        BudgetScope::Agent(agent) => format!("agent {agent} of workspace {workspace}"),
    };
    match budget {
        None => format!("budget of {name} removed"),
        Some(budget) => format!(
            "budget of {name}: tokens {}, tool calls {} ({} tokens and {} tool calls used since {} ms)",
            limit(budget.tokens),
            limit(budget.tool_calls),
            budget.tokens_used,
            budget.tool_calls_used,
            budget.counting_since_ms
        ),
    }
}

/// The budgets a task's steps are charged to: its workspace's, then its agent's, then
/// those of the agents above it when it was delegated, of those that exist.
pub(super) struct Budgets {
    budgets: Vec<Budget>,
    charged: bool,
}

impl Budgets {
    /// The budgets of a task of `agent` delegated by tasks of the agents in `lineage`.
    pub(super) fn read_chain<S: StateRead>(
        state: &S,
        workspace: &WorkspaceId,
        agent: &AgentName,
        lineage: &[AgentName],
    ) -> Result<Budgets, S::Error> {
        let mut budgets = Vec::with_capacity(2 + lineage.len());
        let mut agents: Vec<&AgentName> = vec![agent];
        for above in lineage {
            if !agents.contains(&above) {
                agents.push(above);
            }
        }
        budgets.extend(state.budget(workspace, &BudgetScope::Workspace)?);
        for agent in agents {
            budgets.extend(state.budget(workspace, &BudgetScope::Agent(agent.clone()))?);
        }
        Ok(Budgets {
            budgets,
            charged: false,
        })
    }

    /// Charges a model turn's `tokens` (always: they were spent) and reserves `calls`
    /// tool calls, unless they would overrun a budget: then it reserves none and returns
    /// why, naming the first budget they overrun.
    pub(super) fn charge(&mut self, tokens: u64, calls: u64) -> Option<String> {
        let overrun = self
            .budgets
            .iter()
            .find_map(|budget| budget.overrun(tokens, calls));
        let reserved = if overrun.is_some() { 0 } else { calls };
        for budget in &mut self.budgets {
            budget.tokens_used = budget.tokens_used.saturating_add(tokens);
            budget.tool_calls_used = budget.tool_calls_used.saturating_add(reserved);
        }
        self.charged = self.charged || tokens > 0 || reserved > 0;
        overrun
    }

    /// The writes of what was charged.
    pub(super) fn writes(self) -> Vec<Write> {
        if !self.charged {
            return Vec::new();
        }
        self.budgets.into_iter().map(Write::Budget).collect()
    }
}

/// The refusal of a new task for `agent` while its workspace's or its own budget is
/// used up.
pub(super) fn exhausted<S: StateRead>(
    state: &S,
    workspace: &WorkspaceId,
    agent: &AgentName,
) -> Result<Option<Rejection>, S::Error> {
    exhausted_chain(state, workspace, agent, &[])
}

/// As `exhausted`, for a task delegated by tasks of the agents in `lineage`, whose
/// budgets it is charged to as well.
pub(super) fn exhausted_chain<S: StateRead>(
    state: &S,
    workspace: &WorkspaceId,
    agent: &AgentName,
    lineage: &[AgentName],
) -> Result<Option<Rejection>, S::Error> {
    let budgets = Budgets::read_chain(state, workspace, agent, lineage)?;
    Ok(budgets.budgets.iter().find_map(Budget::used_up).map(|why| {
        Rejection::new(
            Code::ResourceExhausted,
            format!("{why}; raise the limit or reset the usage (wardenctl budget set)"),
        )
    }))
}
