//! The demo's third act, the governed agentic network: a coordinator agent hands work to
//! a researcher agent (`agent__<name>`, a child task of its own), the researcher asks a
//! person (`warden__ask_human`: its task waits as `waiting_for_input`), `user/approver`
//! answers, and the answer travels back up: the researcher's answer becomes the
//! coordinator's tool result, and the coordinator completes with it.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use warden_client::{Client, Consistency};
use warden_proto::v1::{Agent, AgentLimits, Provider, Task, TaskStatus, ToolGrant};
use warden_providers::scripted::{ScriptedModel, ScriptedModelHandle};

use super::{WORKSPACE, short, status_name, step};

const ANSWER: &str = "Q3, and leave out contractors";

/// Runs the third act; returns whether everything held.
pub async fn run(admin: &Client, approver: &Client) -> anyhow::Result<bool> {
    step("agents that ask people and hand work to each other");
    let pid = std::process::id();
    let (coordinator, researcher) = (format!("coordinator-{pid}"), format!("researcher-{pid}"));
    let coordinator_model = scripted(serde_json::json!({
        "steps": [{"tool_calls": [{"name": format!("agent__{researcher}"),
                                   "arguments": {"input": "{{input}}"}}],
                   "content": "handing the research to the researcher"}],
        "final": "report scoped: {{last_result}}",
    }))
    .await?;
    let researcher_model = scripted(serde_json::json!({
        "steps": [{"tool_calls": [{"name": "warden__ask_human",
                                   "arguments": {"question": "Which quarter should the payroll report cover?",
                                                 "expires_in_seconds": 600}}]}],
        "final": "{{last_result}}",
    }))
    .await?;
    create(
        admin,
        &coordinator,
        &coordinator_model,
        ("agent", &researcher),
    )
    .await?;
    create(
        admin,
        &researcher,
        &researcher_model,
        ("warden", "ask_human"),
    )
    .await?;
    println!(
        "  agents {coordinator} (may call agent/{researcher}) and {researcher} (may call warden/ask_human)"
    );

    let parent = admin
        .submit_task(
            WORKSPACE,
            coordinator.clone(),
            "prepare the payroll report".to_owned(),
            Some(format!("network-{pid}")),
        )
        .await
        .context("submitting the coordinator's task")?
        .response
        .task
        .context("no task in the response")?;
    println!("  task {} submitted to {coordinator}", parent.id);
    let waiting = until(admin, &parent.id, |task| !task.waiting_for_task.is_empty()).await?;
    println!(
        "  {}: delegated to {researcher} as task {}",
        status_name(waiting.status),
        waiting.waiting_for_task
    );
    let child_id = waiting.waiting_for_task.clone();
    let child = until(admin, &child_id, |task| task.question.is_some()).await?;
    let question = child.question.clone().context("the child's question")?;
    let lineage = child
        .parent
        .as_ref()
        .map(|parent| parent.lineage.join(" -> "));
    println!(
        "  child {child_id} ({}, agents above: {}) asks: {:?}",
        status_name(child.status),
        lineage.unwrap_or_default(),
        question.question
    );

    approver
        .answer_question(WORKSPACE, &child_id, &question, ANSWER)
        .await
        .context("answering as user/approver")?;
    println!("  user/approver answered: {ANSWER:?}");
    let done = admin
        .wait_task(WORKSPACE, &parent.id, Duration::from_secs(60))
        .await
        .context("waiting for the coordinator's task")?
        .task
        .context("no task in the response")?;
    println!(
        "  coordinator's task is {}: {:?}",
        status_name(done.status),
        short(&done.result, 120)
    );
    let child = get(admin, &child_id).await?;
    let expected = format!("report scoped: {ANSWER}");
    // GetTask shows a task's links (WaitTask does not).
    let children = get(admin, &parent.id).await?.children;
    println!(
        "  the researcher's task is {}; the coordinator's children: {}",
        status_name(child.status),
        children.join(", ")
    );
    Ok(done.status == i32::from(TaskStatus::Completed)
        && child.status == i32::from(TaskStatus::Completed)
        && done.result == expected
        && children == vec![child_id])
}

async fn scripted(script: serde_json::Value) -> anyhow::Result<ScriptedModelHandle> {
    let script = serde_json::from_value(script).context("building a script")?;
    ScriptedModel::start(script, "127.0.0.1:0".parse()?)
        .await
        .context("starting a scripted model server")
}

/// A provider on `model` and an agent of the same name granted `grant` (server, tool).
async fn create(
    admin: &Client,
    name: &str,
    model: &ScriptedModelHandle,
    grant: (&str, &str),
) -> anyhow::Result<()> {
    admin
        .put_provider(Provider {
            workspace: WORKSPACE.into(),
            name: name.into(),
            kind: "openai".into(),
            base_url: model.base_url(),
            model: "scripted".into(),
            request_timeout_ms: 60_000,
            max_output_tokens: 512,
            ..Default::default()
        })
        .await
        .with_context(|| format!("putting provider {name}"))?;
    admin
        .create_agent(Agent {
            workspace: WORKSPACE.into(),
            name: name.into(),
            instructions: "Follow the script.".into(),
            provider: name.into(),
            tools: vec![ToolGrant {
                server: grant.0.into(),
                tool: grant.1.into(),
                retry_safe: None,
            }],
            limits: Some(AgentLimits::default()),
            ..Default::default()
        })
        .await
        .with_context(|| format!("creating agent {name}"))?;
    Ok(())
}

async fn get(client: &Client, id: &str) -> anyhow::Result<Task> {
    client
        .get_task(WORKSPACE, id, Consistency::Linearizable)
        .await
        .with_context(|| format!("reading task {id}"))?
        .task
        .context("no task in the response")
}

/// Polls task `id` until `holds`, for at most 60 s.
async fn until(client: &Client, id: &str, holds: impl Fn(&Task) -> bool) -> anyhow::Result<Task> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let task = get(client, id).await?;
        if holds(&task) {
            return Ok(task);
        }
        if task.status != i32::from(TaskStatus::Pending)
            && task.status != i32::from(TaskStatus::Running)
            && task.status != i32::from(TaskStatus::WaitingForChild)
            && task.status != i32::from(TaskStatus::WaitingForInput)
        {
            bail!(
                "task {id} is {} ({})",
                status_name(task.status),
                task.reason
            );
        }
        if Instant::now() > deadline {
            bail!("task {id} did not get there within 60s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
