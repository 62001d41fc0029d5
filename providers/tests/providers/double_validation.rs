//! The scripted model rejects the requests a buggy client might send, with a 400 in the
//! provider's own error format, and the client does not retry it.

use serde_json::{Value, json};
use warden_providers::scripted::ScriptedModelHandle;
use warden_providers::{Error, Message, ProviderKind};

use crate::common::{KEY, client, first_turn, one_step_script, start};

async fn post(
    model: &ScriptedModelHandle,
    path: &str,
    body: Value,
    anthropic_version: bool,
) -> anyhow::Result<(u16, Value)> {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", model.base_url()))
        .json(&body);
    if anthropic_version {
        request = request.header("anthropic-version", "2023-06-01");
    }
    let response = request.send().await?;
    Ok((response.status().as_u16(), response.json().await?))
}

#[tokio::test]
async fn openai_endpoint_rejects_client_bugs() -> anyhow::Result<()> {
    let model = start(one_step_script()).await?;
    let user = json!({"role": "user", "content": "hi"});
    let call = |arguments: Value| {
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_0_0", "type": "function",
             "function": {"name": "ledger__append", "arguments": arguments}}]})
    };
    let cases = [
        (json!({"messages": [user]}), "model"),
        (json!({"model": "m", "messages": []}), "messages"),
        (
            json!({"model": "m", "messages": [user, call(json!("{}")),
                   {"role": "tool", "tool_call_id": "call_9_9", "content": "x"}]}),
            "call_9_9",
        ),
        (
            json!({"model": "m", "messages": [user, call(json!({"entry": "x"})),
                   {"role": "tool", "tool_call_id": "call_0_0", "content": "x"}]}),
            "arguments",
        ),
        (
            json!({"model": "m", "messages": [user, call(json!("{}"))]}),
            "no tool result",
        ),
    ];
    for (body, mentioned) in cases {
        let (status, answer) = post(&model, "/chat/completions", body.clone(), false).await?;
        assert_eq!(status, 400, "{body}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(mentioned), "{body} -> {answer}");
        assert_eq!(answer["error"]["type"], "invalid_request_error");
    }
    Ok(())
}

#[tokio::test]
async fn anthropic_endpoint_rejects_client_bugs() -> anyhow::Result<()> {
    let model = start(one_step_script()).await?;
    let user = |text: &str| json!({"role": "user", "content": [{"type": "text", "text": text}]});
    let tool_use = json!({"role": "assistant", "content": [
        {"type": "tool_use", "id": "call_0_0", "name": "ledger__append", "input": {}}]});
    let cases = [
        (
            json!({"model": "m", "max_tokens": 10, "messages": [user("hi")]}),
            false,
            "anthropic-version",
        ),
        (
            json!({"model": "m", "messages": [user("hi")]}),
            true,
            "max_tokens",
        ),
        (
            json!({"model": "m", "max_tokens": 10, "messages": [user("a"), user("b")]}),
            true,
            "alternate",
        ),
        (
            json!({"model": "m", "max_tokens": 10, "messages": [user("hi"), tool_use,
                   {"role": "user", "content": [
                       {"type": "tool_result", "tool_use_id": "call_9_9", "content": "x"}]}]}),
            true,
            "call_9_9",
        ),
        (
            json!({"model": "m", "max_tokens": 10, "messages": [user("hi"), tool_use,
                   {"role": "user", "content": [
                       {"type": "text", "text": "first"},
                       {"type": "tool_result", "tool_use_id": "call_0_0", "content": "x"}]}]}),
            true,
            "before text",
        ),
    ];
    for (body, version, mentioned) in cases {
        let (status, answer) = post(&model, "/messages", body.clone(), version).await?;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["type"], "error");
        assert_eq!(answer["error"]["type"], "invalid_request_error");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(mentioned), "{body} -> {answer}");
    }
    Ok(())
}

#[tokio::test]
async fn a_valid_raw_request_is_answered() -> anyhow::Result<()> {
    let model = start(json!({"final": "ok", "require_api_key": KEY})).await?;
    let response = reqwest::Client::new()
        .post(format!("{}/chat/completions", model.base_url()))
        .bearer_auth(KEY)
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 200);
    let answer: Value = response.json().await?;
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["choices"][0]["message"]["content"], "ok");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert_eq!(answer["usage"]["total_tokens"], 16);
    Ok(())
}

for_both_providers!(a_rejected_request_is_not_retried);

async fn a_rejected_request_is_not_retried(kind: ProviderKind) -> anyhow::Result<()> {
    let model = start(one_step_script()).await?;
    let mut request = first_turn();
    request.messages.push(Message::ToolResult {
        call_id: "call_never_made".to_owned(),
        content: "x".to_owned(),
        is_error: false,
    });
    match client(kind, &model)?.complete(&request).await {
        Err(Error::Http {
            status: 400,
            message,
            ..
        }) => {
            assert!(message.contains("call_never_made"), "{message}");
        }
        other => anyhow::bail!("expected http 400, got {other:?}"),
    }
    assert_eq!(model.requests_served(), 1);
    Ok(())
}
