//! `wardenctl schedule ...`: tasks a workspace submits on its own, at the times a cron
//! expression names.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use warden_client::Client;
use warden_client::proto::Schedule;

use crate::args::{ReadArgs, text_or_stdin};
use crate::output::{Format, Table, emit, emit_json, format_time_ms, shorten};

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Create or replace a schedule: a task for an agent at the times a cron expression
    /// names, in a time zone
    ///
    /// The leader fires each due time once, even across a failover, submitting the task as
    /// trigger/<workspace>/<name> (policy rules and the audit chain name it). Due times
    /// missed while no leader could fire them (older than a minute when one gets to them)
    /// follow --catch-up. A changed schedule fires only for due times after the change.
    ///
    /// Examples:
    ///   wardenctl schedule put acme weekly --agent reporter --cron "0 9 * * MON" --timezone Europe/Paris --input "weekly report"
    ///   wardenctl schedule put acme heartbeat --agent bot --cron "*/30 * * * * *" --timezone UTC --input ping --version 1
    Put(PutArgs),
    /// List a workspace's schedules with their last and next due times
    List {
        /// Workspace to list
        workspace: String,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Delete a schedule; tasks it submitted stay
    Delete {
        /// Workspace of the schedule
        workspace: String,
        /// Name of the schedule
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct PutArgs {
    /// Workspace of the schedule
    workspace: String,
    /// Name of the schedule: 1-64 characters of a-z, 0-9 and '-', starting with a letter
    name: String,
    /// The agent that runs its tasks
    #[arg(long)]
    agent: String,
    /// Five fields (minute hour day-of-month month day-of-week), or six with seconds first
    #[arg(long)]
    cron: String,
    /// An IANA time zone name, e.g. Europe/Paris or UTC
    #[arg(long, default_value = "UTC")]
    timezone: String,
    /// The input of every task it submits; `-` reads it from standard input
    #[arg(long)]
    input: String,
    /// What happens to due times missed while no leader could fire them
    #[arg(long, value_enum, default_value = "skip")]
    catch_up: CatchUpArg,
    /// Put it paused: it fires nothing until put again without --paused
    #[arg(long)]
    paused: bool,
    /// The version being replaced (as `schedule list` shows it); 0 creates it
    #[arg(long, default_value_t = 0)]
    version: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CatchUpArg {
    /// Record missed due times as skipped; run none of them
    Skip,
    /// Run the latest missed due time once
    #[value(name = "run-once", alias = "run_once")]
    RunOnce,
}

pub async fn run(
    client: &Client,
    format: Format,
    command: ScheduleCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        ScheduleCommand::Put(args) => {
            let input = text_or_stdin(args.input).context("read the input")?;
            let schedule = Schedule {
                workspace: args.workspace.clone(),
                name: args.name.clone(),
                cron: args.cron,
                timezone: args.timezone,
                agent: args.agent,
                input,
                catch_up: match args.catch_up {
                    CatchUpArg::Skip => "skip",
                    CatchUpArg::RunOnce => "run_once",
                }
                .to_owned(),
                paused: args.paused,
                ..Schedule::default()
            };
            let put = client
                .put_schedule(schedule, args.version)
                .await
                .with_context(|| format!("put schedule {} of {}", args.name, args.workspace))?
                .schedule
                .unwrap_or_default();
            match format {
                Format::Table => emit(&format!(
                    "schedule {} is at version {}; next due {}\n",
                    put.name,
                    put.version,
                    format_time_ms(put.next_due_at_ms)
                ))?,
                Format::Json => emit_json(&schedule_json(&put))?,
            }
        }
        ScheduleCommand::List { workspace, read } => {
            let schedules = client
                .list_schedules(workspace.clone(), read.consistency())
                .await
                .with_context(|| format!("list the schedules of {workspace}"))?
                .schedules;
            match format {
                Format::Table => emit(&render(&schedules))?,
                Format::Json => emit_json(&json!({
                    "schedules": schedules.iter().map(schedule_json).collect::<Vec<_>>(),
                }))?,
            }
        }
        ScheduleCommand::Delete { workspace, name } => {
            let deleted = client
                .delete_schedule(workspace.clone(), name.clone())
                .await
                .with_context(|| format!("delete schedule {name} of {workspace}"))?
                .schedule
                .unwrap_or_default();
            match format {
                Format::Table => emit(&format!("deleted schedule {name}\n"))?,
                Format::Json => emit_json(&schedule_json(&deleted))?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn render(schedules: &[Schedule]) -> String {
    let mut table = Table::new(vec![
        "NAME", "CRON", "ZONE", "AGENT", "CATCH-UP", "NEXT DUE", "FIRED", "SKIPPED", "VERSION",
    ]);
    for schedule in schedules {
        table.push(vec![
            match schedule.paused {
                true => format!("{} (paused)", schedule.name),
                false => schedule.name.clone(),
            },
            shorten(&schedule.cron, 24),
            schedule.timezone.clone(),
            schedule.agent.clone(),
            schedule.catch_up.clone(),
            format_time_ms(schedule.next_due_at_ms),
            schedule.fired.to_string(),
            schedule.skipped.to_string(),
            schedule.version.to_string(),
        ]);
    }
    table.render()
}

fn schedule_json(schedule: &Schedule) -> Value {
    json!({
        "workspace": schedule.workspace,
        "name": schedule.name,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "agent": schedule.agent,
        "input": schedule.input,
        "catch_up": schedule.catch_up,
        "paused": schedule.paused,
        "version": schedule.version,
        "updated_at_ms": schedule.updated_at_ms,
        "updated_by": schedule.updated_by,
        "last_due_at_ms": schedule.last_due_at_ms,
        "next_due_at_ms": schedule.next_due_at_ms,
        "fired": schedule.fired,
        "skipped": schedule.skipped,
        "last_task_id": schedule.last_task_id,
    })
}
