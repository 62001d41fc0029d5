//! Every agent task ends terminal, or visibly waiting, with the right status and a reason
//! that names the cause. One single-node cluster runs all scenarios at once, each with its
//! own agent, provider and scripted model server (so the scripts differ): the happy path
//! with a real PyPI MCP server (mcp-server-time) and with the ledger server over
//! streamable HTTP, the deadline, the step and token budgets, cancel, stall detection,
//! provider failures (HTTP 500, a malformed body, a request timeout), the Anthropic wire
//! format, and a call to a tool the agent was not granted.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, Instant};

use crate::common::agents::{
    HttpLedger, ProviderSpec, Seen, Workspace, ledger_entry, python_entry, scripted_model,
};
use crate::common::{allow_every_call, start};
use serde_json::json;
use warden_client::{Client, ClientOptions};
use warden_proto::v1::{AgentLimits, TaskStatus};
use warden_providers::scripted::ScriptedModelHandle;

const WORKSPACE: &str = "lifecycle";
/// How long WaitTask may take for a task that should end on its own.
const SETTLE: Duration = Duration::from_secs(30);

/// What every scenario gets: the workspace, a directory for its files, and the ledger of
/// the stdio ledger server `ledger`, registered once for all of them.
struct Ctx {
    workspace: Workspace,
    dir: PathBuf,
    stdio_ledger: PathBuf,
}

type Scenario<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + 'a>>;

#[tokio::test]
async fn every_task_ends_with_the_right_status_and_a_reason_naming_the_cause() {
    let started = Instant::now();
    let mut cluster = start(1, &[("runtime.controller_interval", "100ms")]).await;
    let admin = cluster.client().expect("client");
    admin
        .create_workspace(WORKSPACE)
        .await
        .expect("create the workspace");
    allow_every_call(&admin, WORKSPACE).await;
    // Registering an MCP server starts it, which may take a while on a busy machine.
    let options = ClientOptions {
        request_timeout: Duration::from_secs(60),
        max_attempts: 1,
        ..cluster.client_options().expect("client options")
    };
    let client = Client::connect([cluster.endpoint(1).expect("endpoint of node 1")], options)
        .expect("client");
    let workspace = Workspace::new(client, WORKSPACE);
    let stdio_ledger = cluster.tools_dir().join("stdio-ledger.jsonl");
    let ledger_arg = stdio_ledger.display().to_string();
    workspace
        .register_stdio(
            "ledger",
            ledger_entry(&cluster.tools_dir()),
            &["--ledger", &ledger_arg],
        )
        .await;
    let ctx = Ctx {
        workspace,
        dir: cluster.dir.path().to_owned(),
        stdio_ledger,
    };
    println!(
        "single-node cluster and the stdio ledger server ready in {:.2?}",
        started.elapsed()
    );

    let scenarios: Vec<(&str, Scenario<'_>)> = vec![
        (
            "1 happy path: mcp-server-time over stdio",
            Box::pin(happy_path_with_mcp_server_time(&ctx)),
        ),
        (
            "2 happy path: ledger over streamable HTTP",
            Box::pin(happy_path_over_streamable_http(&ctx)),
        ),
        ("3 deadline", Box::pin(deadline(&ctx))),
        ("4 step budget", Box::pin(step_budget(&ctx))),
        ("5 token budget", Box::pin(token_budget(&ctx))),
        ("6 cancel", Box::pin(cancel(&ctx))),
        ("7 stall", Box::pin(stall(&ctx))),
        (
            "8a provider: http 500 on every attempt",
            Box::pin(provider_http_500(&ctx)),
        ),
        (
            "8b provider: malformed body",
            Box::pin(provider_malformed_body(&ctx)),
        ),
        (
            "8c provider: request timeout",
            Box::pin(provider_request_timeout(&ctx)),
        ),
        (
            "8d provider: anthropic wire format",
            Box::pin(anthropic_provider(&ctx)),
        ),
        ("9 tool not granted", Box::pin(tool_not_granted(&ctx))),
    ];
    // The scenarios are independent (own agent, provider and model server), so they run
    // concurrently and the cluster's start-up is paid once.
    //
    // Known product bug (reported, not fixed here): the leader places tasks before the
    // node's first heartbeat is acknowledged, so the node does not hold its lease yet; the
    // TaskActor journals tool_call_started, fails its lease check and is restarted, so the
    // first call of a task placed then shows attempts 1, 2, 3 (and a non-idempotent call
    // goes to needs_attention although it never ran). The tools used below are read-only
    // or idempotent, so the tasks still end as expected; no scenario asserts one attempt
    // per call.
    let results =
        futures::future::join_all(scenarios.into_iter().map(|(name, scenario)| async move {
            let began = Instant::now();
            let result = scenario.await;
            (name, began.elapsed(), result)
        }))
        .await;

    let mut failures = Vec::new();
    for (name, elapsed, result) in &results {
        match result {
            Ok(note) => println!("ok   {name:<45} {elapsed:>8.2?}  {note}"),
            Err(error) => {
                println!("FAIL {name:<45} {elapsed:>8.2?}");
                failures.push(format!("--- {name}\n{error}"));
            }
        }
    }
    println!(
        "all scenarios done in {:.2?} since start",
        started.elapsed()
    );
    if !failures.is_empty() {
        // Keep the node's data and log for whoever investigates.
        cluster.dir.disable_cleanup(true);
        let log = cluster.log_path(1);
        panic!(
            "{} of {} scenarios failed:\n{}\n--- node log {} (kept), last lines:\n{}",
            failures.len(),
            results.len(),
            failures.join("\n"),
            log.display(),
            warden_local_cluster::tail(&log, 60)
        );
    }
}

