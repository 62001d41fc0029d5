//! Rebuilding an agent loop from its journal: the conversation so far and the next
//! thing to do. Pure, so a new owner after a failover and the original owner reach the
//! same conversation from the same entries.

use warden_core::{JournalEntry, OpenCall, Task, TaskEvent, TaskStatus};
use warden_providers::{Message, ToolCall};

/// The conversation a journal records: the task's input, then every model turn and
/// every tool result (denials included) in journal order.
pub fn conversation(task: &Task, journal: &[JournalEntry]) -> Vec<Message> {
    let mut messages = vec![Message::User {
        content: task.input.clone(),
    }];
    for entry in journal {
        extend(&mut messages, entry);
    }
    messages
}

/// Adds what one journal entry contributes to the conversation.
pub fn extend(messages: &mut Vec<Message>, entry: &JournalEntry) {
    match &entry.event {
        TaskEvent::ModelResponded {
            content,
            tool_calls,
            ..
        } => messages.push(Message::Assistant {
            content: content.clone(),
            tool_calls: tool_calls
                .iter()
                .map(|call| ToolCall {
                    id: call.call_id.clone(),
                    name: call.function.clone(),
                    arguments: serde_json::from_str(&call.arguments)
                        .unwrap_or_else(|_| serde_json::json!({})),
                })
                .collect(),
        }),
        TaskEvent::ToolCallFinished {
            call_id,
            output,
            is_error,
        } => messages.push(Message::ToolResult {
            call_id: call_id.clone(),
            content: output.clone(),
            is_error: *is_error,
        }),
        _ => {}
    }
}

/// What the owner of a running task does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Ask the model for turn `turn`.
    CallModel { turn: u32 },
    /// Run an open tool call as attempt `attempt`.
    RunCall { call: OpenCall, attempt: u32 },
    /// Run the call this owner's last commit journaled as started.
    RunStarted { call: OpenCall },
    /// An attempt started before and never finished, and the call may not run again
    /// without a human's decision.
    NeedsAttention { call: OpenCall },
    /// The task is not running any more.
    Stop,
}

/// The next step of `task`. Called when an owner starts and after each of its own
/// steps, so an open call with attempts was interrupted: by a crash, a failover or an
/// actor restart.
pub fn next(task: &Task) -> Next {
    if task.status != TaskStatus::Running {
        return Next::Stop;
    }
    match task.open_calls.first() {
        None => Next::CallModel { turn: task.turns },
        Some(call) if call.attempts == 0 || call.retry_safe || call.retry_approved => {
            Next::RunCall {
                call: call.clone(),
                attempt: call.attempts + 1,
            }
        }
        Some(call) => Next::NeedsAttention { call: call.clone() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_core::{Hash, ServerName, ToolName};

    fn open(attempts: u32, retry_safe: bool, retry_approved: bool) -> OpenCall {
        OpenCall {
            call_id: "c1".into(),
            server: ServerName::parse("tools").expect("valid"),
            tool: ToolName::parse("append").expect("valid"),
            arguments: "{}".into(),
            arguments_hash: Hash::of(b"{}"),
            retry_safe,
            attempts,
            retry_approved,
            approval: None,
            granted: None,
            policy_version: 1,
        }
    }

    #[test]
    fn an_interrupted_call_runs_again_only_when_safe_or_approved() {
        let cases = [
            (open(0, false, false), Some(1)),
            (open(1, true, false), Some(2)),
            (open(1, false, true), Some(2)),
            (open(1, false, false), None),
        ];
        for (call, attempt) in cases {
            let mut task = fixture_task();
            task.open_calls = vec![call.clone()];
            match (next(&task), attempt) {
                (Next::RunCall { attempt: got, .. }, Some(want)) => assert_eq!(got, want),
                (Next::NeedsAttention { .. }, None) => {}
                (other, want) => panic!("{call:?}: got {other:?}, want attempt {want:?}"),
            }
        }
    }

    #[test]
    fn no_open_call_means_the_next_model_turn_and_a_finished_task_stops() {
        let mut task = fixture_task();
        task.turns = 3;
        assert_eq!(next(&task), Next::CallModel { turn: 3 });
        task.status = TaskStatus::Completed;
        assert_eq!(next(&task), Next::Stop);
    }

    fn fixture_task() -> Task {
        use warden_core::*;
        Task {
            id: TaskId::from_u128(1),
            workspace: WorkspaceId::parse("acme").expect("valid"),
            idempotency_key: IdempotencyKey::parse("k").expect("valid"),
            agent: AgentName::parse("bot").expect("valid"),
            input: "hi".into(),
            input_hash: Hash::ZERO,
            status: TaskStatus::Running,
            submitted_ms: 0,
            submitted_by: Principal::system(),
            log_index: 1,
            limits: Limits::default(),
            deadline_at_ms: u64::MAX,
            owner: Some(NodeId(1)),
            epoch: 1,
            turns: 0,
            tokens_used: 0,
            journal_len: 2,
            progress_ms: 0,
            stalled: false,
            open_calls: vec![],
            result: None,
            reason: None,
        }
    }
}
