//! The scripted model's HTTP server: routes, per-request flow (key, validation, faults,
//! reply) and the fault counters, the only state it keeps.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header::CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;
use tokio::sync::watch;

use super::reply::Reply;
use super::script::{FaultKind, Script};
use super::transcript::Transcript;
use super::{anthropic_wire, openai_wire};
use crate::config::ProviderKind;

/// Long conversations with large tool results must still fit.
const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug)]
pub(crate) struct ServerState {
    script: Script,
    /// How often each fault of the script has fired, by its index.
    fault_fired: Mutex<Vec<u32>>,
    pub served: AtomicU64,
    shutdown: watch::Receiver<bool>,
}

impl ServerState {
    pub fn new(script: Script, shutdown: watch::Receiver<bool>) -> ServerState {
        ServerState {
            fault_fired: Mutex::new(vec![0; script.faults.len()]),
            script,
            served: AtomicU64::new(0),
            shutdown,
        }
    }

    /// The first fault at this turn that has fired fewer than `times` times, counted as fired.
    fn take_fault(&self, turn: usize) -> Option<FaultKind> {
        let mut fired = self
            .fault_fired
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (index, fault) = self
            .script
            .faults
            .iter()
            .enumerate()
            .find(|(index, fault)| fault.turn == turn && fired[*index] < fault.times)?;
        fired[index] += 1;
        Some(fault.kind.clone())
    }
}

pub(crate) fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/messages", post(messages))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(state)
}

async fn chat_completions(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve_turn(&state, ProviderKind::OpenAi, &headers, &body).await
}

async fn messages(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve_turn(&state, ProviderKind::Anthropic, &headers, &body).await
}

async fn serve_turn(
    state: &ServerState,
    wire: ProviderKind,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    state.served.fetch_add(1, Ordering::SeqCst);
    if let Some(required) = &state.script.require_api_key {
        let presented = match wire {
            ProviderKind::OpenAi => openai_wire::presented_key(headers),
            ProviderKind::Anthropic => anthropic_wire::presented_key(headers),
        };
        // The message never echoes what was presented: it might be a real key.
        if presented != Some(required.as_str()) {
            return error(wire, StatusCode::UNAUTHORIZED, "invalid api key");
        }
    }
    let transcript = match parse(wire, headers, body) {
        Ok(transcript) => transcript,
        Err(reason) => return error(wire, StatusCode::BAD_REQUEST, &reason),
    };
    let mut reply = Reply::for_turn(&state.script, &transcript);
    match state.take_fault(transcript.turn) {
        None => {}
        Some(FaultKind::Status(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error(wire, status, "scripted fault");
        }
        Some(FaultKind::DelayMs(delay_ms)) => {
            // Cut short by shutdown, so a delayed request cannot hold the server open.
            let mut shutdown = state.shutdown.clone();
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(delay_ms)) => {}
                _ = shutdown.wait_for(|stop| *stop) => {}
            }
        }
        Some(FaultKind::MalformedBody) => {
            return (
                StatusCode::OK,
                [(CONTENT_TYPE, "application/json")],
                "{\"id\": \"scripted-malformed\", \"choices\": [",
            )
                .into_response();
        }
        Some(FaultKind::BadToolArguments) => reply.corrupt_arguments = true,
    }
    let body = match wire {
        ProviderKind::OpenAi => openai_wire::reply_body(&reply),
        ProviderKind::Anthropic => anthropic_wire::reply_body(&reply),
    };
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn parse(wire: ProviderKind, headers: &HeaderMap, body: &[u8]) -> Result<Transcript, String> {
    if wire == ProviderKind::Anthropic {
        anthropic_wire::check_headers(headers)?;
    }
    let body: Value = serde_json::from_slice(body)
        .map_err(|error| format!("request body is not json: {error}"))?;
    match wire {
        ProviderKind::OpenAi => openai_wire::transcript(&body),
        ProviderKind::Anthropic => anthropic_wire::transcript(&body),
    }
}

fn error(wire: ProviderKind, status: StatusCode, message: &str) -> Response {
    let body = match wire {
        ProviderKind::OpenAi => openai_wire::error_body(status, message),
        ProviderKind::Anthropic => anthropic_wire::error_body(status, message),
    };
    (status, axum::Json(body)).into_response()
}
