//! A task's journal: every change to a task, in order, numbered by a per-task sequence.
//! The agent loop's steps are journaled before the next one starts, so a new owner
//! rebuilds the conversation from it; watchers stream it.

use serde::{Deserialize, Serialize};

use crate::hash::Hash;
use crate::ids::Principal;
use crate::names::{AgentName, NodeId, ServerName, ToolName};

/// Tokens a model call used, as the provider reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.input_tokens.saturating_add(self.output_tokens)
    }
}

/// A tool call as the model asked for it, with the tool already split into its server
/// and tool name by the proposer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedCall {
    pub call_id: String,
    /// The function name the model used, kept so the conversation replays verbatim.
    pub function: String,
    pub server: Option<ServerName>,
    pub tool: Option<ToolName>,
    /// The arguments as JSON text; stored in canonical form.
    pub arguments: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallDecision {
    /// `rule` is the policy rule that decided, `None` for the default deny or a check
    /// before policy (no grant, not pinned, malformed arguments).
    Allowed { rule: String, reason: String },
    Denied {
        rule: Option<String>,
        reason: String,
    },
    ApprovalRequired {
        rule: String,
        reason: String,
        expires_at_ms: u64,
    },
}

/// What a human decided for a task that needs attention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Resolution {
    /// Run the interrupted tool call again.
    Retry,
    /// Do not run it again; use this text as its result.
    SkipWithResult(String),
    /// Fail the task with this reason.
    Fail(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskEvent {
    Submitted {
        agent: AgentName,
    },
    Assigned {
        node: NodeId,
        epoch: u64,
    },
    ModelResponded {
        turn: u32,
        content: String,
        tool_calls: Vec<RequestedCall>,
        usage: Usage,
    },
    /// The decision for a call the model asked for, under the workspace's policy at
    /// `policy_version` (0: the workspace has no policy).
    ToolCallDecided {
        call_id: String,
        arguments_hash: Hash,
        decision: CallDecision,
        policy_version: u64,
    },
    /// The call was decided again and starts: `policy_version` is the policy it passed.
    ToolCallStarted {
        call_id: String,
        attempt: u32,
        policy_version: u64,
    },
    /// Decided again when it was to start, the call was no longer allowed as before (a
    /// rule, grant, pin or approval requirement changed): it ends without running.
    DecisionChanged {
        call_id: String,
        arguments_hash: Hash,
        decision: CallDecision,
        policy_version: u64,
    },
    ToolCallFinished {
        call_id: String,
        output: String,
        is_error: bool,
    },
    NeedsAttention {
        call_id: String,
        reason: String,
    },
    /// The task parks until the call is approved (or denied, or the request expires).
    ApprovalRequested {
        call_id: String,
        server: ServerName,
        tool: ToolName,
        arguments_hash: Hash,
        rule: String,
        approvers: Vec<String>,
        quorum: u32,
        expires_at_ms: u64,
    },
    /// One approver's decision; `granted` once the quorum is reached.
    ApprovalDecided {
        call_id: String,
        by: Principal,
        approved: bool,
        reason: String,
        approvals: u32,
        quorum: u32,
        granted: bool,
    },
    ApprovalExpired {
        call_id: String,
        fails_task: bool,
    },
    /// A pinned tool's server offered another definition; an admin must re-pin it.
    ToolDefinitionChanged {
        call_id: String,
        server: ServerName,
        tool: ToolName,
        pinned_hash: Hash,
        offered_hash: Hash,
    },
    Resolved {
        resolution: Resolution,
        by: Principal,
    },
    Stalled {
        idle_ms: u64,
    },
    Completed {
        result: String,
    },
    Failed {
        reason: String,
    },
    Cancelled {
        reason: String,
        by: Principal,
    },
    TimedOut {
        deadline_at_ms: u64,
    },
    /// An `ask_human` call asked a person; the task parks until an answer or the expiry.
    QuestionAsked {
        call_id: String,
        question: String,
        expires_at_ms: u64,
        on_expiry: crate::policy::OnExpiry,
    },
    /// A person answered; the answer is the call's result (a `ToolCallFinished` follows).
    QuestionAnswered {
        call_id: String,
        by: Principal,
        answer: String,
    },
    QuestionExpired {
        call_id: String,
        fails_task: bool,
    },
    /// A delegation call created task `child` for `agent`; the task parks until it ends.
    Delegated {
        call_id: String,
        agent: AgentName,
        child: crate::ids::TaskId,
    },
    /// The delegated task ended; its answer or its failure is the call's result (a
    /// `ToolCallFinished` follows).
    ChildEnded {
        call_id: String,
        child: crate::ids::TaskId,
        status: crate::model::TaskStatus,
        tokens_used: u64,
    },
}

impl TaskEvent {
    /// The event's name in the API and in `task watch`.
    pub fn kind(&self) -> &'static str {
        match self {
            TaskEvent::Submitted { .. } => "submitted",
            TaskEvent::Assigned { .. } => "assigned",
            TaskEvent::ModelResponded { .. } => "model_responded",
            TaskEvent::ToolCallDecided { .. } => "tool_call_decided",
            TaskEvent::ToolCallStarted { .. } => "tool_call_started",
            TaskEvent::DecisionChanged { .. } => "decision_changed",
            TaskEvent::ToolCallFinished { .. } => "tool_call_finished",
            TaskEvent::NeedsAttention { .. } => "needs_attention",
            TaskEvent::ApprovalRequested { .. } => "approval_requested",
            TaskEvent::ApprovalDecided { .. } => "approval_decided",
            TaskEvent::ApprovalExpired { .. } => "approval_expired",
            TaskEvent::ToolDefinitionChanged { .. } => "tool_definition_changed",
            TaskEvent::Resolved { .. } => "resolved",
            TaskEvent::Stalled { .. } => "task_stalled",
            TaskEvent::Completed { .. } => "completed",
            TaskEvent::Failed { .. } => "failed",
            TaskEvent::Cancelled { .. } => "cancelled",
            TaskEvent::TimedOut { .. } => "timed_out",
            TaskEvent::QuestionAsked { .. } => "question_asked",
            TaskEvent::QuestionAnswered { .. } => "question_answered",
            TaskEvent::QuestionExpired { .. } => "question_expired",
            TaskEvent::Delegated { .. } => "delegated",
            TaskEvent::ChildEnded { .. } => "child_ended",
        }
    }
}

