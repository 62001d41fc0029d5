//! `wardenctl bench steps`: agent tasks of K tool-calling steps against the scripted
//! model server (a test double speaking the OpenAI wire protocol, started here as a
//! child process) and the ledger server's `noop` tool, reporting the time per step and
//! completed tasks per second.
//!
//! Per-step time is measured from each task's journal: from its first model answer to
//! its completion, divided by the steps in between. With the model and the tool on
//! loopback (each well under a millisecond), it is dominated by the journaling: two
//! Raft commits per step (the model response, which also journals the call as started,
//! and the call's result).

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;
use tokio::task::JoinSet;
use tonic::Code;
use warden_client::Client;
use warden_proto::v1::{
    Agent, AgentLimits, CatalogEntry, McpServer, Provider, TaskStatus, ToolGrant,
};

use crate::output::{Format, emit, emit_json, render_fields};

#[derive(Debug, Args)]
pub struct StepsArgs {
    /// Workspace to run in (created if missing)
    #[arg(long, short, default_value = "bench")]
    workspace: String,
    /// Tool-calling steps per task
    #[arg(long, short = 'k', default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    steps: u32,
    /// Tasks to run
    #[arg(long, short = 'n', default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    tasks: u32,
    /// Tasks running at once
    #[arg(long, short, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    concurrency: u32,
    /// The scripted model server binary [default: warden-scripted-model next to wardenctl]
    #[arg(long)]
    model_binary: Option<PathBuf>,
    /// The ledger tool server binary, as the nodes can run it [default:
    /// warden-ledger-tools next to wardenctl]
    #[arg(long)]
    tools_binary: Option<PathBuf>,
}

fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating wardenctl")?;
    Ok(exe.with_file_name(name))
}

