//! Shared fixtures: a client config, a scripted model from inline JSON, small requests.

use std::time::Duration;

use serde_json::{Value, json};
use warden_providers::scripted::{Script, ScriptedModel, ScriptedModelHandle};
use warden_providers::{
    ApiKey, CompletionRequest, Message, ModelClient, ProviderConfig, ProviderKind, ToolSpec,
};

pub const KEY: &str = "sk-test-key-5f3a9c71";

/// Generous timeout, fast retries: tests that need otherwise change the fields.
pub fn config(kind: ProviderKind, base_url: &str) -> ProviderConfig {
    ProviderConfig {
        kind,
        base_url: base_url.to_owned(),
        model: "scripted-1".to_owned(),
        api_key: Some(ApiKey::new(KEY)),
        request_timeout: Duration::from_secs(10),
        max_retries: 2,
        retry_backoff: Duration::from_millis(10),
        max_output_tokens: 1024,
    }
}

pub async fn start(script: Value) -> anyhow::Result<ScriptedModelHandle> {
    let script: Script = serde_json::from_value(script)?;
    Ok(ScriptedModel::start(script, "127.0.0.1:0".parse()?).await?)
}

pub fn client(kind: ProviderKind, model: &ScriptedModelHandle) -> anyhow::Result<ModelClient> {
    Ok(ModelClient::new(
        config(kind, &model.base_url()),
        &crate::common::egress(),
    )?)
}

/// A script of one tool-calling step, then "all done".
pub fn one_step_script() -> Value {
    json!({
        "steps": [{"tool_calls": [{"name": "ledger__append", "arguments": {"entry": "step-1"}}]}],
        "final": "all done",
    })
}

pub fn ledger_tool() -> ToolSpec {
    ToolSpec {
        name: "ledger__append".to_owned(),
        description: "Append an entry to the ledger".to_owned(),
        input_schema: json!({
            "type": "object",
            "properties": {"entry": {"type": "string"}},
            "required": ["entry"],
        }),
    }
}

pub fn first_turn() -> CompletionRequest {
    CompletionRequest {
        system: Some("You keep a ledger.".to_owned()),
        messages: vec![Message::User {
            content: "Append an entry.".to_owned(),
        }],
        tools: vec![ledger_tool()],
    }
}

/// The egress policy of these tests: the doubles listen on loopback.
pub fn egress() -> warden_egress::Policy {
    warden_egress::Policy::allowing([warden_egress::Allow::Class(warden_egress::Class::Loopback)])
}
