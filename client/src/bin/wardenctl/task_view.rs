//! How `wardenctl task` shows tasks: one task's details, a list, as a table or JSON.

use warden_client::proto::Task;

use crate::json;
use crate::output::{
    Format, Table, emit, emit_json, format_duration_ms, format_time_ms, or_dash, render_fields,
    shorten, task_status_name, yes_no,
};

pub fn emit_task(format: Format, task: &Task) -> std::io::Result<()> {
    match format {
        Format::Table => emit(&render_task(task)),
        Format::Json => emit_json(&json::task(task)),
    }
}

/// A task's status, with `(stalled)` when it is marked so.
pub fn status_text(task: &Task) -> String {
    let status = task_status_name(task.status);
    if task.stalled {
        format!("{status} (stalled)")
    } else {
        status
    }
}

/// A text field that may be empty, as `-` then.
fn or_dash_text(text: &str) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        text.to_owned()
    }
}

pub fn render_task(task: &Task) -> String {
    let limits = match &task.limits {
        Some(limits) => format!(
            "{} steps, {} tokens, deadline {}, stall timeout {}",
            limits.max_steps,
            limits.token_budget,
            format_duration_ms(limits.deadline_ms),
            format_duration_ms(limits.stall_timeout_ms)
        ),
        None => "-".to_owned(),
    };
    let question = task.question.as_ref().map_or_else(
        || "-".to_owned(),
        |question| {
            format!(
                "{} (call {}, expires {}, on expiry {})",
                question.question,
                question.call_id,
                format_time_ms(question.expires_at_ms),
                question.on_expiry
            )
        },
    );
    let parent = task.parent.as_ref().map_or_else(
        || "-".to_owned(),
        |parent| {
            format!(
                "{} (call {}; agents above: {})",
                parent.task_id,
                parent.call_id,
                parent.lineage.join(" -> ")
            )
        },
    );
    let children = if task.children.is_empty() {
        "-".to_owned()
    } else {
        task.children.join(", ")
    };
    render_fields(&[
        ("id", task.id.clone()),
        ("workspace", task.workspace.clone()),
        ("agent", task.agent.clone()),
        ("status", status_text(task)),
        ("question", question),
        ("waits on task", or_dash_text(&task.waiting_for_task)),
        ("parent", parent),
        ("children", children),
        ("stalled", yes_no(task.stalled)),
        ("owner", or_dash((task.owner != 0).then_some(task.owner))),
        ("epoch", task.epoch.to_string()),
        ("turns", task.turns.to_string()),
        ("tokens used", task.tokens_used.to_string()),
        ("journal length", task.journal_len.to_string()),
        ("result", or_dash_text(&task.result)),
        ("reason", or_dash_text(&task.reason)),
        ("submitted at", format_time_ms(task.submitted_at_ms)),
        ("submitted by", task.submitted_by.clone()),
        ("deadline at", format_time_ms(task.deadline_at_ms)),
        ("limits", limits),
        ("log index", task.log_index.to_string()),
        ("idempotency key", task.idempotency_key.clone()),
        ("input hash", task.input_hash.clone()),
        ("input", task.input.clone()),
    ])
}

pub fn render_task_list(tasks: &[Task]) -> String {
    let mut table = Table::new(vec![
        "ID",
        "STATUS",
        "AGENT",
        "TURNS",
        "SUBMITTED",
        "BY",
        "INPUT",
    ]);
    for task in tasks {
        table.push(vec![
            task.id.clone(),
            status_text(task),
            task.agent.clone(),
            task.turns.to_string(),
            format_time_ms(task.submitted_at_ms),
            task.submitted_by.clone(),
            shorten(&task.input, 40),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_client::proto::AgentLimits;
    use warden_client::proto::TaskStatus;

    #[test]
    fn task_details_show_progress_outcome_and_limits() {
        let text = render_task(&Task {
            id: "T1".into(),
            agent: "bot".into(),
            status: TaskStatus::Running as i32,
            stalled: true,
            owner: 2,
            epoch: 3,
            turns: 4,
            tokens_used: 1234,
            journal_len: 9,
            limits: Some(AgentLimits {
                max_steps: 32,
                token_budget: 200_000,
                deadline_ms: 1_800_000,
                stall_timeout_ms: 300_000,
            }),
            ..Task::default()
        });
        for expected in [
            "status           running (stalled)\n",
            "owner            2\n",
            "tokens used      1234\n",
            "result           -\n",
            "limits           32 steps, 200000 tokens, deadline 30m, stall timeout 5m\n",
        ] {
            assert!(text.contains(expected), "{expected:?} in\n{text}");
        }
        let unowned = render_task(&Task::default());
        assert!(unowned.contains("owner            -\n"), "{unowned}");
    }
}
