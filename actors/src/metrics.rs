//! The agent runtime's metrics, named in one place. They go to the process's `metrics`
//! recorder (the node renders it on `/metrics`).

use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};

/// Gives the recorder the help text of every metric below (`# HELP` on `/metrics`).
pub fn describe() {
    describe_histogram!(
        "warden_model_call_seconds",
        "Model calls made by this node's task actors, by provider and outcome (ok, error), in seconds."
    );
    describe_counter!(
        "warden_model_call_errors_total",
        "Model calls that failed (transport, status or malformed response), by provider."
    );
    describe_counter!(
        "warden_model_tokens_total",
        "Tokens the model responses this node received reported, by provider and direction (input, output)."
    );
    describe_histogram!(
        "warden_tool_call_seconds",
        "Tool calls made by this node's task actors, by MCP server and outcome (ok, error), in seconds."
    );
    describe_counter!(
        "warden_tool_call_errors_total",
        "Tool calls that failed or returned an error result, by MCP server."
    );
    describe_histogram!(
        "warden_journal_commit_seconds",
        "Committing one journal step through the replicated log, by step kind, in seconds."
    );
    describe_histogram!(
        "warden_task_step_seconds",
        "One agent loop step (its model or tool call and its journal commits), by step kind, in seconds."
    );
    describe_histogram!(
        "warden_task_resume_seconds",
        "Gap between the last step a task's previous owner journaled and the first step its new owner journaled, in seconds."
    );
    describe_counter!(
        "warden_task_actor_failures_total",
        "Task actors on this node that failed (panicked or returned an error)."
    );
    describe_counter!(
        "warden_task_actor_restarts_total",
        "Task actors this node's supervisor restarted after a failure."
    );
    describe_counter!(
        "warden_tasks_ended_total",
        "Tasks this node owned that reached a terminal status through one of its own steps, by status."
    );
    describe_gauge!("warden_task_actors", "Task actors running on this node.");
    describe_gauge!(
        "warden_tasks_held_by_pause",
        "Tasks of this node waiting for a paused workspace or agent to resume."
    );
}

/// One model call, by provider and outcome.
pub fn model_call(provider: &str, took: Duration, ok: bool) {
    let outcome = if ok { "ok" } else { "error" };
    histogram!("warden_model_call_seconds", "provider" => provider.to_owned(), "outcome" => outcome)
        .record(took.as_secs_f64());
    if !ok {
        counter!("warden_model_call_errors_total", "provider" => provider.to_owned()).increment(1);
    }
}

/// The tokens one model response reported using.
pub fn model_tokens(provider: &str, input: u64, output: u64) {
    counter!("warden_model_tokens_total", "provider" => provider.to_owned(), "direction" => "input")
        .increment(input);
    counter!("warden_model_tokens_total", "provider" => provider.to_owned(), "direction" => "output")
        .increment(output);
}

/// One tool call, by server and outcome (`error` covers error results and failures).
pub fn tool_call(server: &str, took: Duration, ok: bool) {
    let outcome = if ok { "ok" } else { "error" };
    histogram!("warden_tool_call_seconds", "server" => server.to_owned(), "outcome" => outcome)
        .record(took.as_secs_f64());
    if !ok {
        counter!("warden_tool_call_errors_total", "server" => server.to_owned()).increment(1);
    }
}

/// Committing one journal step: the journaling overhead a step pays.
pub fn journal_commit(kind: &'static str, took: Duration) {
    histogram!("warden_journal_commit_seconds", "step" => kind).record(took.as_secs_f64());
}

/// A whole loop step (model or tool step), its call and its commits together.
pub fn step(kind: &'static str, took: Duration) {
    histogram!("warden_task_step_seconds", "step" => kind).record(took.as_secs_f64());
}

/// The gap between the last step a task's previous owner journaled and the first its
/// new owner journaled.
pub fn resumed(gap: Duration) {
    histogram!("warden_task_resume_seconds").record(gap.as_secs_f64());
}

pub fn task_actor_failed() {
    counter!("warden_task_actor_failures_total").increment(1);
}

pub fn task_actor_restarted() {
    counter!("warden_task_actor_restarts_total").increment(1);
}

/// A task this node owned reached a terminal state through one of its own steps.
pub fn task_ended(status: &'static str) {
    counter!("warden_tasks_ended_total", "status" => status).increment(1);
}

/// Counts a gauge up while it lives and down when it drops, however its holder ends.
pub struct Held(&'static str);

impl Held {
    fn new(name: &'static str) -> Held {
        gauge!(name).increment(1.0);
        Held(name)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        gauge!(self.0).decrement(1.0);
    }
}

/// A TaskActor running on this node: `warden_task_actors` while it lives.
pub fn task_actor_running() -> Held {
    Held::new("warden_task_actors")
}

/// A task of this node held by a paused workspace or agent: `warden_tasks_held_by_pause`
/// while its actor waits for the resume.
pub fn held_by_pause() -> Held {
    Held::new("warden_tasks_held_by_pause")
}
