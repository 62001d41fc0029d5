//! `wardenctl task ...`: submitting, inspecting and listing tasks.

use std::io::Read;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use warden_client::Client;
use warden_client::proto::Task;

use crate::args::ReadArgs;
use crate::json;
use crate::output::{
    Format, Table, emit, emit_json, format_time_ms, render_fields, shorten, task_status_name,
};

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Submit a task and print its id
    ///
    /// Retries are safe: every attempt carries the same idempotency key, so the task is
    /// created at most once.
    Submit {
        /// Workspace to submit to
        #[arg(long, short)]
        workspace: String,
        /// The task's input; `-` reads it verbatim from standard input
        #[arg(long)]
        input: String,
        /// 1-128 printable ASCII characters. Submitting again with the same key and input
        /// returns the existing task (ALREADY_EXISTS with another input). Default: a new
        /// random key, so separate invocations create separate tasks
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Show one task
    Get {
        /// Workspace of the task
        #[arg(long, short)]
        workspace: String,
        /// Task id, as printed by `task submit`
        id: String,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// List the tasks of a workspace, one page at a time
    List {
        /// Workspace to list
        #[arg(long, short)]
        workspace: String,
        /// Tasks per page, at most 1000
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
        page_size: u32,
        /// Continue from this token, printed (to stderr) after a page that has more
        #[arg(long)]
        page_token: Option<String>,
        /// Fetch every page up to the last
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        read: ReadArgs,
    },
}

pub async fn run(
    client: &Client,
    format: Format,
    command: TaskCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        TaskCommand::Submit {
            workspace,
            input,
            idempotency_key,
        } => {
            let input = if input == "-" {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("read the input from stdin")?;
                text
            } else {
                input
            };
            let submitted = client
                .submit_task(workspace.clone(), input, idempotency_key)
                .await
                .with_context(|| format!("submit task to workspace {workspace}"))?;
            let task = submitted.response.task.unwrap_or_default();
            match format {
                Format::Table => {
                    if submitted.response.deduplicated {
                        eprintln!(
                            "note: the idempotency key matched an existing task; nothing new was created"
                        );
                    }
                    emit(&format!("{}\n", task.id))?;
                }
                Format::Json => emit_json(&json!({
                    "task": json::task(&task),
                    "deduplicated": submitted.response.deduplicated,
                    "idempotency_key": submitted.idempotency_key,
                }))?,
            }
        }
        TaskCommand::Get {
            workspace,
            id,
            read,
        } => {
            let response = client
                .get_task(workspace.clone(), id.clone(), read.consistency())
                .await
                .with_context(|| format!("get task {id} of workspace {workspace}"))?;
            let task = response.task.unwrap_or_default();
            match format {
                Format::Table => emit(&render_task(&task))?,
                Format::Json => emit_json(&json::task(&task))?,
            }
        }
        TaskCommand::List {
            workspace,
            page_size,
            page_token,
            all,
            read,
        } => {
            let mut page_token = page_token.unwrap_or_default();
            let mut tasks = Vec::new();
            loop {
                let page = client
                    .list_tasks(
                        workspace.clone(),
                        page_size,
                        page_token.clone(),
                        read.consistency(),
                    )
                    .await
                    .with_context(|| format!("list tasks of workspace {workspace}"))?;
                tasks.extend(page.tasks);
                page_token = page.next_page_token;
                if !all || page_token.is_empty() {
                    break;
                }
            }
            match format {
                Format::Table => {
                    emit(&render_task_list(&tasks))?;
                    if !page_token.is_empty() {
                        eprintln!(
                            "more tasks: continue with --page-token {page_token}, or use --all"
                        );
                    }
                }
                Format::Json => emit_json(&json!({
                    "tasks": tasks.iter().map(json::task).collect::<Vec<_>>(),
                    "next_page_token": page_token,
                }))?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn render_task(task: &Task) -> String {
    render_fields(&[
        ("id", task.id.clone()),
        ("workspace", task.workspace.clone()),
        ("status", task_status_name(task.status)),
        ("submitted at", format_time_ms(task.submitted_at_ms)),
        ("submitted by", task.submitted_by.clone()),
        ("log index", task.log_index.to_string()),
        ("idempotency key", task.idempotency_key.clone()),
        ("input hash", task.input_hash.clone()),
        ("input", task.input.clone()),
    ])
}

fn render_task_list(tasks: &[Task]) -> String {
    let mut table = Table::new(vec!["ID", "STATUS", "SUBMITTED", "BY", "INPUT"]);
    for task in tasks {
        table.push(vec![
            task.id.clone(),
            task_status_name(task.status),
            format_time_ms(task.submitted_at_ms),
            task.submitted_by.clone(),
            shorten(&task.input, 40),
        ]);
    }
    table.render()
}
