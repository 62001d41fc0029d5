//! `warden demo`: Warden's main job end to end. A local 3-node cluster runs an agent
//! task of six tool-calling steps against a model (the scripted model server, a named
//! test double speaking the OpenAI wire protocol, unless a real endpoint is configured)
//! and the bundled ledger MCP server. Mid-task the node running it is SIGKILLed; the
//! task resumes on another node from its journal and completes. The demo then prints
//! the journal, checks the tool server's own ledger (every finished step ran exactly
//! once), runs a second task through the governance path (`governance.rs`: a call
//! allowed, one denied, one approved by a second principal), a third where one agent
//! delegates to another, which asks a person (`network.rs`), and verifies the audit
//! chain on every live node. It exits non-zero if any of that does not hold.

mod governance;
mod network;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use warden_client::{Client, Consistency};
use warden_local_cluster::LocalCluster;
use warden_proto::v1::{
    Agent, AgentLimits, McpServer, Provider, Task, TaskEvent, TaskStatus, ToolGrant,
};
use warden_providers::scripted::ScriptedModel;

const WORKSPACE: &str = "demo";
const STEPS: usize = 6;
/// The step after which the task's node is killed.
const KILL_AFTER_STEP: usize = 3;

pub async fn run(data_dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let temporary;
    let base = match data_dir {
        Some(dir) => dir,
        None => {
            temporary = std::env::temp_dir().join(format!("warden-demo-{}", std::process::id()));
            temporary.clone()
        }
    };
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    let exe = std::env::current_exe().context("locating the warden binary")?;
    // Short leases so the failover is quick to watch.
    let settings = vec![
        ("runtime.lease".to_owned(), "2s".to_owned()),
        ("runtime.heartbeat_interval".to_owned(), "300ms".to_owned()),
    ];
    let mut cluster = LocalCluster::new(exe.clone(), &base, settings);
    let result = narrate(&mut cluster, &exe, &base).await;
    cluster.stop_all().await?;
    println!("\nnode data and logs are in {}", base.display());
    result
}

/// Where the model comes from: a real OpenAI-compatible endpoint when one is
/// configured in the environment, else the scripted model server.
enum Model {
    Scripted(warden_providers::scripted::ScriptedModelHandle),
    Real {
        base_url: String,
        model: String,
        /// Read here from the demo's environment and stored sealed with the provider, so
        /// the nodes read no environment variable for it.
        api_key: Option<String>,
    },
}

async fn model() -> anyhow::Result<Model> {
    if let Ok(base_url) = std::env::var("OPENAI_BASE_URL") {
        let model = std::env::var("OPENAI_MODEL").unwrap_or_else(|_| "gpt-4o-mini".to_owned());
        return Ok(Model::Real {
            base_url,
            model,
            api_key: std::env::var("OPENAI_API_KEY").ok(),
        });
    }
    if let Ok(api_key) = std::env::var("OPENAI_API_KEY") {
        let model = std::env::var("OPENAI_MODEL").unwrap_or_else(|_| "gpt-4o-mini".to_owned());
        return Ok(Model::Real {
            base_url: "https://api.openai.com/v1".to_owned(),
            model,
            api_key: Some(api_key),
        });
    }
    if let Ok(host) = std::env::var("OLLAMA_HOST") {
        let host = if host.starts_with("http") {
            host
        } else {
            format!("http://{host}")
        };
        let model = std::env::var("OLLAMA_MODEL").unwrap_or_else(|_| "llama3.1".to_owned());
        return Ok(Model::Real {
            base_url: format!("{}/v1", host.trim_end_matches('/')),
            model,
            api_key: None,
        });
    }
    let steps: Vec<serde_json::Value> = (1..=STEPS)
        .map(|n| {
            serde_json::json!({
                "tool_calls": [{"name": "ledger__put", "arguments": {"key": format!("step-{n}"), "value": format!("done {n}"), "delay_ms": 400}}],
                "content": format!("recording step {n}"),
                "output_tokens": 20
            })
        })
        .collect();
    let script = serde_json::from_value(serde_json::json!({
        "steps": steps,
        "final": format!("all {STEPS} steps are recorded in the ledger"),
    }))
    .context("building the demo script")?;
    let handle = ScriptedModel::start(script, "127.0.0.1:0".parse()?)
        .await
        .context("starting the scripted model server")?;
    Ok(Model::Scripted(handle))
}