/// Starts the scripted model with a script of `steps` noop calls; returns the child
/// (killed on drop) and its base URL.
async fn start_model(
    binary: &Path,
    dir: &Path,
    steps: u32,
) -> anyhow::Result<(tokio::process::Child, String)> {
    let script = json!({
        "steps": (0..steps).map(|_| json!({"tool_calls": [{"name": "tools__noop", "arguments": {}}]})).collect::<Vec<_>>(),
        "final": "done",
    });
    let script_path = dir.join("script.json");
    std::fs::write(&script_path, script.to_string()).context("writing the script")?;
    let ready = dir.join("model-ready");
    let child = tokio::process::Command::new(binary)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--script")
        .arg(&script_path)
        .arg("--ready-file")
        .arg(&ready)
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(url) = std::fs::read_to_string(&ready)
            && !url.trim().is_empty()
        {
            return Ok((child, url.trim().to_owned()));
        }
        if Instant::now() > deadline {
            bail!("the scripted model server did not start within 20s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn run(client: &Client, format: Format, args: StepsArgs) -> anyhow::Result<ExitCode> {
    let model_binary = match args.model_binary.clone() {
        Some(path) => path,
        None => sibling("warden-scripted-model")?,
    };
    let tools_binary = match args.tools_binary.clone() {
        Some(path) => path,
        None => sibling("warden-ledger-tools")?,
    };
    let dir = std::env::temp_dir().join(format!("wardenctl-bench-steps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let (_model, model_url) = start_model(&model_binary, &dir, args.steps).await?;

    match client.create_workspace(args.workspace.clone()).await {
        Err(error) if error.code() == Some(Code::AlreadyExists) => {}
        other => {
            other.with_context(|| format!("create workspace {}", args.workspace))?;
        }
    }
    let run_id = format!("{:08x}", rand::random::<u32>());
    let provider = format!("bench-model-{run_id}");
    client
        .put_provider(Provider {
            workspace: args.workspace.clone(),
            name: provider.clone(),
            kind: "openai".into(),
            base_url: model_url,
            model: "scripted".into(),
            request_timeout_ms: 30_000,
            max_output_tokens: 256,
            ..Default::default()
        })
        .await
        .context("put the provider")?;
    // Stdio servers come from the cluster catalog (so this needs a cluster admin's
    // token): an entry for this run's ledger, writing into this run's directory only.
    let entry = format!("bench-ledger-{run_id}");
    client
        .put_catalog_entry(CatalogEntry {
            name: entry.clone(),
            description: "wardenctl bench steps: the ledger tool server".into(),
            executable: tools_binary.display().to_string(),
            args: vec![
                "--ledger".into(),
                dir.join("ledger.jsonl").display().to_string(),
            ],
            write_paths: vec![dir.display().to_string()],
            ..Default::default()
        })
        .await
        .context("put the ledger's catalog entry (needs a cluster admin's token)")?;
    client
        .register_mcp_server(McpServer {
            workspace: args.workspace.clone(),
            name: "tools".into(),
            catalog: entry,
            ..Default::default()
        })
        .await
        .context("register the ledger tool server")?;
    let agent = format!("bench-steps-{run_id}");
    client
        .create_agent(Agent {
            workspace: args.workspace.clone(),
            name: agent.clone(),
            provider,
            tools: vec![ToolGrant {
                server: "tools".into(),
                tool: "noop".into(),
                retry_safe: None,
            }],
            limits: Some(AgentLimits {
                max_steps: args.steps + 1,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .context("create the agent")?;

    let started = Instant::now();
    let mut running = JoinSet::new();
    let mut per_step_ms: Vec<f64> = Vec::with_capacity(args.tasks as usize);
    let mut failed = 0u32;
    for n in 0..args.tasks {
        if running.len() >= args.concurrency as usize {
            collect(running.join_next().await, &mut per_step_ms, &mut failed)?;
        }
        let client = client.clone();
        let (workspace, agent, key) = (
            args.workspace.clone(),
            agent.clone(),
            format!("{run_id}-{n}"),
        );
        running.spawn(async move { one_task(&client, &workspace, &agent, key).await });
    }
    while let Some(joined) = running.join_next().await {
        collect(Some(joined), &mut per_step_ms, &mut failed)?;
    }
    let elapsed = started.elapsed();
    let _ = std::fs::remove_dir_all(&dir);

    per_step_ms.sort_by(f64::total_cmp);
    let quantile = |q: f64| -> f64 {
        if per_step_ms.is_empty() {
            return 0.0;
        }
        let rank = ((per_step_ms.len() as f64 - 1.0) * q).round() as usize;
        per_step_ms[rank.min(per_step_ms.len() - 1)]
    };
    let completed = per_step_ms.len();
    let report = json!({
        "tasks": args.tasks,
        "steps_per_task": args.steps,
        "concurrency": args.concurrency,
        "completed": completed,
        "failed": failed,
        "seconds": elapsed.as_secs_f64(),
        "completed_per_second": completed as f64 / elapsed.as_secs_f64(),
        "per_step_ms_p50": quantile(0.5),
        "per_step_ms_p99": quantile(0.99),
    });
    match format {
        Format::Json => emit_json(&report)?,
        Format::Table => emit(&render_fields(&[
            (
                "tasks",
                format!("{completed} completed, {failed} failed of {}", args.tasks),
            ),
            ("steps per task", args.steps.to_string()),
            ("concurrency", args.concurrency.to_string()),
            (
                "completed/s",
                format!("{:.1}", completed as f64 / elapsed.as_secs_f64()),
            ),
            ("per step p50", format!("{:.2} ms", quantile(0.5))),
            ("per step p99", format!("{:.2} ms", quantile(0.99))),
        ]))?,
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

type TaskResult = anyhow::Result<Option<f64>>;

fn collect(
    joined: Option<Result<TaskResult, tokio::task::JoinError>>,
    per_step_ms: &mut Vec<f64>,
    failed: &mut u32,
) -> anyhow::Result<()> {
    match joined {
        None => Ok(()),
        Some(joined) => match joined.context("a bench task panicked")?? {
            Some(ms) => {
                per_step_ms.push(ms);
                Ok(())
            }
            None => {
                *failed += 1;
                Ok(())
            }
        },
    }
}

/// Runs one task to its end; its time per model turn from the journal, or `None` if it
/// did not complete.
async fn one_task(client: &Client, workspace: &str, agent: &str, key: String) -> TaskResult {
    let submitted = client
        .submit_task(workspace, agent, "run the noop steps", Some(key))
        .await
        .context("submit")?;
    let id = submitted
        .response
        .task
        .context("no task in the response")?
        .id;
    let settled = client
        .wait_task(workspace, &id, Duration::from_secs(120))
        .await
        .context("wait")?;
    let task = settled.task.context("no task in the response")?;
    if task.status != i32::from(TaskStatus::Completed) {
        return Ok(None);
    }
    let journal = client
        .get_journal(
            workspace,
            &id,
            0,
            0,
            warden_client::Consistency::Linearizable,
        )
        .await
        .context("journal")?
        .events;
    // From the first model answer to the completion: every interval in between is one
    // whole step (tool call, its commit, the next model call, its commit). The time
    // from the assignment to the first answer is the task's start-up, not a step.
    let first_answer = journal
        .iter()
        .find(|event| event.kind == "model_responded")
        .map(|event| event.time_ms);
    let completed = journal
        .iter()
        .find(|event| event.kind == "completed")
        .map(|event| event.time_ms);
    match (first_answer, completed) {
        (Some(from), Some(to)) if task.turns > 1 => Ok(Some(
            to.saturating_sub(from) as f64 / f64::from(task.turns - 1),
        )),
        _ => Ok(None),
    }
}