/// The scripted model as an OpenAI-compatible provider.
fn openai<'a>(
    name: &'a str,
    model: &ScriptedModelHandle,
    request_timeout_ms: u64,
    max_retries: u32,
) -> ProviderSpec<'a> {
    ProviderSpec {
        name,
        kind: "openai",
        base_url: model.base_url(),
        request_timeout_ms,
        max_retries,
    }
}

/// Polls `probe` every 50 ms until it holds or `within` passes; returns whether it held.
async fn holds_within<F, Fut>(within: Duration, mut probe: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if probe().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The JSON of the only tool_call_finished event, or an error naming what is wrong.
fn only_finished_call(seen: &Seen) -> Result<serde_json::Value, String> {
    let finished = seen.details("tool_call_finished");
    seen.check(
        finished.len() == 1,
        &format!("expected one tool_call_finished, found {}", finished.len()),
    )?;
    Ok(finished.into_iter().next().unwrap_or_default())
}

async fn happy_path_with_mcp_server_time(ctx: &Ctx) -> Result<String, String> {
    let workspace = &ctx.workspace;
    let server = workspace
        .register_stdio(
            "time",
            python_entry("mcp-server-time", &["--local-timezone", "[A-Za-z_/+-]+"]),
            &["--local-timezone", "UTC"],
        )
        .await;
    if !server
        .tools
        .iter()
        .any(|tool| tool.name == "get_current_time")
    {
        return Err(format!(
            "mcp-server-time pinned no get_current_time: {:?}",
            server.tools
        ));
    }
    let model = scripted_model(json!({
        "steps": [{"tool_calls": [{"name": "time__get_current_time", "arguments": {"timezone": "UTC"}}]}],
        "final": "it is now this time in UTC",
    }))
    .await;
    workspace
        .put_provider(openai("model-time", &model, 30_000, 0))
        .await;
    workspace
        .create_agent(
            "clock",
            "model-time",
            &[("time", "get_current_time")],
            AgentLimits::default(),
        )
        .await;
    let task = workspace.submit("clock", "what time is it in UTC?").await;
    let seen = workspace.wait_settled(&task.id, SETTLE).await?;
    seen.check_status(TaskStatus::Completed)?;
    seen.check(
        seen.task.result == "it is now this time in UTC",
        "the result is not the model's final answer",
    )?;
    let finished = only_finished_call(&seen)?;
    seen.check(
        finished["is_error"] == false,
        "the time tool call is an error",
    )?;
    // mcp-server-time answers {"timezone": "UTC", "datetime": "...+00:00", "day_of_week": .., "is_dst": ..}.
    let output = finished["output"].as_str().unwrap_or_default();
    let answer: serde_json::Value = serde_json::from_str(output).unwrap_or_default();
    seen.check(
        answer["timezone"] == "UTC",
        "the tool output is not the time in UTC",
    )?;
    seen.check(
        answer["datetime"]
            .as_str()
            .is_some_and(|time| time.ends_with("+00:00")),
        "the tool output's datetime is not at +00:00",
    )?;
    Ok(format!("tool output {output}"))
}

async fn happy_path_over_streamable_http(ctx: &Ctx) -> Result<String, String> {
    let workspace = &ctx.workspace;
    let http = HttpLedger::start(&ctx.dir).await;
    workspace.register_url("remote", &http.url).await;
    let model = scripted_model(json!({
        "steps": [{"tool_calls": [{"name": "remote__put", "arguments": {"key": "colour", "value": "blue"}}]}],
        "final": "the colour is stored",
    }))
    .await;
    workspace
        .put_provider(openai("model-http-mcp", &model, 30_000, 0))
        .await;
    workspace
        .create_agent(
            "remote-writer",
            "model-http-mcp",
            &[("remote", "put")],
            AgentLimits::default(),
        )
        .await;
    let task = workspace.submit("remote-writer", "store colour=blue").await;
    let seen = workspace.wait_settled(&task.id, SETTLE).await?;
    seen.check_status(TaskStatus::Completed)?;
    let finished = only_finished_call(&seen)?;
    seen.check(finished["is_error"] == false, "the put call is an error")?;
    let entries = warden_mcp::read_ledger(&http.ledger)
        .map_err(|error| format!("reading {}: {error}", http.ledger.display()))?;
    let puts = entries
        .iter()
        .filter(|entry| {
            entry.tool == "put"
                && entry.arguments.get("key") == Some(&json!("colour"))
                && entry.arguments.get("value") == Some(&json!("blue"))
        })
        .count();
    seen.check(
        puts == 1,
        &format!("expected the put once in the HTTP server's ledger, found {puts} in {entries:?}"),
    )?;
    Ok(format!("the ledger of {} has the put", http.url))
}

async fn deadline(ctx: &Ctx) -> Result<String, String> {
    let workspace = &ctx.workspace;
    let model = scripted_model(json!({
        "final": "too late",
        "faults": [{"turn": 0, "kind": {"delay_ms": 10_000}}],
    }))
    .await;
    workspace
        .put_provider(openai("model-deadline", &model, 30_000, 0))
        .await;
    let limits = AgentLimits {
        deadline_ms: 1_500,
        ..Default::default()
    };
    workspace
        .create_agent("hurried", "model-deadline", &[], limits)
        .await;
    let submitted = Instant::now();
    let task = workspace.submit("hurried", "answer slowly").await;
    let seen = workspace.wait_settled(&task.id, SETTLE).await?;
    let took = submitted.elapsed();
    seen.check_status(TaskStatus::TimedOut)?;
    seen.check_reason(&["deadline", "1500 ms"])?;
    seen.check(
        seen.last_kind() == "timed_out",
        "the journal does not end with timed_out",
    )?;
    seen.check(
        took < Duration::from_secs(6),
        &format!("timed out only {took:.2?} after submission, the deadline is 1.5 s"),
    )?;
    Ok(format!(
        "timed out {took:.2?} after submission: {}",
        seen.task.reason
    ))
}

async fn step_budget(ctx: &Ctx) -> Result<String, String> {
    let workspace = &ctx.workspace;
    let step = json!({"tool_calls": [{"name": "ledger__noop"}]});
    let model = scripted_model(json!({"steps": vec![step; 5], "final": "never reached"})).await;
    workspace
        .put_provider(openai("model-steps", &model, 30_000, 0))
        .await;
    let limits = AgentLimits {
        max_steps: 2,
        ..Default::default()
    };
    workspace
        .create_agent("stepper", "model-steps", &[("ledger", "noop")], limits)
        .await;
    let task = workspace.submit("stepper", "call noop five times").await;
    let seen = workspace.wait_settled(&task.id, SETTLE).await?;
    seen.check_status(TaskStatus::Failed)?;
    seen.check_reason(&["step budget exhausted"])?;
    let turns = seen.events("model_responded").count();
    seen.check(
        turns == 2,
        &format!("expected 2 model turns, found {turns}"),
    )?;
    Ok(seen.task.reason.clone())
}

async fn token_budget(ctx: &Ctx) -> Result<String, String> {
    let workspace = &ctx.workspace;
    let step = json!({"tool_calls": [{"name": "ledger__noop"}], "output_tokens": 20});
    let model = scripted_model(json!({"steps": vec![step; 5], "final": "never reached"})).await;
    workspace
        .put_provider(openai("model-tokens", &model, 30_000, 0))
        .await;
    let limits = AgentLimits {
        token_budget: 30,
        ..Default::default()
    };
    workspace
        .create_agent("spender", "model-tokens", &[("ledger", "noop")], limits)
        .await;
    let task = workspace.submit("spender", "call noop five times").await;
    let seen = workspace.wait_settled(&task.id, SETTLE).await?;
    seen.check_status(TaskStatus::Failed)?;
    seen.check_reason(&["token budget exhausted", "of 30 tokens"])?;
    seen.check(
        seen.task.tokens_used > 30,
        "failed on tokens without using more than 30",
    )?;
    let turns = seen.events("model_responded").count();
    seen.check(
        turns <= 2,
        &format!("two turns of 20 output tokens exceed 30, yet {turns} turns ran"),
    )?;
    Ok(seen.task.reason.clone())
}

async fn cancel(ctx: &Ctx) -> Result<String, String> {
    let workspace = &ctx.workspace;
    let model = scripted_model(json!({
        "final": "never seen",
        "faults": [{"turn": 0, "kind": {"delay_ms": 10_000}}],
    }))
    .await;
    workspace
        .put_provider(openai("model-cancel", &model, 30_000, 0))
        .await;
    workspace
        .create_agent("patient", "model-cancel", &[], AgentLimits::default())
        .await;
    let task = workspace.submit("patient", "wait for a slow model").await;
    let model_ref = &model;
    if !holds_within(Duration::from_secs(10), || async move {
        model_ref.requests_served() >= 1
    })
    .await
    {
        let seen = workspace.seen(&task.id).await;
        return Err(format!("the model call never started\n{seen}"));
    }
    let cancelled = workspace
        .cancel(&task.id, "the user changed their mind")
        .await
        .map_err(|status| format!("cancel task {}: {status}", task.id))?;
    if cancelled.status != i32::from(TaskStatus::Cancelled) {
        let seen = workspace.seen(&task.id).await;
        return Err(format!(
            "CancelTask answered a task that is not cancelled\n{seen}"
        ));
    }
    // Answer the model call that was in flight (shutting the server down cuts its delay
    // short), so anything the old loop would still journal from it has the chance to.
    model
        .shutdown()
        .await
        .map_err(|error| format!("stopping the scripted model: {error}"))?;
    // Nothing may follow the cancellation: watch the task for a second.
    let cancelled_len = workspace.journal(&task.id).await.len();
    let workspace_ref = workspace;
    let task_id = task.id.as_str();
    let changed = holds_within(Duration::from_secs(1), || async move {
        let seen = workspace_ref.seen(task_id).await;
        seen.status() != TaskStatus::Cancelled || seen.journal.len() != cancelled_len
    })
    .await;
    let seen = workspace.seen(&task.id).await;
    seen.check(!changed, "the task changed after it was cancelled")?;
    seen.check_status(TaskStatus::Cancelled)?;
    seen.check_reason(&["cancelled", "the user changed their mind"])?;
    seen.check(
        seen.last_kind() == "cancelled",
        "the journal does not end with cancelled",
    )?;
    seen.check(
        seen.events("model_responded").count() == 0,
        "a model response was journaled for a task cancelled during its only model call",
    )?;
    Ok(seen.task.reason.clone())
}

async fn stall(ctx: &Ctx) -> Result<String, String> {
    let workspace = &ctx.workspace;
    let model = scripted_model(json!({
        "steps": [{"tool_calls": [{"name": "ledger__noop"}]}],
        "final": "done after a pause",
        "faults": [{"turn": 1, "kind": {"delay_ms": 4_000}}],
    }))
    .await;
    workspace
        .put_provider(openai("model-stall", &model, 30_000, 0))
        .await;
    let limits = AgentLimits {
        stall_timeout_ms: 800,
        ..Default::default()
    };
    workspace
        .create_agent("sleepy", "model-stall", &[("ledger", "noop")], limits)
        .await;
    let task = workspace
        .submit("sleepy", "call noop, then think for a while")
        .await;
    let task_id = task.id.as_str();
    let listed = holds_within(Duration::from_secs(10), || async move {
        workspace.stalled_ids().await.iter().any(|id| id == task_id)
    })
    .await;
    let while_waiting = workspace.seen(task_id).await;
    while_waiting.check(listed, "ListTasks(stalled_only) never listed the task")?;
    while_waiting.check(
        while_waiting.events("task_stalled").count() >= 1,
        "the task is listed as stalled but its journal has no task_stalled event",
    )?;
    let seen = workspace.wait_settled(task_id, SETTLE).await?;
    seen.check_status(TaskStatus::Completed)?;
    seen.check(
        !seen.task.stalled,
        "the completed task is still marked stalled",
    )?;
    let listed_after = workspace.stalled_ids().await;
    seen.check(
        !listed_after.iter().any(|id| id == task_id),
        "ListTasks(stalled_only) still lists the completed task",
    )?;
    let idle_ms = while_waiting
        .details("task_stalled")
        .first()
        .map(|detail| detail["idle_ms"].clone())
        .unwrap_or_default();
    Ok(format!(
        "marked stalled after {idle_ms} ms idle, then completed"
    ))
}

async fn provider_http_500(ctx: &Ctx) -> Result<String, String> {
    let workspace = &ctx.workspace;
    let model = scripted_model(json!({
        "final": "unreachable",
        "faults": [{"turn": 0, "kind": {"status": 500}, "times": 100}],
    }))
    .await;
    workspace
        .put_provider(openai("model-http500", &model, 30_000, 1))
        .await;
    workspace
        .create_agent("unlucky", "model-http500", &[], AgentLimits::default())
        .await;
    let task = workspace.submit("unlucky", "ask a broken provider").await;
    let seen = workspace.wait_settled(&task.id, SETTLE).await?;
    seen.check_status(TaskStatus::Failed)?;
    seen.check_reason(&["model-http500", "http 500"])?;
    let requests = model.requests_served();
    seen.check(
        requests == 2,
        &format!("max_retries 1 means 2 attempts, the model saw {requests}"),
    )?;
    Ok(seen.task.reason.clone())
}

async fn provider_malformed_body(ctx: &Ctx) -> Result<String, String> {
    let workspace = &ctx.workspace;
    let model = scripted_model(json!({
        "final": "unreachable",
        "faults": [{"turn": 0, "kind": "malformed_body"}],
    }))
    .await;
    workspace
        .put_provider(openai("model-malformed", &model, 30_000, 1))
        .await;
    workspace
        .create_agent("garbled", "model-malformed", &[], AgentLimits::default())
        .await;
    let task = workspace.submit("garbled", "ask a garbling provider").await;
    let seen = workspace.wait_settled(&task.id, SETTLE).await?;
    seen.check_status(TaskStatus::Failed)?;
    seen.check_reason(&["model-malformed", "malformed"])?;
    Ok(seen.task.reason.clone())
}

async fn provider_request_timeout(ctx: &Ctx) -> Result<String, String> {
    let workspace = &ctx.workspace;
    let model = scripted_model(json!({
        "final": "too slow",
        "faults": [{"turn": 0, "kind": {"delay_ms": 5_000}}],
    }))
    .await;
    workspace
        .put_provider(openai("model-slow", &model, 500, 0))
        .await;
    workspace
        .create_agent("impatient", "model-slow", &[], AgentLimits::default())
        .await;
    let submitted = Instant::now();
    let task = workspace.submit("impatient", "ask a slow provider").await;
    let seen = workspace.wait_settled(&task.id, SETTLE).await?;
    let took = submitted.elapsed();
    seen.check_status(TaskStatus::Failed)?;
    seen.check_reason(&["model-slow", "did not answer within 500ms"])?;
    seen.check(
        took < Duration::from_secs(4),
        &format!("a 500 ms request timeout took {took:.2?} to fail the task"),
    )?;
    Ok(format!("{} ({took:.2?})", seen.task.reason))
}

async fn anthropic_provider(ctx: &Ctx) -> Result<String, String> {
    let workspace = &ctx.workspace;
    let model = scripted_model(json!({
        "steps": [{"tool_calls": [{"name": "ledger__noop"}]}],
        "final": "noop done over the messages api",
    }))
    .await;
    workspace
        .put_provider(ProviderSpec {
            name: "model-anthropic",
            kind: "anthropic",
            base_url: model.base_url(),
            request_timeout_ms: 30_000,
            max_retries: 0,
        })
        .await;
    workspace
        .create_agent(
            "claude-ish",
            "model-anthropic",
            &[("ledger", "noop")],
            AgentLimits::default(),
        )
        .await;
    let task = workspace.submit("claude-ish", "call noop once").await;
    let seen = workspace.wait_settled(&task.id, SETTLE).await?;
    seen.check_status(TaskStatus::Completed)?;
    seen.check(
        seen.task.result == "noop done over the messages api",
        "the result is not the model's final answer",
    )?;
    let finished = only_finished_call(&seen)?;
    seen.check(finished["is_error"] == false, "the noop call is an error")?;
    Ok(format!("{} model requests", model.requests_served()))
}

async fn tool_not_granted(ctx: &Ctx) -> Result<String, String> {
    let workspace = &ctx.workspace;
    let model = scripted_model(json!({
        "steps": [{"tool_calls": [{"name": "ledger__append", "arguments": {"entry": "must-not-run"}}]}],
        "final": "carried on without appending",
    }))
    .await;
    workspace
        .put_provider(openai("model-denied", &model, 30_000, 0))
        .await;
    workspace
        .create_agent(
            "reader",
            "model-denied",
            &[("ledger", "get")],
            AgentLimits::default(),
        )
        .await;
    let task = workspace.submit("reader", "try to append").await;
    let seen = workspace.wait_settled(&task.id, SETTLE).await?;
    seen.check_status(TaskStatus::Completed)?;
    seen.check(
        seen.task.result == "carried on without appending",
        "the result is not the model's final answer",
    )?;
    let decided = seen.details("tool_call_decided");
    seen.check(
        decided.len() == 1 && decided[0]["decision"].get("Denied").is_some(),
        "expected one tool_call_decided with a Denied decision",
    )?;
    let finished = only_finished_call(&seen)?;
    let output = finished["output"].as_str().unwrap_or_default();
    seen.check(
        finished["is_error"] == true && output.contains("denied"),
        "the denied call's result is not an error saying it was denied",
    )?;
    seen.check(
        seen.events("tool_call_started").count() == 0,
        "a denied call was started",
    )?;
    let entries = warden_mcp::read_ledger(&ctx.stdio_ledger)
        .map_err(|error| format!("reading {}: {error}", ctx.stdio_ledger.display()))?;
    seen.check(
        !entries.iter().any(|entry| entry.tool == "append"),
        &format!("the denied append ran anyway: {entries:?}"),
    )?;
    Ok(format!("result of the denied call: {output}"))
}
