//! A bare axum server that records every request and answers from a closure, for checking
//! the client's wire shape and its handling of answers the scripted model never gives.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use warden_providers::ProviderKind;

#[derive(Debug, Clone)]
pub struct Captured {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

type Responder = dyn Fn(&Captured, usize) -> Response + Send + Sync;

struct Shared {
    captured: Mutex<Vec<Captured>>,
    respond: Box<Responder>,
}

/// Owns its server task and aborts it when dropped.
pub struct RawServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl RawServer {
    /// `respond` gets each request and its index (0 for the first).
    pub async fn start(
        respond: impl Fn(&Captured, usize) -> Response + Send + Sync + 'static,
    ) -> anyhow::Result<RawServer> {
        let shared = Arc::new(Shared {
            captured: Mutex::new(Vec::new()),
            respond: Box::new(respond),
        });
        let router = Router::new()
            .fallback(record)
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("raw server");
        });
        Ok(RawServer { addr, shared, task })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn captured(&self) -> Vec<Captured> {
        self.shared.captured.lock().expect("lock").clone()
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let captured = Captured {
        path: uri.path().to_owned(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let index = {
        let mut all = shared.captured.lock().expect("lock");
        all.push(captured.clone());
        all.len() - 1
    };
    (shared.respond)(&captured, index)
}

/// A valid final answer in the provider's format.
pub fn success(kind: ProviderKind) -> Response {
    let body = match kind {
        ProviderKind::OpenAi => json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "fine"}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }),
        ProviderKind::Anthropic => json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
            "content": [{"type": "text", "text": "fine"}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 3, "output_tokens": 1},
        }),
    };
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// An error in the provider's format.
pub fn failure(kind: ProviderKind, status: StatusCode, message: &str) -> Response {
    let body = match kind {
        ProviderKind::OpenAi => {
            json!({"error": {"message": message, "type": "invalid_request_error"}})
        }
        ProviderKind::Anthropic => {
            json!({"type": "error", "error": {"type": "authentication_error", "message": message}})
        }
    };
    (status, axum::Json(body)).into_response()
}
