//! `wardenctl agent ...`: the agents that run a workspace's tasks: instructions, model
//! provider, granted tools, limits, and whether they are paused.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;
use warden_client::proto::{Agent, AgentLimits, ToolGrant};
use warden_client::{Client, Consistency};

use crate::args::{ReadArgs, file_or_stdin, parse_duration};
use crate::json;
use crate::output::{
    Format, Table, emit, emit_json, format_duration_ms, render_fields, shorten, yes_no,
};

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Create an agent
    ///
    /// Limits left out take the server's defaults. Every --provider and --tool must exist
    /// already (`provider put`, `mcp register`).
    Create(CreateArgs),
    /// Change an agent: only the options given change
    ///
    /// Reads the agent, applies the options given and writes it back, provided it is
    /// still at --expected-version (ABORTED otherwise: someone changed it meanwhile; look
    /// again with `agent get`). Tasks submitted earlier keep the limits they were
    /// submitted with.
    Update(UpdateArgs),
    /// Show one agent
    Get {
        /// Workspace of the agent
        workspace: String,
        /// Name of the agent
        name: String,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// List the agents of a workspace
    List {
        /// Workspace to list
        workspace: String,
    },
    /// Delete an agent; refused, naming them, while any of its tasks is unfinished
    ///
    /// Its finished tasks and their journals stay; so do its budget and its pause, which
    /// only an administrator lifts.
    Delete {
        /// Workspace of the agent
        workspace: String,
        /// Name of the agent
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Workspace of the agent
    workspace: String,
    /// Name of the agent, as tasks refer to it (`task submit --agent`)
    name: String,
    /// Model provider the agent calls
    #[arg(long)]
    provider: String,
    #[command(flatten)]
    spec: SpecArgs,
    /// Create it paused: its tasks are accepted but not placed on a node until it is
    /// resumed (`agent update --resume`)
    #[arg(long)]
    paused: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Workspace of the agent
    workspace: String,
    /// Name of the agent
    name: String,
    /// The version the change is based on, as `agent get` shows it
    #[arg(long, value_name = "V")]
    expected_version: u64,
    /// Model provider the agent calls
    #[arg(long)]
    provider: Option<String>,
    #[command(flatten)]
    spec: SpecArgs,
    /// Remove every tool grant
    #[arg(long, conflicts_with = "tools")]
    no_tools: bool,
    /// Pause the agent: none of its tasks is placed on a node until it is resumed;
    /// tasks already running go on
    #[arg(long)]
    paused: bool,
    /// Resume a paused agent
    #[arg(long, conflicts_with = "paused")]
    resume: bool,
}

/// The parts of an agent's spec that `create` and `update` set alike.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Instructions for the model (its system prompt)
    #[arg(long, value_name = "TEXT", conflicts_with = "instructions_file")]
    instructions: Option<String>,
    /// Read the instructions from this file; `-` reads standard input
    #[arg(long, value_name = "F")]
    instructions_file: Option<PathBuf>,
    /// Grant a tool as SERVER/TOOL; a `:retry-safe` or `:no-retry` suffix overrides the
    /// tool's annotations for retrying an interrupted call. Repeat for more; on update
    /// the grants given replace all earlier ones
    #[arg(long = "tool", value_name = "SERVER/TOOL[:retry-safe|:no-retry]", value_parser = parse_tool_grant)]
    tools: Vec<ToolGrant>,
    /// Most model turns a task may take
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_steps: Option<u32>,
    /// Most tokens (input plus output) a task may use across its model calls
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    token_budget: Option<u64>,
    /// How long a task may take from submission to its end, e.g. 30m, 2h
    #[arg(long, value_parser = parse_duration)]
    deadline: Option<Duration>,
    /// How long a running task may go without journal progress before it is marked
    /// stalled, e.g. 5m
    #[arg(long, value_parser = parse_duration)]
    stall_timeout: Option<Duration>,
}

