//! `wardenctl budget ...`: a workspace's and its agents' budgets of tokens and tool calls.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use warden_client::proto::Budget;
use warden_client::{BudgetLimits, Client};

use crate::output::{Format, Table, emit, emit_json, format_time_ms};

#[derive(Debug, Subcommand)]
pub enum BudgetCommand {
    /// Set the token and tool-call limits of a workspace's budget, or an agent's (admins)
    ///
    /// The limits given replace the old ones; a limit not given is unlimited. Usage is
    /// charged with every model turn from when the budget is first set: a turn that
    /// would overrun a limit fails its task, naming the budget, and no task is
    /// submitted while a limit is used up.
    #[command(group(clap::ArgGroup::new("limits").required(true).multiple(true)))]
    Set {
        /// The workspace
        workspace: String,
        /// The agent whose budget this is (default: the workspace's own)
        #[arg(long)]
        agent: Option<String>,
        /// Input plus output tokens
        #[arg(long, group = "limits")]
        tokens: Option<u64>,
        /// Tool calls the policy allows or sends for approval
        #[arg(long, group = "limits")]
        tool_calls: Option<u64>,
        /// Zero the usage counted so far
        #[arg(long)]
        reset: bool,
        /// Remove the budget (no limits, usage no longer counted)
        #[arg(long, group = "limits", conflicts_with_all = ["tokens", "tool_calls", "reset"])]
        remove: bool,
    },
    /// Show a workspace's budgets with their usage
    Show { workspace: String },
}

pub async fn run(
    client: &Client,
    format: Format,
    command: BudgetCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        BudgetCommand::Set {
            workspace,
            agent,
            tokens,
            tool_calls,
            reset,
            remove,
        } => {
            let limits = if remove {
                BudgetLimits::default()
            } else {
                BudgetLimits { tokens, tool_calls }
            };
            let name = agent.as_deref().map_or_else(
                || format!("workspace {workspace}"),
                |agent| format!("agent {agent} of {workspace}"),
            );
            let budget = client
                .set_budget(&workspace, agent.as_deref(), limits, reset)
                .await
                .with_context(|| format!("set the budget of {name}"))?;
            match (budget, format) {
                (None, Format::Table) => emit(&format!("removed the budget of {name}\n"))?,
                (None, Format::Json) => emit_json(&json!(null))?,
                (Some(budget), Format::Table) => emit(&format!(
                    "budget of {name}: tokens {}, tool calls {}\n",
                    usage(budget.tokens_used, budget.tokens),
                    usage(budget.tool_calls_used, budget.tool_calls)
                ))?,
                (Some(budget), Format::Json) => emit_json(&budget_json(&budget))?,
            }
        }
        BudgetCommand::Show { workspace } => {
            let budgets = client
                .get_budgets(&workspace)
                .await
                .with_context(|| format!("get the budgets of {workspace}"))?;
            match format {
                Format::Table => {
                    let mut table = Table::new(vec![
                        "BUDGET",
                        "TOKENS",
                        "TOOL CALLS",
                        "COUNTING SINCE",
                        "SET BY",
                    ]);
                    for budget in &budgets {
                        table.push(vec![
                            scope(budget),
                            usage(budget.tokens_used, budget.tokens),
                            usage(budget.tool_calls_used, budget.tool_calls),
                            format_time_ms(budget.counting_since_ms),
                            budget.set_by.clone(),
                        ]);
                    }
                    emit(&table.render())?;
                }
                Format::Json => {
                    emit_json(&json!(budgets.iter().map(budget_json).collect::<Vec<_>>()))?
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `used/limit`, or `used/unlimited`.
fn usage(used: u64, limit: Option<u64>) -> String {
    match limit {
        Some(limit) => format!("{used}/{limit}"),
        None => format!("{used}/unlimited"),
    }
}

fn scope(budget: &Budget) -> String {
    if budget.agent.is_empty() {
        "workspace".to_owned()
    } else {
        format!("agent {}", budget.agent)
    }
}

fn budget_json(budget: &Budget) -> serde_json::Value {
    json!({
        "workspace": budget.workspace,
        "agent": (!budget.agent.is_empty()).then_some(&budget.agent),
        "tokens": budget.tokens,
        "tool_calls": budget.tool_calls,
        "tokens_used": budget.tokens_used,
        "tool_calls_used": budget.tool_calls_used,
        "counting_since_ms": budget.counting_since_ms,
        "set_ms": budget.set_ms,
        "set_by": budget.set_by,
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::Cli;

    #[test]
    fn set_needs_a_limit_or_remove_and_remove_takes_no_limit() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(["wardenctl", "budget", "set", "acme"].iter().chain(args))
        };
        assert!(parse(&[]).is_err(), "no limit given");
        assert!(
            parse(&["--reset"]).is_err(),
            "a reset alone would drop the limits"
        );
        assert!(parse(&["--tokens", "10", "--remove"]).is_err());
        assert!(parse(&["--tool-calls", "3", "--agent", "bot", "--reset"]).is_ok());
        assert!(parse(&["--remove"]).is_ok());
    }
}
