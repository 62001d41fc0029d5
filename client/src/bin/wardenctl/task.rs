//! `wardenctl task ...`: submitting, inspecting, listing, cancelling, resolving, waiting
//! for and following tasks.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use futures::StreamExt;
use serde_json::json;
use warden_client::proto::{TaskEvent, TaskStatus};
use warden_client::{Client, Consistency, Resolution, TaskFilter};

use crate::args::{ReadArgs, parse_duration, text_or_stdin};
use crate::output::{Format, emit, emit_json, format_duration_ms, task_status_name};
use crate::task_view::{emit_task, render_task, render_task_list};
use crate::{events, json};

/// Journal events asked for per `GetJournal` call: the server's maximum.
const JOURNAL_PAGE: u32 = 1000;

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Submit a task for an agent and print its id
    ///
    /// Retries are safe: every attempt carries the same idempotency key, so the task is
    /// created at most once.
    Submit {
        /// Workspace to submit to
        workspace: String,
        /// The agent that runs the task
        #[arg(long)]
        agent: String,
        /// The task's input; `-` reads it verbatim from standard input
        input: String,
        /// Idempotency key, 1-128 printable ASCII characters. Submitting again with the
        /// same key, agent and input returns the existing task (ALREADY_EXISTS with
        /// another agent or input). Default: a new random key, so separate invocations
        /// create separate tasks
        #[arg(long, visible_alias = "idempotency-key")]
        key: Option<String>,
    },
    /// Show one task: status, agent, owner, progress, result or reason, limits
    #[command(visible_alias = "show")]
    Get {
        /// Workspace of the task
        workspace: String,
        /// Task id, as printed by `task submit`
        id: String,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// List the tasks of a workspace, one page at a time
    List(ListArgs),
    /// Cancel a task that has not ended yet
    ///
    /// FAILED_PRECONDITION if it has ended already. Not retried once a node may have
    /// received it: if the outcome is unknown (UNAVAILABLE), check with `task get`.
    Cancel {
        /// Workspace of the task
        workspace: String,
        /// Task id
        id: String,
        /// Why, recorded with the task and in its journal
        #[arg(long)]
        reason: Option<String>,
    },
    /// Decide for a task that needs attention after an interrupted tool call
    ///
    /// Not retried once a node may have received it: if the outcome is unknown
    /// (UNAVAILABLE), check with `task get` or `task journal` before deciding again.
    Resolve(ResolveArgs),
    /// Answer the question a task waits on (status waiting_for_input)
    ///
    /// The answer becomes the result of the agent's warden__ask_human call and the task
    /// runs again. Needs the approver or admin role in the workspace. Reads the task
    /// first and answers the question it waits on then (`task get` shows it); the answer
    /// names that question, so it never answers a later one. With --call, answers only
    /// if the question is that call's. Not retried once a node may have received it: if
    /// the outcome is unknown, check with `task get`.
    Answer {
        /// Workspace of the task
        workspace: String,
        /// Task id
        id: String,
        /// The answer; `-` reads it verbatim from standard input
        answer: String,
        /// The asking call's id: refuse to answer another call's question
        #[arg(long = "call", value_name = "CALL_ID")]
        call_id: Option<String>,
    },
    /// Wait until a task is settled: ended, waiting for approval, an answer or attention
    ///
    /// Prints the task as it is then. Exit status 0 when it settled, 1 when
    /// --wait-timeout passed first.
    Wait {
        /// Workspace of the task
        workspace: String,
        /// Task id
        id: String,
        /// How long to wait, e.g. 60s, 10m (named so because --timeout is the deadline
        /// of each request)
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        wait_timeout: Duration,
    },
    /// Show a task's journal: every step, in order
    ///
    /// Columns: sequence number, time, fencing epoch, event kind and a one-line summary
    /// of the event's detail (`--output json` has the full detail).
    Journal {
        /// Workspace of the task
        workspace: String,
        /// Task id
        id: String,
        /// First sequence number to show (the journal starts at 0)
        #[arg(long, default_value_t = 0)]
        from_seq: u64,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Follow a task's journal, one line per event as it happens, until the task ends
    ///
    /// Prints the stored events from --from-seq first, then each new one. When a node
    /// fails, the watch continues on another node without repeating or skipping an
    /// event. A result or failure reason too long for its line follows it whole, on a
    /// line of its own. With `--output json`, one JSON object per line.
    Watch {
        /// Workspace of the task
        workspace: String,
        /// Task id
        id: String,
        /// First sequence number to show (the journal starts at 0)
        #[arg(long, default_value_t = 0)]
        from_seq: u64,
    },
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Workspace to list
    workspace: String,
    /// Only tasks marked stalled (no journal progress within their stall timeout)
    #[arg(long)]
    stalled: bool,
    /// Only tasks in this status
    #[arg(long, value_enum)]
    status: Option<StatusArg>,
    /// Tasks per page, at most 1000
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    page_size: u32,
    /// Continue from this token, printed (to stderr) after a page that has more; give the
    /// same filters again
    #[arg(long)]
    page_token: Option<String>,
    /// Fetch every page up to the last
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    read: ReadArgs,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("decision").required(true).args(["retry", "skip_with", "fail"])))]
pub struct ResolveArgs {
    /// Workspace of the task
    workspace: String,
    /// Task id
    id: String,
    /// Run the interrupted tool call again
    #[arg(long)]
    retry: bool,
    /// Do not run the call again; give the model RESULT as its output
    #[arg(long, value_name = "RESULT")]
    skip_with: Option<String>,
    /// Fail the task with REASON
    #[arg(long, value_name = "REASON")]
    fail: Option<String>,
}