pub async fn run(
    client: &Client,
    format: Format,
    command: AgentCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        AgentCommand::Create(args) => {
            let (workspace, name) = (args.workspace.clone(), args.name.clone());
            let mut agent = Agent {
                workspace: args.workspace,
                name: args.name,
                provider: args.provider,
                paused: args.paused,
                ..Agent::default()
            };
            args.spec.apply_to(&mut agent)?;
            let response = client
                .create_agent(agent)
                .await
                .with_context(|| format!("create agent {name} in workspace {workspace}"))?;
            let agent = response.agent.unwrap_or_default();
            match format {
                Format::Table => emit(&format!(
                    "created agent {name} (version {})\n",
                    agent.version
                ))?,
                Format::Json => emit_json(&json::agent(&agent))?,
            }
        }
        AgentCommand::Update(args) => {
            let (workspace, name) = (args.workspace.clone(), args.name.clone());
            let mut agent = client
                .get_agent(workspace.clone(), name.clone(), Consistency::Linearizable)
                .await
                .with_context(|| format!("get agent {name} of workspace {workspace}"))?
                .agent
                .unwrap_or_default();
            args.apply_to(&mut agent)?;
            let response = client
                .update_agent(agent, args.expected_version)
                .await
                .with_context(|| format!("update agent {name} of workspace {workspace}"))?;
            let agent = response.agent.unwrap_or_default();
            match format {
                Format::Table => emit(&format!(
                    "updated agent {name} to version {}\n",
                    agent.version
                ))?,
                Format::Json => emit_json(&json::agent(&agent))?,
            }
        }
        AgentCommand::Get {
            workspace,
            name,
            read,
        } => {
            let response = client
                .get_agent(workspace.clone(), name.clone(), read.consistency())
                .await
                .with_context(|| format!("get agent {name} of workspace {workspace}"))?;
            let agent = response.agent.unwrap_or_default();
            match format {
                Format::Table => emit(&render_agent(&agent))?,
                Format::Json => emit_json(&json::agent(&agent))?,
            }
        }
        AgentCommand::List { workspace } => {
            let response = client
                .list_agents(workspace.clone())
                .await
                .with_context(|| format!("list agents of workspace {workspace}"))?;
            match format {
                Format::Table => emit(&render_list(&response.agents))?,
                Format::Json => emit_json(&json!({
                    "agents": response.agents.iter().map(json::agent).collect::<Vec<_>>(),
                }))?,
            }
        }
        AgentCommand::Delete { workspace, name } => {
            let agent = client
                .delete_agent(workspace.clone(), name.clone())
                .await
                .with_context(|| format!("delete agent {workspace}/{name}"))?
                .agent
                .unwrap_or_default();
            match format {
                Format::Table => emit(&format!("deleted agent {workspace}/{name}\n"))?,
                Format::Json => emit_json(&json::agent(&agent))?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

impl SpecArgs {
    /// Sets on `agent` what was given; leaves the rest as it is.
    fn apply_to(&self, agent: &mut Agent) -> anyhow::Result<()> {
        if let Some(instructions) = &self.instructions {
            agent.instructions = instructions.clone();
        }
        if let Some(path) = &self.instructions_file {
            agent.instructions = file_or_stdin(path)?;
        }
        if !self.tools.is_empty() {
            agent.tools = self.tools.clone();
        }
        let limits = agent.limits.get_or_insert_with(AgentLimits::default);
        if let Some(max_steps) = self.max_steps {
            limits.max_steps = max_steps;
        }
        if let Some(token_budget) = self.token_budget {
            limits.token_budget = token_budget;
        }
        if let Some(deadline) = self.deadline {
            limits.deadline_ms = millis(deadline);
        }
        if let Some(stall_timeout) = self.stall_timeout {
            limits.stall_timeout_ms = millis(stall_timeout);
        }
        Ok(())
    }
}

impl UpdateArgs {
    /// Applies the options given to the agent as it is now.
    fn apply_to(&self, agent: &mut Agent) -> anyhow::Result<()> {
        if let Some(provider) = &self.provider {
            agent.provider = provider.clone();
        }
        self.spec.apply_to(agent)?;
        if self.no_tools {
            agent.tools.clear();
        }
        if self.paused {
            agent.paused = true;
        }
        if self.resume {
            agent.paused = false;
        }
        Ok(())
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Parses `SERVER/TOOL`, optionally followed by `:retry-safe` or `:no-retry`.
pub fn parse_tool_grant(text: &str) -> Result<ToolGrant, String> {
    let (name, retry_safe) = match text.rsplit_once(':') {
        None => (text, None),
        Some((name, "retry-safe")) => (name, Some(true)),
        Some((name, "no-retry")) => (name, Some(false)),
        Some((_, other)) => {
            return Err(format!(
                "unknown suffix {other:?} in {text:?} (use :retry-safe or :no-retry)"
            ));
        }
    };
    match name.split_once('/') {
        Some((server, tool)) if !server.is_empty() && !tool.is_empty() && !tool.contains('/') => {
            Ok(ToolGrant {
                server: server.to_owned(),
                tool: tool.to_owned(),
                retry_safe,
            })
        }
        _ => Err(format!("expected SERVER/TOOL, got {name:?}")),
    }
}

/// A grant as `--tool` takes it: `server/tool`, with its suffix if any.
fn grant_text(grant: &ToolGrant) -> String {
    let suffix = match grant.retry_safe {
        None => "",
        Some(true) => ":retry-safe",
        Some(false) => ":no-retry",
    };
    format!("{}/{}{suffix}", grant.server, grant.tool)
}

fn grants_text(grants: &[ToolGrant]) -> String {
    if grants.is_empty() {
        return "-".to_owned();
    }
    grants.iter().map(grant_text).collect::<Vec<_>>().join(", ")
}

fn render_agent(agent: &Agent) -> String {
    let limits = agent.limits.unwrap_or_default();
    render_fields(&[
        ("name", agent.name.clone()),
        ("workspace", agent.workspace.clone()),
        ("version", agent.version.to_string()),
        ("provider", agent.provider.clone()),
        ("paused", yes_no(agent.paused)),
        ("tools", grants_text(&agent.tools)),
        ("max steps", limits.max_steps.to_string()),
        ("token budget", limits.token_budget.to_string()),
        ("deadline", format_duration_ms(limits.deadline_ms)),
        ("stall timeout", format_duration_ms(limits.stall_timeout_ms)),
        ("instructions", agent.instructions.clone()),
    ])
}

fn render_list(agents: &[Agent]) -> String {
    let mut table = Table::new(vec![
        "NAME",
        "PROVIDER",
        "PAUSED",
        "TOOLS",
        "VERSION",
        "INSTRUCTIONS",
    ]);
    for agent in agents {
        table.push(vec![
            agent.name.clone(),
            agent.provider.clone(),
            yes_no(agent.paused),
            agent.tools.len().to_string(),
            agent.version.to_string(),
            shorten(&agent.instructions, 40),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Update {
        #[command(flatten)]
        args: UpdateArgs,
    }

    fn update(extra: &[&str]) -> UpdateArgs {
        let mut argv = vec!["update", "ws", "bot", "--expected-version", "3"];
        argv.extend_from_slice(extra);
        Update::try_parse_from(argv).expect("valid arguments").args
    }

    fn existing() -> Agent {
        Agent {
            workspace: "ws".into(),
            name: "bot".into(),
            instructions: "be brief".into(),
            provider: "model".into(),
            tools: vec![ToolGrant {
                server: "files".into(),
                tool: "read".into(),
                retry_safe: None,
            }],
            limits: Some(AgentLimits {
                max_steps: 32,
                token_budget: 200_000,
                deadline_ms: 1_800_000,
                stall_timeout_ms: 300_000,
            }),
            paused: true,
            version: 3,
        }
    }

    #[test]
    fn tool_grants_parse_with_optional_retry_override() {
        let grant = parse_tool_grant("files/read").expect("valid");
        assert_eq!(
            (grant.server.as_str(), grant.tool.as_str()),
            ("files", "read")
        );
        assert_eq!(grant.retry_safe, None);
        assert_eq!(
            parse_tool_grant("files/write:retry-safe")
                .expect("valid")
                .retry_safe,
            Some(true)
        );
        assert_eq!(
            parse_tool_grant("files/write:no-retry")
                .expect("valid")
                .retry_safe,
            Some(false)
        );
        for bad in ["files", "/read", "files/", "a/b/c", "files/read:maybe"] {
            assert!(parse_tool_grant(bad).is_err(), "{bad:?} should be rejected");
        }
        for text in [
            "files/read",
            "files/write:retry-safe",
            "files/write:no-retry",
        ] {
            assert_eq!(grant_text(&parse_tool_grant(text).expect("valid")), text);
        }
    }

    #[test]
    fn update_changes_only_what_is_given() {
        let mut agent = existing();
        update(&[]).apply_to(&mut agent).expect("applies");
        assert_eq!(agent, existing(), "no options, no change");

        let mut agent = existing();
        update(&["--max-steps", "5", "--deadline", "1h", "--resume"])
            .apply_to(&mut agent)
            .expect("applies");
        let limits = agent.limits.expect("limits");
        assert_eq!(limits.max_steps, 5);
        assert_eq!(limits.deadline_ms, 3_600_000);
        assert_eq!(limits.token_budget, 200_000, "kept");
        assert_eq!(limits.stall_timeout_ms, 300_000, "kept");
        assert!(!agent.paused);
        assert_eq!(agent.instructions, "be brief", "kept");
        assert_eq!(agent.tools.len(), 1, "kept");

        let mut agent = existing();
        update(&["--tool", "web/fetch:no-retry", "--provider", "other"])
            .apply_to(&mut agent)
            .expect("applies");
        assert_eq!(grants_text(&agent.tools), "web/fetch:no-retry", "replaced");
        assert_eq!(agent.provider, "other");

        let mut agent = existing();
        update(&["--no-tools", "--instructions", "be thorough"])
            .apply_to(&mut agent)
            .expect("applies");
        assert!(agent.tools.is_empty());
        assert_eq!(agent.instructions, "be thorough");
    }

    #[test]
    fn conflicting_update_options_are_refused() {
        for extra in [
            &["--paused", "--resume"][..],
            &["--no-tools", "--tool", "a/b"],
            &["--instructions", "x", "--instructions-file", "f"],
        ] {
            let mut argv = vec!["update", "ws", "bot", "--expected-version", "3"];
            argv.extend_from_slice(extra);
            assert!(Update::try_parse_from(argv).is_err(), "{extra:?}");
        }
    }
}
