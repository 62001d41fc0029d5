//! A task's trace from its journal: a pure function of the task, its journal entries and
//! its provider. One trace per task whatever node ran which step, because its ids derive
//! from the task's id; the root span covers submission to the end, with one child per
//! model call, policy decision, approval wait and tool call. Attribute names follow the
//! OpenTelemetry GenAI semantic conventions where one applies (`gen_ai.*`), Warden's own
//! otherwise (`warden.*`). Content (the task's input and result, model output, tool
//! arguments and results) is left out unless the workspace's settings opt in; then it
//! goes in the GenAI conventions' opt-in attributes, each cut to [`MAX_CONTENT`] bytes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use serde_json::json;
use warden_core::{
    CallDecision, Hash, JournalEntry, Provider, ProviderKind, Task, TaskEvent, TaskId, TaskStatus,
    Usage, WorkspaceId,
};

/// The most of one content attribute a span carries, in bytes.
pub const MAX_CONTENT: usize = 16 * 1024;

/// The trace id of a task: the same on every node.
pub fn trace_id(workspace: &WorkspaceId, task: &TaskId) -> TraceId {
    let hash = Hash::of(format!("warden trace {}/{task}", workspace.as_str()).as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash.0[..16]);
    TraceId::from_bytes(bytes)
}

/// The id of the span for journal entry `seq` (`u64::MAX`: the task's root span).
fn span_id(workspace: &WorkspaceId, task: &TaskId, seq: u64) -> SpanId {
    let hash = Hash::of(format!("warden span {}/{task}/{seq}", workspace.as_str()).as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&hash.0[..8]);
    SpanId::from_bytes(bytes)
}

fn at(time_ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(time_ms)
}

/// A tool call a model asked for: its server, tool and arguments.
#[derive(Default, Clone)]
struct Asked {
    server: String,
    tool: String,
    arguments: String,
}

/// The tool calls the model asked for, by call id.
type Requested = HashMap<String, Asked>;

/// Builds the spans; `provider` is the agent's provider as it is now (for the model's
/// name and kind); `content` whether the workspace opted in to content.
pub struct TraceBuilder<'a> {
    task: &'a Task,
    provider: Option<&'a Provider>,
    content: bool,
    scope: InstrumentationScope,
    spans: Vec<SpanData>,
}

