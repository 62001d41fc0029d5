//! The scripted answer to one turn, before it is put into either wire format.

use serde_json::Value;

use super::script::Script;
use super::transcript::Transcript;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub id: String,
    pub model: String,
    pub content: String,
    pub tool_calls: Vec<ReplyCall>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub stop: ReplyStop,
    /// Set by the `bad_tool_arguments` fault: the wire module garbles the arguments.
    pub corrupt_arguments: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ReplyCall {
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplyStop {
    EndTurn,
    ToolUse,
    MaxTokens,
}

impl Reply {
    /// Turn `n` answers with `steps[n]`, or with the final text past the steps. A turn whose
    /// scripted output exceeds the request's `max_tokens` is cut there, as a real model's
    /// would be: the text is kept, the tool calls are lost.
    pub fn for_turn(script: &Script, transcript: &Transcript) -> Reply {
        let turn = transcript.turn;
        let (content, tool_calls, output_tokens) = match script.steps.get(turn) {
            Some(step) => {
                let calls = step
                    .tool_calls
                    .iter()
                    .enumerate()
                    .map(|(index, call)| ReplyCall {
                        id: format!("call_{turn}_{index}"),
                        name: call.name.clone(),
                        arguments: with_input(&call.arguments, &transcript.first_user_text),
                    })
                    .collect();
                (step.content.clone(), calls, step.output_tokens)
            }
            None => (
                script
                    .final_text
                    .replace(LAST_RESULT_PLACEHOLDER, &transcript.last_tool_result),
                Vec::new(),
                script.final_output_tokens,
            ),
        };
        let mut reply = Reply {
            id: format!("scripted_{turn}"),
            model: transcript.model.clone(),
            stop: if tool_calls.is_empty() {
                ReplyStop::EndTurn
            } else {
                ReplyStop::ToolUse
            },
            content,
            tool_calls,
            input_tokens: transcript.input_tokens(),
            output_tokens,
            corrupt_arguments: false,
        };
        if let Some(max_tokens) = transcript.max_tokens
            && output_tokens > max_tokens
        {
            reply.output_tokens = max_tokens;
            reply.tool_calls.clear();
            reply.stop = ReplyStop::MaxTokens;
        }
        reply
    }
}

/// `{{input}}` in any string of `arguments`, at any depth, becomes `input` (the task's
/// input), so that one script gives every task its own arguments.
fn with_input(arguments: &Value, input: &str) -> Value {
    match arguments {
        Value::String(text) => Value::String(text.replace(INPUT_PLACEHOLDER, input)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| with_input(item, input)).collect())
        }
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, value)| (name.clone(), with_input(value, input)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// What `with_input` replaces.
pub const INPUT_PLACEHOLDER: &str = "{{input}}";

/// What becomes the last tool result's content in the final text.
pub const LAST_RESULT_PLACEHOLDER: &str = "{{last_result}}";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn script() -> Result<Script, serde_json::Error> {
        serde_json::from_value(json!({
            "steps": [
                {"tool_calls": [{"name": "a", "arguments": {"x": 1}}, {"name": "b"}], "output_tokens": 20},
                {"tool_calls": [{"name": "c"}], "content": "again"},
            ],
            "final": "all done", "final_output_tokens": 10,
        }))
    }

    fn transcript(turn: usize, max_tokens: Option<u64>) -> Transcript {
        Transcript {
            model: "m".to_owned(),
            max_tokens,
            turn,
            content_chars: 41,
            first_user_text: "task 7".to_owned(),
            last_tool_result: "yes, ship it".to_owned(),
        }
    }

    #[test]
    fn the_last_result_placeholder_in_the_final_text_becomes_the_last_tool_result()
    -> Result<(), serde_json::Error> {
        let script: Script = serde_json::from_value(json!({
            "steps": [], "final": "answer: {{last_result}}",
        }))?;
        let reply = Reply::for_turn(&script, &transcript(0, None));
        assert_eq!(reply.content, "answer: yes, ship it");
        Ok(())
    }

    #[test]
    fn the_input_placeholder_becomes_the_first_user_text() -> Result<(), serde_json::Error> {
        let script: Script = serde_json::from_value(json!({
            "steps": [{"tool_calls": [{"name": "a", "arguments": {
                "entry": "{{input}}/step-1", "nested": [{"k": "{{input}}"}], "n": 3
            }}]}],
            "final": "done",
        }))?;
        let reply = Reply::for_turn(&script, &transcript(0, None));
        assert_eq!(
            reply.tool_calls[0].arguments,
            json!({"entry": "task 7/step-1", "nested": [{"k": "task 7"}], "n": 3})
        );
        Ok(())
    }

    #[test]
    fn turns_follow_the_steps_then_the_final_text() -> Result<(), serde_json::Error> {
        let script = script()?;
        let first = Reply::for_turn(&script, &transcript(0, None));
        assert_eq!(first.stop, ReplyStop::ToolUse);
        let ids: Vec<_> = first
            .tool_calls
            .iter()
            .map(|call| call.id.as_str())
            .collect();
        assert_eq!(ids, ["call_0_0", "call_0_1"]);
        assert_eq!(first.tool_calls[0].arguments, json!({"x": 1}));
        assert_eq!((first.input_tokens, first.output_tokens), (10, 20));
        let second = Reply::for_turn(&script, &transcript(1, None));
        assert_eq!(
            (second.content.as_str(), second.tool_calls[0].id.as_str()),
            ("again", "call_1_0")
        );
        assert_eq!(second.output_tokens, 16);
        for turn in [2, 7] {
            let last = Reply::for_turn(&script, &transcript(turn, None));
            assert_eq!(last.content, "all done");
            assert!(last.tool_calls.is_empty());
            assert_eq!((last.stop, last.output_tokens), (ReplyStop::EndTurn, 10));
        }
        Ok(())
    }

    #[test]
    fn output_beyond_max_tokens_is_cut() -> Result<(), serde_json::Error> {
        let cut = Reply::for_turn(&script()?, &transcript(0, Some(5)));
        assert_eq!((cut.stop, cut.output_tokens), (ReplyStop::MaxTokens, 5));
        assert!(cut.tool_calls.is_empty());
        let fits = Reply::for_turn(&script()?, &transcript(0, Some(20)));
        assert_eq!(fits.stop, ReplyStop::ToolUse);
        Ok(())
    }
}
