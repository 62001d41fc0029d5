//! How the runtime asks a model for a turn. `warden_providers::ModelClient` (OpenAI
//! compatible or Anthropic, over HTTP) implements it; tests use a double.

use futures::future::BoxFuture;
use warden_providers::{Completion, CompletionRequest, ModelClient};

pub trait Model: Send + Sync {
    fn complete<'a>(
        &'a self,
        request: &'a CompletionRequest,
    ) -> BoxFuture<'a, Result<Completion, warden_providers::Error>>;
}

impl Model for ModelClient {
    fn complete<'a>(
        &'a self,
        request: &'a CompletionRequest,
    ) -> BoxFuture<'a, Result<Completion, warden_providers::Error>> {
        Box::pin(ModelClient::complete(self, request))
    }
}