/// One journal entry. `epoch` is the task's fencing epoch when the entry was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub seq: u64,
    pub log_index: u64,
    pub time_ms: u64,
    pub epoch: u64,
    pub event: TaskEvent,
}

/// A tool call's arguments as the tool receives them: the JSON text must be an object.
/// The one parse of arguments: `apply()` denies a call whose arguments fail it, and the
/// runtime does not make such a call.
pub fn tool_arguments(
    text: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, &'static str> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err("arguments are not a JSON object"),
        Err(_) => Err("arguments are not valid JSON"),
    }
}

/// JSON text in canonical form: object keys sorted, no insignificant whitespace. Two
/// encodings of the same arguments get the same hash whatever order a model wrote them in.
pub fn canonical_json(text: &str) -> Result<String, serde_json::Error> {
    let value: serde_json::Value = serde_json::from_str(text)?;
    let mut out = String::with_capacity(text.len());
    write_canonical(&value, &mut out);
    Ok(out)
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(inner) = map.get(key) {
                    write_canonical(inner, out);
                }
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tool_argument_tests {
    use super::tool_arguments;

    #[test]
    fn only_a_json_object_is_a_tool_call_s_arguments() {
        assert_eq!(tool_arguments(r#"{"key":"a"}"#).map(|map| map.len()), Ok(1));
        for (text, problem) in [
            ("[1]", "arguments are not a JSON object"),
            ("3", "arguments are not a JSON object"),
            ("null", "arguments are not a JSON object"),
            ("{nope", "arguments are not valid JSON"),
        ] {
            assert_eq!(tool_arguments(text).err(), Some(problem), "{text}");
        }
    }
}
