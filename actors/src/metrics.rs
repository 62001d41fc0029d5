//! The agent runtime's metrics, named in one place. They go to the process's `metrics`
//! recorder (the node renders it on `/metrics`).

use std::time::Duration;

use metrics::{counter, gauge, histogram};

/// One model call, by provider and outcome.
pub fn model_call(provider: &str, took: Duration, ok: bool) {
    let outcome = if ok { "ok" } else { "error" };
    histogram!("warden_model_call_seconds", "provider" => provider.to_owned(), "outcome" => outcome)
        .record(took.as_secs_f64());
    if !ok {
        counter!("warden_model_call_errors_total", "provider" => provider.to_owned()).increment(1);
    }
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
