//! The requests the client sends, captured by a raw server: endpoint, headers and body in
//! each provider's real wire format.

use serde_json::{Value, json};
use warden_providers::{CompletionRequest, Message, ModelClient, ProviderKind, ToolCall};

use crate::common::{KEY, config, ledger_tool};
use crate::raw_server::{Captured, RawServer, success};

fn conversation() -> CompletionRequest {
    CompletionRequest {
        system: Some("You keep a ledger.".to_owned()),
        messages: vec![
            Message::User {
                content: "Append an entry.".to_owned(),
            },
            Message::Assistant {
                content: String::new(),
                tool_calls: vec![ToolCall {
                    id: "call_0_0".to_owned(),
                    name: "ledger__append".to_owned(),
                    arguments: json!({"entry": "step-1"}),
                }],
            },
            Message::ToolResult {
                call_id: "call_0_0".to_owned(),
                content: "ledger is read-only".to_owned(),
                is_error: true,
            },
        ],
        tools: vec![ledger_tool()],
    }
}

async fn capture(kind: ProviderKind, with_key: bool) -> anyhow::Result<Captured> {
    let server = RawServer::start(move |_, _| success(kind)).await?;
    let mut config = config(kind, &server.base_url());
    if !with_key {
        config.api_key = None;
    }
    ModelClient::new(config, &crate::common::egress())?
        .complete(&conversation())
        .await?;
    let mut captured = server.captured();
    anyhow::ensure!(
        captured.len() == 1,
        "expected one request, got {}",
        captured.len()
    );
    Ok(captured.remove(0))
}

fn header<'a>(captured: &'a Captured, name: &str) -> Option<&'a str> {
    captured
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
}

#[tokio::test]
async fn openai_request_matches_chat_completions() -> anyhow::Result<()> {
    let captured = capture(ProviderKind::OpenAi, true).await?;
    assert_eq!(captured.path, "/v1/chat/completions");
    assert_eq!(
        header(&captured, "authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(header(&captured, "content-type"), Some("application/json"));
    assert_eq!(header(&captured, "x-api-key"), None);
    let body = &captured.body;
    assert_eq!(body["model"], "scripted-1");
    assert_eq!(body["max_tokens"], 1024);
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let roles: Vec<&str> = messages.iter().filter_map(|m| m["role"].as_str()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool"]);
    assert_eq!(messages[0]["content"], "You keep a ledger.");
    let call = &messages[2]["tool_calls"][0];
    assert_eq!(call["id"], "call_0_0");
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "ledger__append");
    let arguments = call["function"]["arguments"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("arguments must be a string: {call}"))?;
    assert_eq!(
        serde_json::from_str::<Value>(arguments)?,
        json!({"entry": "step-1"})
    );
    assert_eq!(messages[3]["tool_call_id"], "call_0_0");
    assert_eq!(messages[3]["content"], "error: ledger is read-only");
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][0]["function"]["name"], "ledger__append");
    assert_eq!(
        body["tools"][0]["function"]["parameters"],
        ledger_tool().input_schema
    );
    Ok(())
}

#[tokio::test]
async fn anthropic_request_matches_messages() -> anyhow::Result<()> {
    let captured = capture(ProviderKind::Anthropic, true).await?;
    assert_eq!(captured.path, "/v1/messages");
    assert_eq!(header(&captured, "x-api-key"), Some(KEY));
    assert_eq!(header(&captured, "anthropic-version"), Some("2023-06-01"));
    assert_eq!(header(&captured, "authorization"), None);
    let body = &captured.body;
    assert_eq!(body["model"], "scripted-1");
    assert_eq!(body["max_tokens"], 1024);
    assert_eq!(body["system"], "You keep a ledger.");
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "Append an entry."}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_0_0", "name": "ledger__append",
                 "input": {"entry": "step-1"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_0_0",
                 "content": "ledger is read-only", "is_error": true},
            ]},
        ])
    );
    assert_eq!(
        body["tools"],
        json!([{"name": "ledger__append", "description": "Append an entry to the ledger",
                "input_schema": ledger_tool().input_schema}])
    );
    Ok(())
}

for_both_providers!(no_key_means_no_credential_header);

async fn no_key_means_no_credential_header(kind: ProviderKind) -> anyhow::Result<()> {
    let captured = capture(kind, false).await?;
    assert_eq!(header(&captured, "authorization"), None);
    assert_eq!(header(&captured, "x-api-key"), None);
    Ok(())
}
