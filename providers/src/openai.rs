//! The OpenAI chat completions wire format, client side: request body, response and error
//! body. Also spoken by most self-hosted model servers.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::completion::{Completion, StopReason, Usage};
use crate::request::{CompletionRequest, Message, ToolCall};

/// `max_tokens` rather than the newer `max_completion_tokens`: every OpenAI-compatible server
/// reads the former, and OpenAI still accepts it for chat models.
pub(crate) fn request_body(
    model: &str,
    max_output_tokens: u32,
    request: &CompletionRequest,
) -> Value {
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = &request.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    messages.extend(request.messages.iter().map(message));
    let mut body = json!({
        "model": model,
        "messages": messages,
        "max_tokens": max_output_tokens,
    });
    // OpenAI rejects an empty `tools` array, so it is left out rather than sent empty.
    if !request.tools.is_empty() {
        let tools = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.input_schema,
                    },
                })
            })
            .collect();
        body["tools"] = Value::Array(tools);
    }
    body
}

fn message(message: &Message) -> Value {
    match message {
        Message::User { content } => json!({"role": "user", "content": content}),
        Message::Assistant {
            content,
            tool_calls,
        } if tool_calls.is_empty() => {
            json!({"role": "assistant", "content": content})
        }
        Message::Assistant {
            content,
            tool_calls,
        } => {
            let calls: Vec<Value> = tool_calls
                .iter()
                .map(|call| {
                    json!({
                        "id": call.id,
                        "type": "function",
                        // The wire carries arguments as a JSON document inside a string.
                        "function": {"name": call.name, "arguments": call.arguments.to_string()},
                    })
                })
                .collect();
            let content = if content.is_empty() {
                Value::Null
            } else {
                json!(content)
            };
            json!({"role": "assistant", "content": content, "tool_calls": calls})
        }
        Message::ToolResult {
            call_id,
            content,
            is_error,
        } => {
            // The format has no error flag for tool results, so the model is told in the text.
            let content = if *is_error {
                format!("error: {content}")
            } else {
                content.clone()
            };
            json!({"role": "tool", "tool_call_id": call_id, "content": content})
        }
    }
}

#[derive(Deserialize)]
struct ChatResponse {
    choices: Vec<Choice>,
    usage: ChatUsage,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct WireToolCall {
    id: String,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    arguments: String,
}

#[derive(Deserialize)]
struct ChatUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
}

/// Parses a success body; the error is the reason it is malformed.
pub(crate) fn parse_completion(body: &[u8]) -> Result<Completion, String> {
    let response: ChatResponse =
        serde_json::from_slice(body).map_err(|error| format!("not a chat completion: {error}"))?;
    let Some(choice) = response.choices.into_iter().next() else {
        return Err("no choices".to_owned());
    };
    let tool_calls = choice
        .message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .map(|call| {
            Ok(ToolCall {
                arguments: parse_arguments(&call.id, &call.function.arguments)?,
                id: call.id,
                name: call.function.name,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let stop = match choice.finish_reason.as_deref() {
        Some("stop") => StopReason::EndTurn,
        Some("tool_calls" | "function_call") => StopReason::ToolUse,
        Some("length") => StopReason::MaxTokens,
        Some(other) => StopReason::Other(other.to_owned()),
        None => return Err("choices[0].finish_reason is missing".to_owned()),
    };
    Ok(Completion {
        content: choice.message.content.unwrap_or_default(),
        tool_calls,
        usage: Usage {
            input_tokens: response.usage.prompt_tokens,
            output_tokens: response.usage.completion_tokens,
        },
        stop,
    })
}

/// Arguments arrive as a string holding JSON. Some servers send an empty string for a tool
/// without parameters, which means no arguments.
fn parse_arguments(call_id: &str, arguments: &str) -> Result<Value, String> {
    if arguments.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    if let Some(literal) = crate::wide_integers::first_wide_integer(arguments) {
        return Err(crate::wide_integers::refusal(
            &format!("tool call {call_id}"),
            literal,
        ));
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(object @ Value::Object(_)) => Ok(object),
        Ok(_) => Err(format!(
            "tool call {call_id} arguments are not a json object"
        )),
        Err(error) => Err(format!(
            "tool call {call_id} arguments are not json: {error}"
        )),
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorDetail {
    Object {
        message: String,
        #[serde(rename = "type", default)]
        kind: Option<String>,
    },
    // Some compatible servers send the message as a bare string.
    Text(String),
}

/// The message of an error body `{"error": {"message", "type"}}`, if the body is one.
pub(crate) fn error_message(body: &[u8]) -> Option<String> {
    match serde_json::from_slice::<ErrorBody>(body).ok()?.error {
        ErrorDetail::Object {
            message,
            kind: Some(kind),
        } => Some(format!("{kind}: {message}")),
        ErrorDetail::Object {
            message,
            kind: None,
        }
        | ErrorDetail::Text(message) => Some(message),
    }
}

#[cfg(test)]
mod tests;
