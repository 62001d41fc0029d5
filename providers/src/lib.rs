//! Model providers: one client for OpenAI-compatible chat completions and Anthropic Messages,
//! and the scripted model server that stands in for both in tests and in the demo.
//!
//! [`ModelClient::complete`] takes a provider-neutral [`CompletionRequest`] and returns a
//! [`Completion`]; `openai.rs` and `anthropic.rs` are the only modules that know the two wire
//! formats on the client side, and `scripted/` knows them on the server side.

mod anthropic;
mod api_key;
mod client;
mod completion;
mod config;
mod error;
mod openai;
mod request;
mod retry;
pub mod scripted;
mod wide_integers;

pub use api_key::ApiKey;
pub use client::ModelClient;
pub use completion::{Completion, StopReason, Usage};
pub use config::{MAX_RETRIES_LIMIT, ProviderConfig, ProviderKind};
pub use error::Error;
pub use request::{CompletionRequest, Message, ToolCall, ToolSpec};