impl<'a> TraceBuilder<'a> {
    pub fn new(task: &'a Task, provider: Option<&'a Provider>, content: bool) -> TraceBuilder<'a> {
        TraceBuilder {
            task,
            provider,
            content,
            scope: InstrumentationScope::builder("warden")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
            spans: Vec::new(),
        }
    }

    /// The spans of the task's whole journal, the root span last.
    pub fn build(mut self, journal: &[JournalEntry]) -> Vec<SpanData> {
        let end_ms = journal
            .last()
            .map_or(self.task.submitted_ms, |entry| entry.time_ms);
        let mut requested = Requested::new();
        let mut previous_ms = self.task.submitted_ms;
        for (index, entry) in journal.iter().enumerate() {
            let later = &journal[index + 1..];
            match &entry.event {
                TaskEvent::ModelResponded {
                    turn,
                    content,
                    tool_calls,
                    usage,
                } => {
                    for call in tool_calls {
                        let name = |part: Option<&str>| part.unwrap_or_default().to_owned();
                        requested.insert(
                            call.call_id.clone(),
                            Asked {
                                server: name(call.server.as_ref().map(|server| server.as_str())),
                                tool: name(call.tool.as_ref().map(|tool| tool.as_str())),
                                arguments: call.arguments.clone(),
                            },
                        );
                    }
                    let mut attributes = self.model_attributes(*turn, tool_calls.len(), usage);
                    if self.content {
                        attributes.push(content_attribute(
                            "gen_ai.output.messages",
                            &output_messages(content, tool_calls),
                        ));
                    }
                    let model = self.provider.map(|p| p.model.clone()).unwrap_or_default();
                    self.child(
                        entry.seq,
                        format!("chat {model}"),
                        SpanKind::Client,
                        (previous_ms, entry.time_ms),
                        attributes,
                        Status::Unset,
                    );
                }
                TaskEvent::ToolCallDecided {
                    call_id,
                    decision,
                    policy_version,
                    ..
                }
                | TaskEvent::DecisionChanged {
                    call_id,
                    decision,
                    policy_version,
                    ..
                } => {
                    let changed = matches!(entry.event, TaskEvent::DecisionChanged { .. });
                    let mut attributes = self.tool_attributes(&requested, call_id);
                    attributes.extend(decision_attributes(decision, *policy_version, changed));
                    self.child(
                        entry.seq,
                        "warden.policy.decide".to_owned(),
                        SpanKind::Internal,
                        (entry.time_ms, entry.time_ms),
                        attributes,
                        Status::Unset,
                    );
                }
                TaskEvent::ApprovalRequested { call_id, rule, .. } => {
                    let (until_ms, outcome) =
                        approval_end(later, call_id).unwrap_or((end_ms, "unanswered"));
                    let mut attributes = self.tool_attributes(&requested, call_id);
                    attributes.push(KeyValue::new("warden.policy.rule", rule.clone()));
                    attributes.push(KeyValue::new("warden.approval.outcome", outcome));
                    attributes.push(KeyValue::new(
                        "warden.approval.approvers",
                        approvers(later, call_id),
                    ));
                    self.child(
                        entry.seq,
                        "warden.approval.wait".to_owned(),
                        SpanKind::Internal,
                        (entry.time_ms, until_ms),
                        attributes,
                        Status::Unset,
                    );
                }
                TaskEvent::ToolCallStarted {
                    call_id, attempt, ..
                } => {
                    self.tool_call(entry, later, &requested, (call_id, *attempt), end_ms);
                }
                _ => {}
            }
            previous_ms = entry.time_ms;
        }
        self.root(end_ms);
        self.spans
    }

    fn model_attributes(&self, turn: u32, tool_calls: usize, usage: &Usage) -> Vec<KeyValue> {
        let model = self.provider.map(|p| p.model.clone()).unwrap_or_default();
        let mut attributes = vec![
            KeyValue::new("gen_ai.operation.name", "chat"),
            KeyValue::new("gen_ai.request.model", model),
            KeyValue::new("gen_ai.usage.input_tokens", usage.input_tokens as i64),
            KeyValue::new("gen_ai.usage.output_tokens", usage.output_tokens as i64),
            KeyValue::new("warden.turn", i64::from(turn)),
            KeyValue::new("warden.tool_calls", tool_calls as i64),
        ];
        if let Some(provider) = self.provider {
            attributes.push(KeyValue::new(
                "gen_ai.provider.name",
                match provider.kind {
                    ProviderKind::OpenAi => "openai",
                    ProviderKind::Anthropic => "anthropic",
                },
            ));
        }
        attributes
    }

    /// The span of a tool call started at `entry`: until it finished, or, interrupted,
    /// until the trace's end.
    fn tool_call(
        &mut self,
        entry: &JournalEntry,
        later: &[JournalEntry],
        requested: &Requested,
        (call_id, attempt): (&str, u32),
        end_ms: u64,
    ) {
        let finished = later.iter().find_map(|next| match &next.event {
            TaskEvent::ToolCallFinished {
                call_id: finished,
                output,
                is_error,
            } if finished == call_id => Some((next.time_ms, *is_error, output)),
            _ => None,
        });
        let tool = requested
            .get(call_id)
            .map(|asked| asked.tool.clone())
            .unwrap_or_default();
        let mut attributes = self.tool_attributes(requested, call_id);
        attributes.push(KeyValue::new("gen_ai.operation.name", "execute_tool"));
        attributes.push(KeyValue::new("warden.tool.attempt", i64::from(attempt)));
        if self.content {
            if let Some(asked) = requested.get(call_id) {
                attributes.push(content_attribute(
                    "gen_ai.tool.call.arguments",
                    &asked.arguments,
                ));
            }
            if let Some((_, _, output)) = finished {
                attributes.push(content_attribute("gen_ai.tool.call.result", output));
            }
        }
        let (span_end, status) = match finished {
            Some((time_ms, false, _)) => (time_ms, Status::Unset),
            Some((time_ms, true, _)) => {
                attributes.push(KeyValue::new("error.type", "tool_error"));
                (time_ms, Status::error("the tool answered with an error"))
            }
            None => {
                attributes.push(KeyValue::new("error.type", "interrupted"));
                (end_ms, Status::error("the call did not finish"))
            }
        };
        self.child(
            entry.seq,
            format!("execute_tool {tool}"),
            SpanKind::Internal,
            (entry.time_ms, span_end),
            attributes,
            status,
        );
    }

    /// The attributes every span of the task carries.
    fn common(&self) -> Vec<KeyValue> {
        vec![
            KeyValue::new("warden.workspace", self.task.workspace.as_str().to_owned()),
            KeyValue::new("gen_ai.agent.name", self.task.agent.as_str().to_owned()),
            KeyValue::new("warden.task.id", self.task.id.to_string()),
            KeyValue::new("warden.principal", self.task.submitted_by.to_string()),
        ]
    }

    fn tool_attributes(&self, requested: &Requested, call_id: &str) -> Vec<KeyValue> {
        let Asked { server, tool, .. } = requested.get(call_id).cloned().unwrap_or_default();
        vec![
            KeyValue::new("gen_ai.tool.name", tool),
            KeyValue::new("gen_ai.tool.call.id", call_id.to_owned()),
            KeyValue::new("warden.mcp.server", server),
        ]
    }

    fn context(&self, seq: u64) -> SpanContext {
        SpanContext::new(
            trace_id(&self.task.workspace, &self.task.id),
            span_id(&self.task.workspace, &self.task.id, seq),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        )
    }

    fn child(
        &mut self,
        seq: u64,
        name: String,
        kind: SpanKind,
        (start_ms, end_ms): (u64, u64),
        mut attributes: Vec<KeyValue>,
        status: Status,
    ) {
        let mut all = self.common();
        all.append(&mut attributes);
        self.spans.push(SpanData {
            span_context: self.context(seq),
            parent_span_id: span_id(&self.task.workspace, &self.task.id, u64::MAX),
            parent_span_is_remote: false,
            span_kind: kind,
            name: Cow::Owned(name),
            start_time: at(start_ms),
            end_time: at(end_ms.max(start_ms)),
            attributes: all,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status,
            instrumentation_scope: self.scope.clone(),
        });
    }

    fn root(&mut self, end_ms: u64) {
        let mut attributes = self.common();
        if self.content {
            let user = json!([{"role": "user",
                               "parts": [{"type": "text", "content": self.task.input}]}]);
            attributes.push(content_attribute(
                "gen_ai.input.messages",
                &user.to_string(),
            ));
            if let Some(result) = &self.task.result {
                let answer = json!([{"role": "assistant",
                                     "parts": [{"type": "text", "content": result}],
                                     "finish_reason": "stop"}]);
                attributes.push(content_attribute(
                    "gen_ai.output.messages",
                    &answer.to_string(),
                ));
            }
        }
        attributes.push(KeyValue::new("gen_ai.operation.name", "invoke_agent"));
        attributes.push(KeyValue::new(
            "warden.task.status",
            self.task.status.as_str(),
        ));
        attributes.push(KeyValue::new(
            "warden.task.turns",
            i64::from(self.task.turns),
        ));
        attributes.push(KeyValue::new(
            "warden.task.tokens",
            self.task.tokens_used as i64,
        ));
        let status = match self.task.status {
            TaskStatus::Completed => Status::Ok,
            _ => Status::error(self.task.reason.clone().unwrap_or_default()),
        };
        self.spans.push(SpanData {
            span_context: self.context(u64::MAX),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: Cow::Owned(format!("invoke_agent {}", self.task.agent.as_str())),
            start_time: at(self.task.submitted_ms),
            end_time: at(end_ms.max(self.task.submitted_ms)),
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status,
            instrumentation_scope: self.scope.clone(),
        });
    }
}

