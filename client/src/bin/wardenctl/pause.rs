//! `wardenctl pause`, `resume` and `paused`: the kill switch for a workspace, one of its
//! agents, or one tool.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use warden_client::{Client, PauseTarget};

use crate::output::{Format, Table, emit, emit_json, format_time_ms};

/// What to pause or resume: the workspace, or one agent or tool in it.
#[derive(Debug, Args)]
pub struct Switch {
    /// The workspace (all of it, unless --agent or --tool narrows the switch)
    workspace: String,
    /// Only this agent's tasks
    #[arg(long, conflicts_with = "tool")]
    agent: Option<String>,
    /// Only calls to this tool, named SERVER/TOOL
    #[arg(long, value_parser = parse_tool)]
    tool: Option<(String, String)>,
}

impl Switch {
    fn target(&self) -> PauseTarget {
        match (&self.agent, &self.tool) {
            (Some(agent), _) => PauseTarget::Agent(agent.clone()),
            (None, Some((server, tool))) => PauseTarget::Tool {
                server: server.clone(),
                tool: tool.clone(),
            },
            (None, None) => PauseTarget::Workspace,
        }
    }

    fn describe(&self) -> String {
        match self.target() {
            PauseTarget::Workspace => format!("workspace {}", self.workspace),
            PauseTarget::Agent(agent) => format!("agent {agent} of {}", self.workspace),
            PauseTarget::Tool { server, tool } => {
                format!("tool {server}/{tool} of {}", self.workspace)
            }
        }
    }
}

fn parse_tool(text: &str) -> Result<(String, String), String> {
    match text.split_once('/') {
        Some((server, tool)) if !server.is_empty() && !tool.is_empty() => {
            Ok((server.to_owned(), tool.to_owned()))
        }
        _ => Err(format!("{text:?} is not SERVER/TOOL, e.g. ledger/append")),
    }
}

#[derive(Debug, Args)]
pub struct PauseArgs {
    #[command(flatten)]
    switch: Switch,
    /// Why (recorded with the pause and in the audit log)
    #[arg(long)]
    reason: String,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    #[command(flatten)]
    switch: Switch,
    /// Why (recorded in the audit log)
    #[arg(long, default_value = "")]
    reason: String,
}

pub async fn run_pause(
    client: &Client,
    format: Format,
    args: PauseArgs,
) -> anyhow::Result<ExitCode> {
    set(client, format, &args.switch, true, &args.reason).await
}

pub async fn run_resume(
    client: &Client,
    format: Format,
    args: ResumeArgs,
) -> anyhow::Result<ExitCode> {
    set(client, format, &args.switch, false, &args.reason).await
}

async fn set(
    client: &Client,
    format: Format,
    switch: &Switch,
    paused: bool,
    reason: &str,
) -> anyhow::Result<ExitCode> {
    let verb = if paused { "pause" } else { "resume" };
    let what = switch.describe();
    client
        .set_pause(&switch.workspace, &switch.target(), paused, reason)
        .await
        .with_context(|| format!("{verb} {what}"))?;
    match format {
        Format::Table => emit(&format!("{verb}d {what}\n"))?,
        Format::Json => emit_json(&json!({ "target": what, "paused": paused }))?,
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_list(
    client: &Client,
    format: Format,
    workspace: &str,
) -> anyhow::Result<ExitCode> {
    let pauses = client
        .list_pauses(workspace)
        .await
        .with_context(|| format!("list what is paused in {workspace}"))?;
    let target = |pause: &warden_client::proto::Pause| match pause.target.as_str() {
        "agent" => format!("agent {}", pause.agent),
        "tool" => format!("tool {}/{}", pause.server, pause.tool),
        other => other.to_owned(),
    };
    match format {
        Format::Table => {
            let mut table = Table::new(vec!["PAUSED", "SINCE", "BY", "REASON"]);
            for pause in &pauses {
                table.push(vec![
                    target(pause),
                    format_time_ms(pause.since_ms),
                    pause.by.clone(),
                    pause.reason.clone(),
                ]);
            }
            emit(&table.render())?;
        }
        Format::Json => emit_json(&json!(
            pauses
                .iter()
                .map(|pause| json!({
                    "target": pause.target,
                    "agent": (!pause.agent.is_empty()).then_some(&pause.agent),
                    "server": (!pause.server.is_empty()).then_some(&pause.server),
                    "tool": (!pause.tool.is_empty()).then_some(&pause.tool),
                    "by": pause.by,
                    "reason": pause.reason,
                    "since_ms": pause.since_ms,
                }))
                .collect::<Vec<_>>()
        ))?,
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::{Cli, Command};

    #[test]
    fn a_pause_names_at_most_one_agent_or_tool_and_needs_a_reason() {
        let parse = |args: &[&str]| Cli::try_parse_from(["wardenctl"].iter().chain(args));
        assert!(parse(&["pause", "acme"]).is_err(), "a pause needs a reason");
        assert!(
            parse(&["resume", "acme"]).is_ok(),
            "a resume need not say why"
        );
        assert!(
            parse(&[
                "pause", "acme", "--agent", "a", "--tool", "s/t", "--reason", "r"
            ])
            .is_err()
        );
        assert!(parse(&["pause", "acme", "--tool", "ledger", "--reason", "r"]).is_err());
        let cli = parse(&["pause", "acme", "--tool", "ledger/append", "--reason", "r"])
            .expect("valid arguments");
        let Command::Pause(args) = cli.command else {
            panic!("parsed as {:?}", cli.command);
        };
        assert_eq!(
            args.switch.target(),
            warden_client::PauseTarget::Tool {
                server: "ledger".into(),
                tool: "append".into()
            }
        );
    }
}
