//! An agent task's tool calls, read from its journal: what each call asked for, how it
//! was decided, how often it was started, and how it ended. Shared by the checkers that
//! hold journals against the tool ledger and against the audit chain.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::history::JournalStep;

/// How the policy (and an approver) decided a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not decided yet.
    Undecided,
    Allowed,
    Denied,
    /// Waiting for an approver.
    Pending,
    ApprovalGranted,
    /// Refused by an approver, or expired.
    ApprovalRefused,
}

impl Verdict {
    /// Whether the call may run.
    pub fn permits(self) -> bool {
        matches!(self, Verdict::Allowed | Verdict::ApprovalGranted)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub call_id: String,
    pub tool: String,
    /// `arguments.entry` (append) or `arguments.key` (put): unique per task and turn.
    pub entry: String,
    pub verdict: Verdict,
    /// `tool_call_started` entries: one per attempt.
    pub starts: u32,
    /// `Some(is_error)` once a `tool_call_finished` was journaled.
    pub finished: Option<bool>,
    /// A `resolved` entry for this call (after it needed attention) said to skip it.
    pub skipped: bool,
}

/// The calls of one journal, by call id.
pub fn calls(journal: &[JournalStep]) -> BTreeMap<String, Call> {
    let mut calls: BTreeMap<String, Call> = BTreeMap::new();
    let mut attention: Option<String> = None;
    for step in journal {
        let detail: Value = serde_json::from_str(&step.detail_json).unwrap_or(Value::Null);
        let call_id = detail["call_id"].as_str().unwrap_or_default().to_owned();
        match step.kind.as_str() {
            "model_responded" => {
                for requested in detail["tool_calls"].as_array().into_iter().flatten() {
                    let arguments: Value = requested["arguments"]
                        .as_str()
                        .and_then(|text| serde_json::from_str(text).ok())
                        .unwrap_or(Value::Null);
                    let entry = arguments["entry"]
                        .as_str()
                        .or_else(|| arguments["key"].as_str())
                        .unwrap_or_default()
                        .to_owned();
                    let call_id = requested["call_id"].as_str().unwrap_or_default().to_owned();
                    calls.insert(
                        call_id.clone(),
                        Call {
                            call_id,
                            tool: requested["tool"].as_str().unwrap_or_default().to_owned(),
                            entry,
                            verdict: Verdict::Undecided,
                            starts: 0,
                            finished: None,
                            skipped: false,
                        },
                    );
                }
            }
            "tool_call_decided" => {
                if let Some(call) = calls.get_mut(&call_id) {
                    let decision = &detail["decision"];
                    call.verdict = if decision.get("Allowed").is_some() {
                        Verdict::Allowed
                    } else if decision.get("ApprovalRequired").is_some() {
                        Verdict::Pending
                    } else {
                        Verdict::Denied
                    };
                }
            }
            // Decided again when it was to start, and denied: it must not have run.
            "decision_changed" => {
                if let Some(call) = calls.get_mut(&call_id) {
                    call.verdict = Verdict::Denied;
                }
            }
            "approval_decided" => {
                if let Some(call) = calls.get_mut(&call_id) {
                    if detail["approved"] == Value::Bool(false) {
                        call.verdict = Verdict::ApprovalRefused;
                    } else if detail["granted"] == Value::Bool(true) {
                        call.verdict = Verdict::ApprovalGranted;
                    }
                }
            }
            "approval_expired" => {
                if let Some(call) = calls.get_mut(&call_id) {
                    call.verdict = Verdict::ApprovalRefused;
                }
            }
            "tool_call_started" => {
                if let Some(call) = calls.get_mut(&call_id) {
                    call.starts += 1;
                }
            }
            "tool_call_finished" => {
                if let Some(call) = calls.get_mut(&call_id) {
                    call.finished = Some(detail["is_error"] == Value::Bool(true));
                }
            }
            "needs_attention" => attention = Some(call_id),
            "resolved" => {
                let skipped = detail["resolution"].get("SkipWithResult").is_some();
                if let Some(call) = attention.take().and_then(|id| calls.get_mut(&id)) {
                    call.skipped |= skipped;
                }
            }
            _ => {}
        }
    }
    calls
}
