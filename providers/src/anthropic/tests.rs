//! Tests of the Anthropic wire mapping: request bodies, responses, error bodies.

use super::*;
use crate::request::ToolSpec;

#[test]
fn request_body_matches_the_wire_format() {
    let request = CompletionRequest {
        system: Some("be brief".to_owned()),
        messages: vec![
            Message::User {
                content: "hi".to_owned(),
            },
            Message::Assistant {
                content: "calling".to_owned(),
                tool_calls: vec![
                    ToolCall {
                        id: "call_0_0".to_owned(),
                        name: "a".to_owned(),
                        arguments: json!({"x": 1}),
                    },
                    ToolCall {
                        id: "call_0_1".to_owned(),
                        name: "b".to_owned(),
                        arguments: json!({}),
                    },
                ],
            },
            Message::User {
                content: "also this".to_owned(),
            },
            Message::ToolResult {
                call_id: "call_0_0".to_owned(),
                content: "ok".to_owned(),
                is_error: false,
            },
            Message::ToolResult {
                call_id: "call_0_1".to_owned(),
                content: "failed".to_owned(),
                is_error: true,
            },
            Message::Assistant {
                content: String::new(),
                tool_calls: vec![ToolCall {
                    id: "call_1_0".to_owned(),
                    name: "a".to_owned(),
                    arguments: json!({"x": 2}),
                }],
            },
        ],
        tools: vec![ToolSpec {
            name: "a".to_owned(),
            description: "does a".to_owned(),
            input_schema: json!({"type": "object"}),
        }],
    };
    assert_eq!(
        request_body("claude", 128, &request),
        json!({
            "model": "claude",
            "max_tokens": 128,
            "system": "be brief",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "calling"},
                    {"type": "tool_use", "id": "call_0_0", "name": "a", "input": {"x": 1}},
                    {"type": "tool_use", "id": "call_0_1", "name": "b", "input": {}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "call_0_0", "content": "ok",
                     "is_error": false},
                    {"type": "tool_result", "tool_use_id": "call_0_1", "content": "failed",
                     "is_error": true},
                    {"type": "text", "text": "also this"},
                ]},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "call_1_0", "name": "a", "input": {"x": 2}},
                ]},
            ],
            "tools": [{"name": "a", "description": "does a", "input_schema": {"type": "object"}}],
        })
    );
}

#[test]
fn parses_text_tool_use_usage_and_stop() -> Result<(), String> {
    let body = json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "s"},
            {"type": "text", "text": "let me "},
            {"type": "text", "text": "check"},
            {"type": "tool_use", "id": "toolu_1", "name": "a", "input": {"x": 1}},
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 10, "output_tokens": 4, "cache_read_input_tokens": 5,
                  "cache_creation_input_tokens": null},
    });
    let completion = parse_completion(body.to_string().as_bytes())?;
    assert_eq!(completion.content, "let me check");
    assert_eq!(completion.tool_calls.len(), 1);
    assert_eq!(completion.tool_calls[0].arguments, json!({"x": 1}));
    assert_eq!(
        completion.usage,
        Usage {
            input_tokens: 15,
            output_tokens: 4
        }
    );
    assert_eq!(completion.stop, StopReason::ToolUse);
    Ok(())
}

#[test]
fn stop_reasons_map() -> Result<(), String> {
    for (wire, expected) in [
        ("end_turn", StopReason::EndTurn),
        ("tool_use", StopReason::ToolUse),
        ("max_tokens", StopReason::MaxTokens),
        ("refusal", StopReason::Other("refusal".to_owned())),
    ] {
        let body = json!({"content": [], "stop_reason": wire,
                          "usage": {"input_tokens": 1, "output_tokens": 1}});
        assert_eq!(
            parse_completion(body.to_string().as_bytes())?.stop,
            expected
        );
    }
    Ok(())
}

#[test]
fn malformed_responses_are_rejected() {
    let usage = json!({"input_tokens": 1, "output_tokens": 1});
    for body in [
        json!({"content": [{"type": "tool_use", "id": "t", "name": "a", "input": "{\"x\":"}],
               "stop_reason": "tool_use", "usage": usage}),
        json!({"content": [], "stop_reason": null, "usage": usage}),
        json!({"content": [], "stop_reason": "end_turn"}),
        json!({"type": "error", "error": {"type": "api_error", "message": "x"}}),
    ] {
        assert!(
            parse_completion(body.to_string().as_bytes()).is_err(),
            "{body}"
        );
    }
    assert!(parse_completion(b"{\"content\": [").is_err());
}

#[test]
fn error_messages_are_extracted() {
    let body = br#"{"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}"#;
    assert_eq!(
        error_message(body).as_deref(),
        Some("overloaded_error: busy")
    );
    assert_eq!(error_message(b"upstream connect error"), None);
}

#[test]
fn an_input_with_an_integer_beyond_64_bits_is_refused_naming_it() {
    let body = r#"{"content": [{"type": "tool_use", "id": "toolu_1", "name": "a",
        "input": {"amount": -123456789012345678901234567890}}],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 1, "output_tokens": 1}}"#;
    let error = parse_completion(body.as_bytes()).expect_err("a wide integer was rounded silently");
    assert!(error.contains("-123456789012345678901234567890"), "{error}");
}