/// `--status`: a task status, named as the output shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    Pending,
    Running,
    #[value(name = "waiting_approval", alias = "waiting-approval")]
    WaitingApproval,
    #[value(name = "needs_attention", alias = "needs-attention")]
    NeedsAttention,
    Completed,
    Failed,
    Cancelled,
    #[value(name = "timed_out", alias = "timed-out")]
    TimedOut,
    #[value(name = "waiting_for_input", alias = "waiting-for-input")]
    WaitingForInput,
    #[value(name = "waiting_for_child", alias = "waiting-for-child")]
    WaitingForChild,
}

impl From<StatusArg> for TaskStatus {
    fn from(status: StatusArg) -> Self {
        match status {
            StatusArg::Pending => TaskStatus::Pending,
            StatusArg::Running => TaskStatus::Running,
            StatusArg::WaitingApproval => TaskStatus::WaitingApproval,
            StatusArg::NeedsAttention => TaskStatus::NeedsAttention,
            StatusArg::Completed => TaskStatus::Completed,
            StatusArg::Failed => TaskStatus::Failed,
            StatusArg::Cancelled => TaskStatus::Cancelled,
            StatusArg::TimedOut => TaskStatus::TimedOut,
            StatusArg::WaitingForInput => TaskStatus::WaitingForInput,
            StatusArg::WaitingForChild => TaskStatus::WaitingForChild,
        }
    }
}

