//! The script a scripted model follows: its format and the checks made before serving it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Output tokens reported for a turn whose script says nothing.
pub const DEFAULT_OUTPUT_TOKENS: u64 = 16;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// Turn `n` (the number of assistant messages already in the request) answers with
    /// `steps[n]` while there is one.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// The text of every turn past the steps.
    #[serde(rename = "final")]
    pub final_text: String,
    #[serde(default = "default_output_tokens")]
    pub final_output_tokens: u64,
    /// When set, a request without this key (`Authorization: Bearer` on the OpenAI endpoint,
    /// `x-api-key` on the Anthropic one) gets a 401.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_api_key: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<Fault>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[serde(default)]
    pub tool_calls: Vec<ScriptedToolCall>,
    /// Text sent along with the tool calls.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content: String,
    #[serde(default = "default_output_tokens")]
    pub output_tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedToolCall {
    pub name: String,
    /// A JSON object.
    #[serde(default = "empty_object")]
    pub arguments: Value,
}

/// Misbehaviour injected at one turn: it fires on the first `times` requests at that turn,
/// counted in memory since the server started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub turn: usize,
    pub kind: FaultKind,
    #[serde(default = "one")]
    pub times: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// `{"status": 500}`: answer with this status and the provider's error body.
    Status(u16),
    /// `{"delay_ms": 3000}`: wait this long, then answer normally.
    DelayMs(u64),
    /// `"malformed_body"`: a 200 whose body is not JSON.
    MalformedBody,
    /// `"bad_tool_arguments"`: the turn's tool calls carry arguments that are not a JSON
    /// object (OpenAI: an unparseable `arguments` string; Anthropic: `input` as a string).
    BadToolArguments,
}

fn default_output_tokens() -> u64 {
    DEFAULT_OUTPUT_TOKENS
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

fn one() -> u32 {
    1
}

impl Script {
    /// Every problem with the script, for start-up to report all at once.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (step_index, step) in self.steps.iter().enumerate() {
            for (call_index, call) in step.tool_calls.iter().enumerate() {
                let at = format!("steps[{step_index}].tool_calls[{call_index}]");
                if call.name.is_empty() {
                    problems.push(format!("{at}.name must not be empty"));
                }
                if !call.arguments.is_object() {
                    problems.push(format!("{at}.arguments must be a json object"));
                }
            }
        }
        if self.require_api_key.as_ref().is_some_and(String::is_empty) {
            problems.push("require_api_key must not be empty".to_owned());
        }
        for (index, fault) in self.faults.iter().enumerate() {
            let at = format!("faults[{index}]");
            if fault.times == 0 {
                problems.push(format!("{at}.times must be positive"));
            }
            match fault.kind {
                FaultKind::Status(status) if !(400..=599).contains(&status) => {
                    problems.push(format!(
                        "{at}.kind.status must be an error status (400-599)"
                    ));
                }
                FaultKind::BadToolArguments if self.tool_calls_at(fault.turn).is_empty() => {
                    problems.push(format!(
                        "{at}: bad_tool_arguments needs a turn with tool calls, turn {} has none",
                        fault.turn
                    ));
                }
                _ => {}
            }
        }
        problems
    }

    pub(crate) fn tool_calls_at(&self, turn: usize) -> &[ScriptedToolCall] {
        self.steps
            .get(turn)
            .map(|step| step.tool_calls.as_slice())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_documented_format() -> Result<(), serde_json::Error> {
        let script: Script = serde_json::from_value(json!({
            "steps": [{"tool_calls": [{"name": "ledger__append", "arguments": {"entry": "step-1"}}],
                       "content": "optional text", "output_tokens": 20}],
            "final": "all done", "final_output_tokens": 10,
            "require_api_key": "sk-test",
            "faults": [{"turn": 1, "kind": {"status": 500}, "times": 2},
                       {"turn": 2, "kind": {"delay_ms": 3000}, "times": 1},
                       {"turn": 0, "kind": "malformed_body", "times": 1},
                       {"turn": 0, "kind": "bad_tool_arguments"}],
        }))?;
        assert_eq!(script.steps[0].output_tokens, 20);
        assert_eq!(script.final_text, "all done");
        assert_eq!(script.faults[0].kind, FaultKind::Status(500));
        assert_eq!(script.faults[1].kind, FaultKind::DelayMs(3000));
        assert_eq!(script.faults[2].kind, FaultKind::MalformedBody);
        assert_eq!(script.faults[3].kind, FaultKind::BadToolArguments);
        assert_eq!(script.faults[3].times, 1);
        assert!(script.problems().is_empty(), "{:?}", script.problems());
        let round_trip: Script = serde_json::from_value(serde_json::to_value(&script)?)?;
        assert_eq!(round_trip, script);
        Ok(())
    }

    #[test]
    fn defaults_apply() -> Result<(), serde_json::Error> {
        let script: Script = serde_json::from_value(json!({
            "steps": [{"tool_calls": [{"name": "t"}]}], "final": "done"}))?;
        assert_eq!(script.final_output_tokens, DEFAULT_OUTPUT_TOKENS);
        assert_eq!(script.steps[0].output_tokens, DEFAULT_OUTPUT_TOKENS);
        assert_eq!(script.steps[0].tool_calls[0].arguments, json!({}));
        Ok(())
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let typo = serde_json::from_value::<Script>(json!({"final": "x", "fault": []}));
        assert!(typo.is_err());
    }

    #[test]
    fn every_problem_is_reported() -> Result<(), serde_json::Error> {
        let script: Script = serde_json::from_value(json!({
            "steps": [{"tool_calls": [{"name": "", "arguments": [1]}]}],
            "final": "done", "require_api_key": "",
            "faults": [{"turn": 0, "kind": {"status": 200}},
                       {"turn": 1, "kind": "bad_tool_arguments"},
                       {"turn": 0, "kind": "malformed_body", "times": 0}],
        }))?;
        assert_eq!(script.problems().len(), 6, "{:?}", script.problems());
        Ok(())
    }
}