/// A decision's outcome, rule and policy version; `changed` when it was decided again at
/// the call's start and came out otherwise.
/// A content attribute, cut to [`MAX_CONTENT`] bytes.
fn content_attribute(name: &'static str, text: &str) -> KeyValue {
    KeyValue::new(name, warden_core::cut_text(text, MAX_CONTENT))
}

/// A model response in the GenAI conventions' message form: its text, then the tool
/// calls it asked for.
fn output_messages(content: &str, tool_calls: &[warden_core::RequestedCall]) -> String {
    let mut parts = Vec::new();
    if !content.is_empty() {
        parts.push(json!({"type": "text", "content": content}));
    }
    for call in tool_calls {
        let arguments: serde_json::Value = serde_json::from_str(&call.arguments)
            .unwrap_or_else(|_| serde_json::Value::String(call.arguments.clone()));
        parts.push(json!({"type": "tool_call", "id": call.call_id,
                          "name": call.function, "arguments": arguments}));
    }
    let finish_reason = if tool_calls.is_empty() {
        "stop"
    } else {
        "tool_call"
    };
    json!([{"role": "assistant", "parts": parts, "finish_reason": finish_reason}]).to_string()
}

fn decision_attributes(
    decision: &CallDecision,
    policy_version: u64,
    changed: bool,
) -> Vec<KeyValue> {
    let (outcome, rule) = match decision {
        CallDecision::Allowed { rule, .. } => ("allowed", Some(rule.clone())),
        CallDecision::Denied { rule, .. } => ("denied", rule.clone()),
        CallDecision::ApprovalRequired { rule, .. } => ("approval_required", Some(rule.clone())),
    };
    vec![
        KeyValue::new("warden.decision", outcome),
        KeyValue::new("warden.decision.changed", changed),
        KeyValue::new("warden.policy.rule", rule.unwrap_or_default()),
        KeyValue::new("warden.policy.version", policy_version as i64),
    ]
}

/// When the approval request for `call_id` ended and how: the quorum granted it, a denial,
/// or expiry.
fn approval_end(later: &[JournalEntry], call_id: &str) -> Option<(u64, &'static str)> {
    later.iter().find_map(|entry| match &entry.event {
        TaskEvent::ApprovalDecided {
            call_id: decided,
            approved: false,
            ..
        } if decided == call_id => Some((entry.time_ms, "denied")),
        TaskEvent::ApprovalDecided {
            call_id: decided,
            granted: true,
            ..
        } if decided == call_id => Some((entry.time_ms, "granted")),
        TaskEvent::ApprovalExpired {
            call_id: expired, ..
        } if expired == call_id => Some((entry.time_ms, "expired")),
        _ => None,
    })
}

/// Who decided on the approval request for `call_id`, comma-separated.
fn approvers(later: &[JournalEntry], call_id: &str) -> String {
    later
        .iter()
        .filter_map(|entry| match &entry.event {
            TaskEvent::ApprovalDecided {
                call_id: decided,
                by,
                ..
            } if decided == call_id => Some(by.to_string()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(",")
}
