//! The OpenAI chat completions wire format, server side: what the scripted model accepts at
//! `POST /v1/chat/completions` and what it answers.

use axum::http::{HeaderMap, StatusCode, header::AUTHORIZATION};
use serde_json::{Value, json};

use super::fields;
use super::reply::{Reply, ReplyStop};
use super::transcript::{Transcript, TranscriptBuilder};

pub(crate) fn presented_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

pub(crate) fn transcript(body: &Value) -> Result<Transcript, String> {
    let model = fields::non_empty_string(body, "model", "")?;
    let messages = fields::non_empty_array(body, "messages", "")?;
    let max_tokens = fields::optional_positive_integer(body, "max_tokens")?.or(
        fields::optional_positive_integer(body, "max_completion_tokens")?,
    );
    check_tools(body)?;
    let mut builder = TranscriptBuilder::default();
    for (index, message) in messages.iter().enumerate() {
        let at = format!("messages[{index}]");
        match fields::string(message, "role", &at)? {
            "system" | "developer" => builder.system(&content_text(message, &at)?),
            "user" => builder.text(&content_text(message, &at)?),
            "assistant" => {
                let text = match message.get("content") {
                    None | Some(Value::Null) => String::new(),
                    Some(_) => content_text(message, &at)?,
                };
                let calls = fields::optional_array(message, "tool_calls", &at)?;
                let mut call_ids = Vec::with_capacity(calls.len());
                for (call_index, call) in calls.iter().enumerate() {
                    let call_at = format!("{at}.tool_calls[{call_index}]");
                    if fields::string(call, "type", &call_at)? != "function" {
                        return Err(format!("{call_at}.type must be \"function\""));
                    }
                    let function = fields::object(call, "function", &call_at)?;
                    let function_at = format!("{call_at}.function");
                    fields::non_empty_string(function, "name", &function_at)?;
                    // The wire carries arguments as JSON inside a string; an object here is
                    // the classic client bug this double exists to catch.
                    fields::string(function, "arguments", &function_at)?;
                    call_ids.push(fields::string(call, "id", &call_at)?);
                }
                builder.assistant(&text, call_ids)?;
            }
            "tool" => {
                let call_id = fields::string(message, "tool_call_id", &at)?;
                builder.tool_result(call_id, &content_text(message, &at)?)?;
            }
            other => {
                return Err(format!(
                    "{at}.role {other:?} is not one of system, developer, user, assistant, tool"
                ));
            }
        }
    }
    builder.finish(model.to_owned(), max_tokens)
}

fn check_tools(body: &Value) -> Result<(), String> {
    for (index, tool) in fields::optional_array(body, "tools", "")?
        .iter()
        .enumerate()
    {
        let at = format!("tools[{index}]");
        if fields::string(tool, "type", &at)? != "function" {
            return Err(format!("{at}.type must be \"function\""));
        }
        let function = fields::object(tool, "function", &at)?;
        fields::non_empty_string(function, "name", &format!("{at}.function"))?;
        if function
            .get("parameters")
            .is_some_and(|parameters| !parameters.is_object())
        {
            return Err(format!("{at}.function.parameters must be an object"));
        }
    }
    Ok(())
}

/// `content` is a string or an array of parts, of which the text parts count.
fn content_text(message: &Value, at: &str) -> Result<String, String> {
    match message.get("content") {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Array(parts)) => Ok(parts
            .iter()
            .filter(|part| part["type"] == "text")
            .filter_map(|part| part["text"].as_str())
            .collect()),
        _ => Err(format!(
            "{at}.content must be a string or an array of parts"
        )),
    }
}

pub(crate) fn reply_body(reply: &Reply) -> Value {
    let mut message = json!({
        "role": "assistant",
        "content": if reply.content.is_empty() && !reply.tool_calls.is_empty() {
            Value::Null
        } else {
            json!(reply.content)
        },
        "refusal": null,
    });
    if !reply.tool_calls.is_empty() {
        let calls = reply
            .tool_calls
            .iter()
            .map(|call| {
                let mut arguments = call.arguments.to_string();
                if reply.corrupt_arguments {
                    // An object's JSON without its closing brace does not parse.
                    arguments.pop();
                }
                json!({
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": arguments},
                })
            })
            .collect();
        message["tool_calls"] = Value::Array(calls);
    }
    let finish_reason = match reply.stop {
        ReplyStop::EndTurn => "stop",
        ReplyStop::ToolUse => "tool_calls",
        ReplyStop::MaxTokens => "length",
    };
    json!({
        "id": format!("chatcmpl-{}", reply.id),
        "object": "chat.completion",
        "created": 0,
        "model": reply.model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason,
        }],
        "usage": {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens,
        },
    })
}

pub(crate) fn error_body(status: StatusCode, message: &str) -> Value {
    let (kind, code) = match status.as_u16() {
        401 => ("invalid_request_error", json!("invalid_api_key")),
        429 => ("requests", json!("rate_limit_exceeded")),
        500..=599 => ("server_error", Value::Null),
        _ => ("invalid_request_error", Value::Null),
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}
