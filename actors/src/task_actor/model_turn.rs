//! Asking the model for a turn, with the agent's visible tools.

use tokio::time::Instant;
use warden_core::{RequestedCall, Step, Usage};
use warden_providers::CompletionRequest;

use super::Loaded;
use crate::functions;
use crate::metrics;

/// Asks the model for `turn`. With `start_first` (the lease holds), the response's
/// first allowed call is journaled as started in the same commit.
pub(super) async fn call_model(loaded: &Loaded, turn: u32, start_first: bool) -> Step {
    let request = CompletionRequest {
        system: loaded.system.clone(),
        messages: loaded.messages.clone(),
        tools: loaded
            .tools
            .iter()
            .map(|(_, _, spec)| spec.clone())
            .collect(),
    };
    let began = Instant::now();
    let completion = loaded.model.complete(&request).await;
    metrics::model_call(&loaded.provider_name, began.elapsed(), completion.is_ok());
    match completion {
        Ok(completion) => {
            metrics::model_tokens(
                &loaded.provider_name,
                completion.usage.input_tokens,
                completion.usage.output_tokens,
            );
            Step::ModelResponded {
                turn,
                content: completion.content,
                tool_calls: completion
                    .tool_calls
                    .into_iter()
                    .map(|call| {
                        let resolved = functions::resolve(&call.name, &loaded.tools);
                        RequestedCall {
                            call_id: call.id,
                            server: resolved.map(|(server, _)| server.clone()),
                            tool: resolved.map(|(_, tool)| tool.clone()),
                            function: call.name,
                            arguments: call.arguments.to_string(),
                        }
                    })
                    .collect(),
                usage: Usage {
                    input_tokens: completion.usage.input_tokens,
                    output_tokens: completion.usage.output_tokens,
                },
                start_first,
            }
        }
        Err(error) => Step::Fail {
            reason: format!(
                "model call to provider {} failed: {error}",
                loaded.provider_name
            ),
        },
    }
}
