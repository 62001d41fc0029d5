//! The Anthropic Messages wire format, server side: what the scripted model accepts at
//! `POST /v1/messages` and what it answers.

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::fields;
use super::reply::{Reply, ReplyStop};
use super::transcript::{Transcript, TranscriptBuilder};

pub(crate) fn presented_key(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-api-key")?.to_str().ok()
}

pub(crate) fn check_headers(headers: &HeaderMap) -> Result<(), String> {
    match headers.get("anthropic-version") {
        Some(_) => Ok(()),
        None => Err("anthropic-version: header is required".to_owned()),
    }
}

/// Stricter than the real API in one way: consecutive messages of one role are an error here
/// (the API merges them), because the client promises to merge them itself.
pub(crate) fn transcript(body: &Value) -> Result<Transcript, String> {
    let model = fields::non_empty_string(body, "model", "")?;
    let Some(max_tokens) = fields::optional_positive_integer(body, "max_tokens")? else {
        return Err("max_tokens: field required".to_owned());
    };
    let messages = fields::non_empty_array(body, "messages", "")?;
    check_tools(body)?;
    let mut builder = TranscriptBuilder::default();
    match body.get("system") {
        None | Some(Value::Null) => {}
        Some(Value::String(system)) => builder.system(system),
        Some(Value::Array(blocks)) => builder.system(&texts(blocks, "system")?),
        Some(_) => return Err("system must be a string or an array of text blocks".to_owned()),
    }
    let mut previous_role = None;
    for (index, message) in messages.iter().enumerate() {
        let at = format!("messages[{index}]");
        let role = fields::string(message, "role", &at)?;
        if previous_role == Some(role) {
            return Err(format!(
                "{at}: roles must alternate between user and assistant"
            ));
        }
        previous_role = Some(role);
        let blocks = match message.get("content") {
            Some(Value::String(text)) => vec![json!({"type": "text", "text": text})],
            Some(Value::Array(blocks)) if !blocks.is_empty() => blocks.clone(),
            _ => {
                return Err(format!(
                    "{at}.content must be a string or a non-empty array"
                ));
            }
        };
        match role {
            "user" => user_blocks(&mut builder, &blocks, &at)?,
            "assistant" => assistant_blocks(&mut builder, &blocks, &at)?,
            other => return Err(format!("{at}.role {other:?} is not one of user, assistant")),
        }
    }
    builder.finish(model.to_owned(), Some(max_tokens))
}

fn user_blocks(builder: &mut TranscriptBuilder, blocks: &[Value], at: &str) -> Result<(), String> {
    let mut seen_text = false;
    for (index, block) in blocks.iter().enumerate() {
        let block_at = format!("{at}.content[{index}]");
        match fields::string(block, "type", &block_at)? {
            "text" => {
                seen_text = true;
                builder.text(fields::non_empty_string(block, "text", &block_at)?);
            }
            "tool_result" => {
                if seen_text {
                    return Err(format!(
                        "{block_at}: tool_result blocks must come before text"
                    ));
                }
                let call_id = fields::string(block, "tool_use_id", &block_at)?;
                if block.get("is_error").is_some_and(|flag| !flag.is_boolean()) {
                    return Err(format!("{block_at}.is_error must be a boolean"));
                }
                let content = match block.get("content") {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(text)) => text.clone(),
                    Some(Value::Array(parts)) => texts(parts, &format!("{block_at}.content"))?,
                    Some(_) => {
                        return Err(format!("{block_at}.content must be a string or blocks"));
                    }
                };
                builder.tool_result(call_id, &content)?;
            }
            "tool_use" => {
                return Err(format!(
                    "{block_at}: tool_use blocks belong to the assistant"
                ));
            }
            // Images, documents and the like carry no text to count.
            _ => {}
        }
    }
    Ok(())
}

fn assistant_blocks(
    builder: &mut TranscriptBuilder,
    blocks: &[Value],
    at: &str,
) -> Result<(), String> {
    let mut text = String::new();
    let mut call_ids = Vec::new();
    for (index, block) in blocks.iter().enumerate() {
        let block_at = format!("{at}.content[{index}]");
        match fields::string(block, "type", &block_at)? {
            "text" => text.push_str(fields::non_empty_string(block, "text", &block_at)?),
            "tool_use" => {
                fields::non_empty_string(block, "name", &block_at)?;
                fields::object(block, "input", &block_at)?;
                call_ids.push(fields::string(block, "id", &block_at)?);
            }
            "tool_result" => {
                return Err(format!("{block_at}: tool_result blocks belong to the user"));
            }
            _ => {}
        }
    }
    builder.assistant(&text, call_ids)
}

fn texts(blocks: &[Value], at: &str) -> Result<String, String> {
    let mut text = String::new();
    for (index, block) in blocks.iter().enumerate() {
        let block_at = format!("{at}[{index}]");
        if fields::string(block, "type", &block_at)? == "text" {
            text.push_str(fields::string(block, "text", &block_at)?);
        }
    }
    Ok(text)
}

fn check_tools(body: &Value) -> Result<(), String> {
    for (index, tool) in fields::optional_array(body, "tools", "")?
        .iter()
        .enumerate()
    {
        let at = format!("tools[{index}]");
        fields::non_empty_string(tool, "name", &at)?;
        fields::object(tool, "input_schema", &at)?;
    }
    Ok(())
}

pub(crate) fn reply_body(reply: &Reply) -> Value {
    let mut content = Vec::with_capacity(reply.tool_calls.len() + 1);
    if !reply.content.is_empty() {
        content.push(json!({"type": "text", "text": reply.content}));
    }
    content.extend(reply.tool_calls.iter().map(|call| {
        let input = if reply.corrupt_arguments {
            // A string where the object belongs.
            let mut garbled = call.arguments.to_string();
            garbled.pop();
            json!(garbled)
        } else {
            call.arguments.clone()
        };
        json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input})
    }));
    let stop_reason = match reply.stop {
        ReplyStop::EndTurn => "end_turn",
        ReplyStop::ToolUse => "tool_use",
        ReplyStop::MaxTokens => "max_tokens",
    };
    json!({
        "id": format!("msg_{}", reply.id),
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
    })
}

pub(crate) fn error_body(status: StatusCode, message: &str) -> Value {
    let kind = match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    };
    json!({"type": "error", "error": {"type": kind, "message": message}})
}
