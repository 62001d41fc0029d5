//! Tests of the OpenAI wire mapping: request bodies, responses, error bodies.

use super::*;
use crate::request::ToolSpec;

fn conversation() -> CompletionRequest {
    CompletionRequest {
        system: Some("be brief".to_owned()),
        messages: vec![
            Message::User {
                content: "hi".to_owned(),
            },
            Message::Assistant {
                content: String::new(),
                tool_calls: vec![ToolCall {
                    id: "call_0_0".to_owned(),
                    name: "ledger__append".to_owned(),
                    arguments: json!({"entry": "x"}),
                }],
            },
            Message::ToolResult {
                call_id: "call_0_0".to_owned(),
                content: "boom".to_owned(),
                is_error: true,
            },
        ],
        tools: vec![ToolSpec {
            name: "ledger__append".to_owned(),
            description: "append".to_owned(),
            input_schema: json!({"type": "object"}),
        }],
    }
}

#[test]
fn request_body_matches_the_wire_format() {
    let body = request_body("gpt", 64, &conversation());
    assert_eq!(
        body,
        json!({
            "model": "gpt",
            "max_tokens": 64,
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_0_0", "type": "function",
                     "function": {"name": "ledger__append", "arguments": "{\"entry\":\"x\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_0_0", "content": "error: boom"},
            ],
            "tools": [{"type": "function", "function": {
                "name": "ledger__append", "description": "append",
                "parameters": {"type": "object"}}}],
        })
    );
}

#[test]
fn no_tools_means_no_tools_field() {
    let mut request = conversation();
    request.tools.clear();
    assert!(request_body("gpt", 64, &request).get("tools").is_none());
}

fn response(finish_reason: Value, arguments: &str) -> Vec<u8> {
    json!({
        "choices": [{"index": 0, "finish_reason": finish_reason, "message": {
            "role": "assistant", "content": null,
            "tool_calls": [{"id": "c1", "type": "function",
                            "function": {"name": "t", "arguments": arguments}}]}}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
    })
    .to_string()
    .into_bytes()
}

#[test]
fn parses_tool_calls_usage_and_stop() -> Result<(), String> {
    let completion = parse_completion(&response(json!("tool_calls"), "{\"a\": 1}"))?;
    assert_eq!(completion.tool_calls[0].arguments, json!({"a": 1}));
    assert_eq!(
        completion.usage,
        Usage {
            input_tokens: 7,
            output_tokens: 3
        }
    );
    assert_eq!(completion.stop, StopReason::ToolUse);
    assert_eq!(completion.content, "");
    let empty_arguments = parse_completion(&response(json!("stop"), ""))?;
    assert_eq!(empty_arguments.tool_calls[0].arguments, json!({}));
    assert_eq!(empty_arguments.stop, StopReason::EndTurn);
    assert_eq!(
        parse_completion(&response(json!("length"), "{}"))?.stop,
        StopReason::MaxTokens
    );
    assert_eq!(
        parse_completion(&response(json!("content_filter"), "{}"))?.stop,
        StopReason::Other("content_filter".to_owned())
    );
    Ok(())
}

#[test]
fn malformed_responses_are_rejected() {
    for body in [
        response(json!("stop"), "{\"a\": "),
        response(json!("stop"), "[1, 2]"),
        response(Value::Null, "{}"),
        b"not json".to_vec(),
        json!({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}})
            .to_string()
            .into_bytes(),
        json!({"choices": [{"message": {"content": "x"}, "finish_reason": "stop"}]})
            .to_string()
            .into_bytes(),
    ] {
        assert!(
            parse_completion(&body).is_err(),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
}

#[test]
fn error_messages_are_extracted() {
    let body = br#"{"error": {"message": "bad key", "type": "invalid_request_error"}}"#;
    assert_eq!(
        error_message(body).as_deref(),
        Some("invalid_request_error: bad key")
    );
    assert_eq!(
        error_message(br#"{"error": "overloaded"}"#).as_deref(),
        Some("overloaded")
    );
    assert_eq!(error_message(b"<html>"), None);
}

#[test]
fn arguments_with_an_integer_beyond_64_bits_are_refused_naming_it() {
    let body = response(
        json!("tool_calls"),
        r#"{"amount": 123456789012345678901234567890}"#,
    );
    let error = parse_completion(&body).expect_err("a wide integer was rounded silently");
    assert!(error.contains("tool call c1"), "{error}");
    assert!(error.contains("123456789012345678901234567890"), "{error}");
    // Within 64 bits, and inside strings, numbers pass as they are.
    let body = response(
        json!("tool_calls"),
        r#"{"max": 18446744073709551615, "id": "123456789012345678901234567890"}"#,
    );
    assert!(parse_completion(&body).is_ok());
}
