//! A full tool-calling conversation against the scripted model, in both wire formats: tool
//! calls, tool results, the final text, and usage counted as the script says.

use serde_json::json;
use warden_providers::{
    CompletionRequest, Message, ModelClient, ProviderKind, StopReason, ToolSpec, Usage,
};

use crate::common::{client, config, first_turn, one_step_script, start};

/// What the scripted model charges for a request: a quarter of the content's characters.
fn expected_input_tokens(request: &CompletionRequest) -> u64 {
    let mut chars = request
        .system
        .as_deref()
        .map_or(0, |system| system.chars().count());
    for message in &request.messages {
        chars += match message {
            Message::User { content }
            | Message::Assistant { content, .. }
            | Message::ToolResult { content, .. } => content.chars().count(),
        };
    }
    (chars / 4) as u64
}

for_both_providers!(tool_calling_conversation);

async fn tool_calling_conversation(kind: ProviderKind) -> anyhow::Result<()> {
    let model = start(json!({
        "steps": [
            {"tool_calls": [{"name": "ledger__append", "arguments": {"entry": "step-1"}}],
             "output_tokens": 20},
            {"tool_calls": [{"name": "ledger__append", "arguments": {"entry": "step-2"}},
                            {"name": "ledger__read"}],
             "content": "two more"},
        ],
        "final": "all done",
        "final_output_tokens": 10,
    }))
    .await?;
    let client = client(kind, &model)?;
    let mut request = first_turn();
    request.tools.push(ToolSpec {
        name: "ledger__read".to_owned(),
        description: "Read the ledger".to_owned(),
        input_schema: json!({"type": "object", "properties": {}}),
    });
    let mut total = Usage::default();
    let mut tool_turns = Vec::new();
    let last = loop {
        let completion = client.complete(&request).await?;
        assert_eq!(
            completion.usage.input_tokens,
            expected_input_tokens(&request)
        );
        total.input_tokens += completion.usage.input_tokens;
        total.output_tokens += completion.usage.output_tokens;
        if completion.tool_calls.is_empty() {
            break completion;
        }
        anyhow::ensure!(
            tool_turns.len() < 5,
            "the model never stopped calling tools"
        );
        assert_eq!(completion.stop, StopReason::ToolUse);
        let turn = tool_turns.len();
        for (index, call) in completion.tool_calls.iter().enumerate() {
            assert_eq!(call.id, format!("call_{turn}_{index}"));
            assert!(call.arguments.is_object());
        }
        tool_turns.push(completion.clone());
        request.messages.push(Message::Assistant {
            content: completion.content.clone(),
            tool_calls: completion.tool_calls.clone(),
        });
        for call in &completion.tool_calls {
            request.messages.push(Message::ToolResult {
                call_id: call.id.clone(),
                content: format!("appended {}", call.arguments),
                is_error: false,
            });
        }
    };
    assert_eq!(tool_turns.len(), 2);
    assert_eq!(tool_turns[0].tool_calls[0].name, "ledger__append");
    assert_eq!(
        tool_turns[0].tool_calls[0].arguments,
        json!({"entry": "step-1"})
    );
    assert_eq!(tool_turns[0].content, "");
    assert_eq!(tool_turns[1].content, "two more");
    assert_eq!(tool_turns[1].tool_calls[1].name, "ledger__read");
    assert_eq!(tool_turns[1].tool_calls[1].arguments, json!({}));
    assert_eq!(last.content, "all done");
    assert_eq!(last.stop, StopReason::EndTurn);
    assert_eq!(total.output_tokens, 20 + 16 + 10);
    assert!(total.input_tokens > 0);
    assert_eq!(model.requests_served(), 3);
    model.shutdown().await?;
    Ok(())
}

for_both_providers!(turn_is_read_from_the_request);

/// The scripted model keeps no conversation state: another server (as after a failover) picks
/// up a conversation in the middle.
async fn turn_is_read_from_the_request(kind: ProviderKind) -> anyhow::Result<()> {
    let first = start(one_step_script()).await?;
    let completion = client(kind, &first)?.complete(&first_turn()).await?;
    let mut request = first_turn();
    request.messages.push(Message::Assistant {
        content: completion.content,
        tool_calls: completion.tool_calls.clone(),
    });
    request.messages.push(Message::ToolResult {
        call_id: completion.tool_calls[0].id.clone(),
        content: "ok".to_owned(),
        is_error: false,
    });
    drop(first);
    let second = start(one_step_script()).await?;
    let last = client(kind, &second)?.complete(&request).await?;
    assert_eq!(last.content, "all done");
    assert_eq!(last.stop, StopReason::EndTurn);
    Ok(())
}

for_both_providers!(output_beyond_max_tokens_stops_early);

async fn output_beyond_max_tokens_stops_early(kind: ProviderKind) -> anyhow::Result<()> {
    let model = start(one_step_script()).await?;
    let mut config = config(kind, &model.base_url());
    config.max_output_tokens = 5;
    let completion = ModelClient::new(config, &crate::common::egress())?
        .complete(&first_turn())
        .await?;
    assert_eq!(completion.stop, StopReason::MaxTokens);
    assert_eq!(completion.usage.output_tokens, 5);
    assert!(completion.tool_calls.is_empty());
    Ok(())
}

for_both_providers!(conversation_without_tools);

async fn conversation_without_tools(kind: ProviderKind) -> anyhow::Result<()> {
    let model = start(json!({"final": "hello there"})).await?;
    let request = CompletionRequest {
        system: None,
        messages: vec![Message::User {
            content: "hi".to_owned(),
        }],
        tools: Vec::new(),
    };
    let completion = client(kind, &model)?.complete(&request).await?;
    assert_eq!(completion.content, "hello there");
    assert_eq!(
        completion.usage,
        Usage {
            input_tokens: 0,
            output_tokens: 16
        }
    );
    Ok(())
}