async fn narrate(cluster: &mut LocalCluster, exe: &Path, base: &Path) -> anyhow::Result<ExitCode> {
    step("starting a 3-node cluster (3 processes on loopback)");
    cluster.bootstrap(3).await?;
    let leader = cluster.wait_for_leader(Duration::from_secs(30)).await?;
    for id in 1..=3 {
        println!("  node {id} at {}", cluster.endpoint(id)?);
    }
    println!("  leader: node {leader}");

    let model = model().await?;
    let (base_url, model_name, api_key) = match &model {
        Model::Scripted(handle) => {
            println!(
                "  scripted model server (test double, OpenAI wire protocol) at {}",
                handle.base_url()
            );
            (handle.base_url(), "scripted".to_owned(), None)
        }
        Model::Real {
            base_url,
            model,
            api_key,
        } => {
            println!("  using the real model {model} at {base_url}");
            (base_url.clone(), model.clone(), api_key.clone())
        }
    };
    // Apart from the nodes' data directories and the master key, which a node refuses
    // to let a tool server reach.
    let tools_dir = base.join("tools");
    let ledger = tools_dir.join("ledger.jsonl");
    let tools_binary = exe.with_file_name("warden-ledger-tools");

    step("configuring workspace \"demo\": policy, provider, MCP server, agent");
    let client = cluster.client()?;
    if let Err(error) = client.create_workspace(WORKSPACE).await
        && error.code() != Some(tonic::Code::AlreadyExists)
    {
        return Err(error.into());
    }
    client
        .put_provider(Provider {
            workspace: WORKSPACE.into(),
            name: "model".into(),
            kind: "openai".into(),
            base_url,
            model: model_name,
            api_key: api_key.unwrap_or_default(),
            request_timeout_ms: 60_000,
            max_retries: 2,
            max_output_tokens: 512,
            ..Default::default()
        })
        .await
        .context("putting the model provider")?;
    governance::put_policy(&client).await?;
    // Stdio servers come from the cluster catalog: the admin puts the ledger's entry.
    warden_local_cluster::tool_catalog::put_ledger_entry(
        &client,
        "ledger",
        &tools_binary,
        &tools_dir,
    )
    .await?;
    let server = client
        .register_mcp_server(McpServer {
            workspace: WORKSPACE.into(),
            name: "ledger".into(),
            catalog: "ledger".into(),
            args: vec!["--ledger".into(), ledger.display().to_string()],
            ..Default::default()
        })
        .await
        .context("registering the ledger MCP server")?
        .server
        .context("no server in the response")?;
    for tool in &server.tools {
        println!(
            "  pinned ledger/{:<8} read_only={:<5} idempotent={:<5} {}",
            tool.name,
            tool.read_only,
            tool.idempotent,
            &tool.definition_hash[..16]
        );
    }
    let agent_name = format!("recorder-{}", std::process::id());
    client
        .create_agent(Agent {
            workspace: WORKSPACE.into(),
            name: agent_name.clone(),
            instructions: format!(
                "Record steps 1 to {STEPS} in the ledger with ledger__put, one call per step, key step-N, then say you are done."
            ),
            provider: "model".into(),
            tools: vec![ToolGrant {
                server: "ledger".into(),
                tool: "put".into(),
                // Idempotent, so the call in flight at the kill may run again: said here,
                // as the tool's own annotation is not trusted by default.
                retry_safe: Some(true),
            }],
            limits: Some(AgentLimits {
                max_steps: 12,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .context("creating the agent")?;

    step(&format!("submitting a task of {STEPS} tool-calling steps"));
    let task = client
        .submit_task(
            WORKSPACE,
            agent_name,
            format!("record steps 1 to {STEPS}"),
            Some(format!("demo-{}", std::process::id())),
        )
        .await
        .context("submitting the task")?
        .response
        .task
        .context("no task in the response")?;
    println!("  task {}", task.id);

    let (owner, epoch) = wait_for_step(&client, &task.id, KILL_AFTER_STEP).await?;
    step(&format!(
        "step {KILL_AFTER_STEP} is journaled: SIGKILL node {owner}, which runs the task"
    ));
    cluster.kill(owner).await?;
    let killed_at = Instant::now();
    // The client moves on from the dead node to a live one by itself.
    let (new_owner, resumed_after) = wait_for_resume(&client, &task.id, epoch, killed_at).await?;
    println!(
        "  node {new_owner} took the task over at epoch {} and journaled its next step {:.2?} after the kill",
        epoch + 1,
        resumed_after
    );

    let done = client
        .wait_task(WORKSPACE, &task.id, Duration::from_secs(120))
        .await
        .context("waiting for the task")?
        .task
        .context("no task in the response")?;
    println!(
        "  task is {} after {} model turns: {:?}",
        status_name(done.status),
        done.turns,
        done.result
    );

    step("the task's journal");
    let journal = journal(&client, &task.id).await?;
    for event in &journal {
        println!(
            "  #{:<3} epoch {:<2} {:<18} {}",
            event.seq,
            event.epoch,
            event.kind,
            short(&event.detail_json, 90)
        );
    }

    step(&format!("restarting node {owner}"));
    cluster.start_node(owner).await?;
    cluster.wait_converged(Duration::from_secs(30)).await?;

    step("the tool server's own ledger");
    let ledger_ok = check_ledger(&ledger, &journal)?;

    let approver = governance::approver_client(&client).await?;
    let governed_ok = governance::run(&client, &approver, &ledger).await?;
    let network_ok = network::run(&client, &approver).await?;

    step("verifying the audit chain on every node");
    let mut heads = Vec::new();
    for id in 1..=3 {
        let verdict = cluster
            .client_of(id)?
            .verify_audit(warden_client::Consistency::Linearizable)
            .await?;
        println!(
            "  node {id}: {} - {} records, head {}",
            if verdict.ok { "ok" } else { "FAILED" },
            verdict.record_count,
            verdict.head_hash
        );
        heads.push((verdict.ok, verdict.head_hash));
    }
    let audit_ok = heads.iter().all(|head| head.0 && *head == heads[0]);
    let completed = done.status == i32::from(TaskStatus::Completed) && new_owner != owner;
    drop(model);
    if completed && ledger_ok && governed_ok && network_ok && audit_ok {
        println!(
            "\ndemo complete: the task survived the death of its node, resumed {resumed_after:.2?} after the kill, ran every finished step once; the policy allowed, denied and held a call for approval, which a second principal granted; an agent handed work to another, which asked a person and passed the answer back; and every node holds the same verified audit chain"
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "\ndemo FAILED: completed={completed} ledger_ok={ledger_ok} governed_ok={governed_ok} network_ok={network_ok} audit_ok={audit_ok}"
        );
        Ok(ExitCode::from(1))
    }
}

async fn get_task(client: &Client, id: &str) -> anyhow::Result<Task> {
    client
        .get_task(WORKSPACE, id, Consistency::Linearizable)
        .await
        .context("reading the task")?
        .task
        .context("no task in the response")
}

async fn journal(client: &Client, id: &str) -> anyhow::Result<Vec<TaskEvent>> {
    Ok(client
        .get_journal(WORKSPACE, id, 0, 0, Consistency::Linearizable)
        .await
        .context("reading the journal")?
        .events)
}

/// Waits until `step` tool calls finished; returns the owner and its epoch then.
async fn wait_for_step(client: &Client, id: &str, step: usize) -> anyhow::Result<(u64, u64)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let events = journal(client, id).await?;
        let finished = events
            .iter()
            .filter(|event| event.kind == "tool_call_finished")
            .count();
        let task = get_task(client, id).await?;
        if finished >= step && task.owner != 0 {
            for event in &events {
                println!(
                    "  #{:<3} {:<18} {}",
                    event.seq,
                    event.kind,
                    short(&event.detail_json, 80)
                );
            }
            return Ok((task.owner, task.epoch));
        }
        if task.status != i32::from(TaskStatus::Running)
            && task.status != i32::from(TaskStatus::Pending)
        {
            bail!(
                "the task ended before step {step}: {} {}",
                status_name(task.status),
                task.reason
            );
        }
        if Instant::now() > deadline {
            bail!("step {step} was not journaled within 60s");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until a node other than the dead owner journals a step at a newer epoch.
async fn wait_for_resume(
    client: &Client,
    id: &str,
    epoch: u64,
    killed_at: Instant,
) -> anyhow::Result<(u64, Duration)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(events) = journal(client, id).await {
            let resumed = events.iter().any(|event| {
                event.epoch > epoch && event.kind != "assigned" && event.kind != "needs_attention"
            });
            if resumed {
                let task = get_task(client, id).await?;
                return Ok((task.owner, killed_at.elapsed()));
            }
            if let Some(parked) = events.iter().find(|event| event.kind == "needs_attention") {
                bail!("the task needs attention: {}", parked.detail_json);
            }
        }
        if Instant::now() > deadline {
            bail!("the task did not resume within 60s of the kill");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Every call the journal shows finished appears in the ledger exactly once, except
/// a call that was in flight at the kill, which may have run once more (it is
/// idempotent and granted `retry_safe`, so it was retried).
fn check_ledger(path: &Path, journal: &[TaskEvent]) -> anyhow::Result<bool> {
    let entries = warden_mcp::read_ledger(path).context("reading the ledger")?;
    let mut ok = true;
    for n in 1..=STEPS {
        let key = format!("step-{n}");
        let runs = entries
            .iter()
            .filter(|entry| {
                entry.arguments.get("key").and_then(|value| value.as_str()) == Some(key.as_str())
            })
            .count();
        let retried = journal.iter().any(|event| {
            event.kind == "tool_call_started"
                && event.detail_json.contains("\"attempt\":2")
                && runs > 1
        });
        let verdict = match (runs, retried) {
            (1, _) => "ran once",
            (2, true) => "ran twice: in flight at the kill and retried (idempotent)",
            _ => {
                ok = false;
                "WRONG"
            }
        };
        println!(
            "  {key}: {runs} ledger entr{} - {verdict}",
            if runs == 1 { "y" } else { "ies" }
        );
    }
    Ok(ok)
}

fn status_name(status: i32) -> &'static str {
    TaskStatus::try_from(status).map_or("unknown", |status| status.as_str_name())
}

fn short(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &text[..cut])
}

fn step(text: &str) {
    println!("\n== {text}");
}
