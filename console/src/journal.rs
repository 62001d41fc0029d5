//! A task's journal as the task page shows it: one line per event, and its tool calls
//! with what was decided about each and how they ended. The live stream sends the same
//! lines, so a page that was loaded and one that watched read alike.

use serde::Serialize;
use serde_json::Value;
use warden_proto::v1::TaskEvent;

use crate::format;

/// The most of a text (an output, a model's answer) one line shows.
const EXCERPT: usize = 300;

#[derive(Debug, Clone, Serialize)]
pub struct EventLine {
    pub seq: u64,
    pub time: String,
    pub kind: String,
    pub summary: String,
    /// The task's status after the event, when the event sets it; empty otherwise.
    pub status: String,
}

/// One tool call the model asked for.
#[derive(Debug, Clone, Default)]
pub struct CallLine {
    pub call_id: String,
    pub tool: String,
    pub arguments: String,
    pub decision: String,
    pub rule: String,
    pub reason: String,
    /// running, ok, error, or empty when it never ran.
    pub outcome: String,
    pub output: String,
}

pub fn line(event: &TaskEvent) -> EventLine {
    let detail: Value = serde_json::from_str(&event.detail_json).unwrap_or(Value::Null);
    EventLine {
        seq: event.seq,
        time: format::time(event.time_ms),
        kind: event.kind.clone(),
        summary: summary(&event.kind, &detail),
        status: match event.status {
            0 => String::new(),
            status => format::status(status),
        },
    }
}

fn summary(kind: &str, detail: &Value) -> String {
    let field = |name: &str| text(&detail[name]);
    match kind {
        "submitted" => format!("submitted for agent {}", field("agent")),
        "assigned" => format!(
            "assigned to node {} (epoch {})",
            field("node"),
            field("epoch")
        ),
        "model_responded" => {
            let calls: Vec<String> = detail["tool_calls"]
                .as_array()
                .map(|calls| calls.iter().map(tool_of).collect())
                .unwrap_or_default();
            let content = field("content");
            let mut text = format!("turn {}", field("turn"));
            if !calls.is_empty() {
                text.push_str(&format!(": asks for {}", calls.join(", ")));
            }
            if !content.is_empty() {
                text.push_str(&format!(": {}", excerpt(&content)));
            }
            text
        }
        "tool_call_decided" | "decision_changed" => {
            let (decision, rule, reason) = decision_of(&detail["decision"]);
            let by = match rule.is_empty() {
                true => String::new(),
                false => format!(" by rule {rule}"),
            };
            format!("{}: {decision}{by}: {reason}", field("call_id"))
        }
        "tool_call_started" => format!(
            "{} started (attempt {})",
            field("call_id"),
            field("attempt")
        ),
        "tool_call_finished" => {
            let how = match detail["is_error"].as_bool() {
                Some(true) => "error",
                _ => "ok",
            };
            format!(
                "{} finished ({how}): {}",
                field("call_id"),
                excerpt(&field("output"))
            )
        }
        "needs_attention" => format!("{} needs attention: {}", field("call_id"), field("reason")),
        "approval_requested" => format!(
            "{} waits for approval of {}/{} (rule {}, {} of {} needed, expires {})",
            field("call_id"),
            field("server"),
            field("tool"),
            field("rule"),
            field("quorum"),
            text(&detail["approvers"]),
            format::time(detail["expires_at_ms"].as_u64().unwrap_or(0)),
        ),
        "approval_decided" => format!(
            "{} {} {}: {} ({} of {}{})",
            field("by"),
            match detail["approved"].as_bool() {
                Some(true) => "approved",
                _ => "denied",
            },
            field("call_id"),
            field("reason"),
            field("approvals"),
            field("quorum"),
            match detail["granted"].as_bool() {
                Some(true) => ", granted",
                _ => "",
            },
        ),
        "approval_expired" => format!("the approval request for {} expired", field("call_id")),
        "tool_definition_changed" => format!(
            "{}/{} offered another definition than the pinned one",
            field("server"),
            field("tool")
        ),
        "resolved" => format!(
            "{} resolved it: {}",
            field("by"),
            text(&detail["resolution"])
        ),
        "task_stalled" => format!("no progress for {} ms", field("idle_ms")),
        "completed" => format!("completed: {}", excerpt(&field("result"))),
        "failed" => format!("failed: {}", field("reason")),
        "cancelled" => format!("{} cancelled it: {}", field("by"), field("reason")),
        "timed_out" => format!(
            "deadline passed ({})",
            format::time(detail["deadline_at_ms"].as_u64().unwrap_or(0))
        ),
        "question_asked" => format!(
            "{} asks a person: {} (expires {})",
            field("call_id"),
            excerpt(&field("question")),
            format::time(detail["expires_at_ms"].as_u64().unwrap_or(0))
        ),
        "question_answered" => format!(
            "{} answered {}: {}",
            field("by"),
            field("call_id"),
            excerpt(&field("answer"))
        ),
        "question_expired" => format!("the question of {} expired unanswered", field("call_id")),
        "delegated" => format!(
            "{} handed to agent {} as task {}",
            field("call_id"),
            field("agent"),
            field("child")
        ),
        "child_ended" => format!(
            "task {} ended {}",
            field("child"),
            text(&detail["status"]).to_ascii_lowercase()
        ),
        _ => excerpt(&detail.to_string()),
    }
}

