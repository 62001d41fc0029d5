//! The Anthropic Messages wire format, client side: request body, response and error body.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::completion::{Completion, StopReason, Usage};
use crate::request::{CompletionRequest, Message, ToolCall};

pub(crate) const API_VERSION: &str = "2023-06-01";

pub(crate) fn request_body(
    model: &str,
    max_output_tokens: u32,
    request: &CompletionRequest,
) -> Value {
    let mut body = json!({
        "model": model,
        "max_tokens": max_output_tokens,
        "messages": messages(&request.messages),
    });
    if let Some(system) = &request.system {
        body["system"] = json!(system);
    }
    if !request.tools.is_empty() {
        let tools = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": tool.input_schema,
                })
            })
            .collect();
        body["tools"] = Value::Array(tools);
    }
    body
}

/// Tool results travel in `user` messages, and consecutive messages of one role are merged
/// into one, so the roles alternate as the API expects. Within a user message the tool
/// results come before any text, which the API also requires.
fn messages(messages: &[Message]) -> Vec<Value> {
    let mut merged: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in messages {
        let (role, blocks) = blocks(message);
        match merged.last_mut() {
            Some((last_role, last_blocks)) if *last_role == role => last_blocks.extend(blocks),
            _ => merged.push((role, blocks)),
        }
    }
    merged
        .into_iter()
        .map(|(role, blocks)| {
            let (mut ordered, text): (Vec<Value>, Vec<Value>) = blocks
                .into_iter()
                .partition(|block| block["type"] == "tool_result");
            ordered.extend(text);
            json!({"role": role, "content": ordered})
        })
        .collect()
}

fn blocks(message: &Message) -> (&'static str, Vec<Value>) {
    match message {
        Message::User { content } => ("user", vec![text_block(content)]),
        Message::Assistant {
            content,
            tool_calls,
        } => {
            let mut blocks = Vec::with_capacity(tool_calls.len() + 1);
            // The API rejects empty text blocks; an assistant turn of only tool calls has none.
            if !content.is_empty() || tool_calls.is_empty() {
                blocks.push(text_block(content));
            }
            blocks.extend(tool_calls.iter().map(|call| {
                json!({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments})
            }));
            ("assistant", blocks)
        }
        Message::ToolResult {
            call_id,
            content,
            is_error,
        } => (
            "user",
            vec![json!({
                "type": "tool_result",
                "tool_use_id": call_id,
                "content": content,
                "is_error": is_error,
            })],
        ),
    }
}

fn text_block(text: &str) -> Value {
    json!({"type": "text", "text": text})
}

#[derive(Deserialize)]
struct MessagesResponse {
    content: Vec<Block>,
    stop_reason: Option<String>,
    usage: WireUsage,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    /// Thinking and server-tool blocks carry nothing this crate uses.
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct WireUsage {
    input_tokens: u64,
    output_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

/// Parses a success body; the error is the reason it is malformed.
pub(crate) fn parse_completion(body: &[u8]) -> Result<Completion, String> {
    let response: MessagesResponse =
        serde_json::from_slice(body).map_err(|error| format!("not a message: {error}"))?;
    // Tool inputs arrive as JSON objects inside the body, parsed with it, so the body is
    // scanned: nothing else in a message holds an integer beyond 64 bits.
    if let Some(literal) = std::str::from_utf8(body)
        .ok()
        .and_then(crate::wide_integers::first_wide_integer)
    {
        return Err(crate::wide_integers::refusal("a tool_use block's", literal));
    }
    let mut content = String::new();
    let mut tool_calls = Vec::new();
    for block in response.content {
        match block {
            Block::Text { text } => content.push_str(&text),
            Block::ToolUse { id, name, input } => {
                if !input.is_object() {
                    return Err(format!("tool_use {id} input is not a json object"));
                }
                tool_calls.push(ToolCall {
                    id,
                    name,
                    arguments: input,
                });
            }
            Block::Other => {}
        }
    }
    let stop = match response.stop_reason.as_deref() {
        Some("end_turn") => StopReason::EndTurn,
        Some("tool_use") => StopReason::ToolUse,
        Some("max_tokens") => StopReason::MaxTokens,
        Some(other) => StopReason::Other(other.to_owned()),
        None => return Err("stop_reason is missing".to_owned()),
    };
    let usage = response.usage;
    Ok(Completion {
        content,
        tool_calls,
        usage: Usage {
            // Anthropic counts cached prompt tokens apart; all of them are input, as OpenAI's
            // prompt_tokens counts them.
            input_tokens: usage.input_tokens
                + usage.cache_creation_input_tokens.unwrap_or(0)
                + usage.cache_read_input_tokens.unwrap_or(0),
            output_tokens: usage.output_tokens,
        },
        stop,
    })
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(rename = "type")]
    kind: String,
    message: String,
}

/// The message of an error body `{"type": "error", "error": {"type", "message"}}`.
pub(crate) fn error_message(body: &[u8]) -> Option<String> {
    let detail = serde_json::from_slice::<ErrorBody>(body).ok()?.error;
    Some(format!("{}: {}", detail.kind, detail.message))
}

#[cfg(test)]
mod tests;