pub async fn run(
    client: &Client,
    format: Format,
    command: TaskCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        TaskCommand::Submit {
            workspace,
            agent,
            input,
            key,
        } => submit(client, format, workspace, agent, input, key).await,
        TaskCommand::Get {
            workspace,
            id,
            read,
        } => {
            let response = client
                .get_task(workspace.clone(), id.clone(), read.consistency())
                .await
                .with_context(|| format!("get task {id} of workspace {workspace}"))?;
            emit_task(format, &response.task.unwrap_or_default())?;
            Ok(ExitCode::SUCCESS)
        }
        TaskCommand::List(args) => list(client, format, args).await,
        TaskCommand::Cancel {
            workspace,
            id,
            reason,
        } => {
            let response = client
                .cancel_task(workspace.clone(), id.clone(), reason.unwrap_or_default())
                .await
                .with_context(|| format!("cancel task {id} of workspace {workspace}"))?;
            let task = response.task.unwrap_or_default();
            match format {
                Format::Table => {
                    emit(&format!("task {id} is {}\n", task_status_name(task.status)))?
                }
                Format::Json => emit_json(&json::task(&task))?,
            }
            Ok(ExitCode::SUCCESS)
        }
        TaskCommand::Resolve(args) => resolve(client, format, args).await,
        TaskCommand::Answer {
            workspace,
            id,
            answer,
            call_id,
        } => {
            let answer = text_or_stdin(answer).context("read the answer")?;
            let task = client
                .get_task(workspace.clone(), id.clone(), Consistency::Linearizable)
                .await
                .with_context(|| format!("get task {id} of workspace {workspace}"))?
                .task
                .unwrap_or_default();
            let Some(question) = task.question else {
                anyhow::bail!(
                    "task {id} is {} and waits on no question",
                    task_status_name(task.status)
                );
            };
            if let Some(call_id) = call_id.filter(|call_id| *call_id != question.call_id) {
                anyhow::bail!(
                    "task {id} waits on the question of call {}, not {call_id}",
                    question.call_id
                );
            }
            let response = client
                .answer_question(workspace.clone(), id.clone(), &question, answer)
                .await
                .with_context(|| format!("answer call {} of task {id}", question.call_id))?;
            let task = response.task.unwrap_or_default();
            match format {
                Format::Table => emit(&format!(
                    "answered call {}; task {id} is {}\n",
                    question.call_id,
                    task_status_name(task.status)
                ))?,
                Format::Json => emit_json(&json::task(&task))?,
            }
            Ok(ExitCode::SUCCESS)
        }
        TaskCommand::Wait {
            workspace,
            id,
            wait_timeout,
        } => wait(client, format, workspace, id, wait_timeout).await,
        TaskCommand::Journal {
            workspace,
            id,
            from_seq,
            read,
        } => {
            let mut events: Vec<TaskEvent> = Vec::new();
            let mut next_seq = from_seq;
            loop {
                let page = client
                    .get_journal(
                        workspace.clone(),
                        id.clone(),
                        next_seq,
                        JOURNAL_PAGE,
                        read.consistency(),
                    )
                    .await
                    .with_context(|| format!("get the journal of task {id}"))?;
                let Some(last) = page.events.last() else {
                    break;
                };
                next_seq = last.seq + 1;
                events.extend(page.events);
            }
            match format {
                Format::Table => emit(&events::render_table(&events))?,
                Format::Json => emit_json(&json!({
                    "events": events.iter().map(json::task_event).collect::<Vec<_>>(),
                }))?,
            }
            Ok(ExitCode::SUCCESS)
        }
        TaskCommand::Watch {
            workspace,
            id,
            from_seq,
        } => {
            let watch = client.watch_task(workspace.clone(), id.clone(), from_seq);
            futures::pin_mut!(watch);
            while let Some(event) = watch.next().await {
                let event = event.with_context(|| format!("watch task {id}"))?;
                match format {
                    Format::Table => emit(&events::render_line(&event))?,
                    Format::Json => emit(&format!("{}\n", json::task_event(&event)))?,
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn submit(
    client: &Client,
    format: Format,
    workspace: String,
    agent: String,
    input: String,
    key: Option<String>,
) -> anyhow::Result<ExitCode> {
    let input = text_or_stdin(input).context("read the input")?;
    let submitted = client
        .submit_task(workspace.clone(), agent, input, key)
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
    Ok(ExitCode::SUCCESS)
}

async fn list(client: &Client, format: Format, args: ListArgs) -> anyhow::Result<ExitCode> {
    let ListArgs {
        workspace,
        stalled,
        status,
        page_size,
        page_token,
        all,
        read,
    } = args;
    let filter = TaskFilter {
        stalled_only: stalled,
        status: status.map(TaskStatus::from),
    };
    let mut page_token = page_token.unwrap_or_default();
    let mut tasks = Vec::new();
    loop {
        let page = client
            .list_tasks_matching(
                workspace.clone(),
                filter,
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
                eprintln!("more tasks: continue with --page-token {page_token}, or use --all");
            }
        }
        Format::Json => emit_json(&json!({
            "tasks": tasks.iter().map(json::task).collect::<Vec<_>>(),
            "next_page_token": page_token,
        }))?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn resolve(client: &Client, format: Format, args: ResolveArgs) -> anyhow::Result<ExitCode> {
    let ResolveArgs {
        workspace,
        id,
        retry,
        skip_with,
        fail,
    } = args;
    // The argument group admits exactly one of the three.
    let resolution = match (retry, skip_with, fail) {
        (_, Some(result), _) => Resolution::SkipWithResult(result),
        (_, _, Some(reason)) => Resolution::Fail(reason),
        _ => Resolution::Retry,
    };
    let response = client
        .resolve_task(workspace.clone(), id.clone(), resolution)
        .await
        .with_context(|| format!("resolve task {id} of workspace {workspace}"))?;
    let task = response.task.unwrap_or_default();
    match format {
        Format::Table => emit(&format!("task {id} is {}\n", task_status_name(task.status)))?,
        Format::Json => emit_json(&json::task(&task))?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn wait(
    client: &Client,
    format: Format,
    workspace: String,
    id: String,
    wait_timeout: Duration,
) -> anyhow::Result<ExitCode> {
    let response = client
        .wait_task(workspace.clone(), id.clone(), wait_timeout)
        .await
        .with_context(|| format!("wait for task {id} of workspace {workspace}"))?;
    let task = response.task.unwrap_or_default();
    match format {
        Format::Table => {
            emit(&render_task(&task))?;
            if !response.settled {
                eprintln!(
                    "not settled within {}: the task is {}",
                    format_duration_ms(u64::try_from(wait_timeout.as_millis()).unwrap_or(u64::MAX)),
                    task_status_name(task.status)
                );
            }
        }
        Format::Json => emit_json(&json!({
            "task": json::task(&task),
            "settled": response.settled,
        }))?,
    }
    Ok(if response.settled {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