/// The tool calls of a journal, in the order the model asked for them.
pub fn calls(events: &[TaskEvent]) -> Vec<CallLine> {
    let mut calls: Vec<CallLine> = Vec::new();
    for event in events {
        let detail: Value = serde_json::from_str(&event.detail_json).unwrap_or(Value::Null);
        if event.kind == "model_responded" {
            for call in detail["tool_calls"].as_array().into_iter().flatten() {
                calls.push(CallLine {
                    call_id: text(&call["call_id"]),
                    tool: tool_of(call),
                    arguments: format::pretty_json(&text(&call["arguments"])),
                    ..CallLine::default()
                });
            }
            continue;
        }
        let call_id = text(&detail["call_id"]);
        let Some(call) = calls.iter_mut().rev().find(|call| call.call_id == call_id) else {
            continue;
        };
        match event.kind.as_str() {
            "tool_call_decided" | "decision_changed" => {
                let (decision, rule, reason) = decision_of(&detail["decision"]);
                (call.decision, call.rule, call.reason) = (decision.to_owned(), rule, reason);
            }
            "tool_call_started" => call.outcome = "running".to_owned(),
            "question_asked" => call.outcome = "waiting for an answer".to_owned(),
            "delegated" => call.outcome = format!("waiting for task {}", text(&detail["child"])),
            "tool_call_finished" => {
                call.outcome = match detail["is_error"].as_bool() {
                    Some(true) => "error",
                    _ => "ok",
                }
                .to_owned();
                call.output = excerpt(&text(&detail["output"]));
            }
            "approval_decided" if detail["granted"].as_bool() == Some(true) => {
                call.decision = "approved".to_owned();
            }
            _ => {}
        }
    }
    calls
}

/// `server/tool` of a requested call, or the model's function name when it named none.
fn tool_of(call: &Value) -> String {
    match (call["server"].as_str(), call["tool"].as_str()) {
        (Some(server), Some(tool)) => format!("{server}/{tool}"),
        _ => text(&call["function"]),
    }
}

/// A call decision's effect, rule and reason.
fn decision_of(decision: &Value) -> (&'static str, String, String) {
    let Some((variant, fields)) = decision.as_object().and_then(|object| object.iter().next())
    else {
        return ("unknown", String::new(), text(decision));
    };
    let effect = match variant.as_str() {
        "Allowed" => "allowed",
        "Denied" => "denied",
        "ApprovalRequired" => "approval required",
        _ => "unknown",
    };
    (effect, text(&fields["rule"]), text(&fields["reason"]))
}

/// A JSON value as text: strings as they are, null as nothing, the rest as JSON.
fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn excerpt(text: &str) -> String {
    if text.len() <= EXCERPT {
        return text.to_owned();
    }
    let mut end = EXCERPT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, kind: &str, detail: &str) -> TaskEvent {
        TaskEvent {
            seq,
            kind: kind.to_owned(),
            detail_json: detail.to_owned(),
            ..TaskEvent::default()
        }
    }

    #[test]
    fn calls_collect_their_decision_and_outcome() {
        let events = [
            event(
                1,
                "model_responded",
                r#"{"turn":0,"content":"","tool_calls":[{"call_id":"c1","function":"ledger__delete","server":"ledger","tool":"delete","arguments":"{\"key\":\"a\"}"}]}"#,
            ),
            event(
                2,
                "tool_call_decided",
                r#"{"call_id":"c1","decision":{"ApprovalRequired":{"rule":"deletes","reason":"needs a human","expires_at_ms":5}}}"#,
            ),
            event(
                3,
                "approval_decided",
                r#"{"call_id":"c1","by":"user/ann","approved":true,"reason":"ok","approvals":1,"quorum":1,"granted":true}"#,
            ),
            event(
                4,
                "tool_call_finished",
                r#"{"call_id":"c1","output":"deleted","is_error":false}"#,
            ),
        ];
        let calls = calls(&events);
        assert_eq!(calls.len(), 1);
        let call = &calls[0];
        assert_eq!(call.tool, "ledger/delete");
        assert_eq!(
            (call.decision.as_str(), call.rule.as_str()),
            ("approved", "deletes")
        );
        assert_eq!(
            (call.outcome.as_str(), call.output.as_str()),
            ("ok", "deleted")
        );
        assert!(
            call.arguments.contains("\"key\": \"a\""),
            "{}",
            call.arguments
        );
        assert_eq!(
            line(&events[1]).summary,
            "c1: approval required by rule deletes: needs a human"
        );
        assert_eq!(
            line(&events[2]).summary,
            "user/ann approved c1: ok (1 of 1, granted)"
        );
    }

    #[test]
    fn long_texts_are_cut_on_a_character_boundary() {
        let long = "é".repeat(400);
        let cut = excerpt(&long);
        assert!(
            cut.ends_with('…') && cut.len() <= EXCERPT + 3,
            "{}",
            cut.len()
        );
    }
}
