//! The scripted model: a TEST DOUBLE for a model provider, used by the tests and by the demo.
//!
//! It serves both wire formats on one address: `POST /v1/chat/completions` (OpenAI) and
//! `POST /v1/messages` (Anthropic), so a client configured with [`ScriptedModelHandle::base_url`]
//! works with either provider kind.
//!
//! It keeps no conversation state, so any node may call it at any time, as after a failover:
//! the reply is chosen by the turn, the number of assistant messages already in the request.
//! Turn `n < steps.len()` answers with `steps[n]`'s tool calls (ids `call_{turn}_{i}`);
//! every later turn answers with the final text. Input tokens are the characters of the
//! system prompt, texts and tool results divided by 4; output tokens come from the script.
//! A reply longer than the request's `max_tokens` is cut there (stop reason `length` /
//! `max_tokens`, no tool calls).
//!
//! It rejects with a 400, in the provider's error format, what a real provider would and a
//! buggy client might send: no model, no messages, a tool result that answers no earlier
//! tool call, a tool call left unanswered, OpenAI tool call `arguments` that are not a string,
//! a missing Anthropic `max_tokens` or `anthropic-version` header, Anthropic roles that do not
//! alternate (the client merges them) or tool results after text in a user message.
//!
//! # Script format
//!
//! docs/scripted-model.md describes the JSON script (`script.rs`), with a sample that a
//! test parses.
//!
//! Unknown fields are errors, and [`ScriptedModel::start`] reports every problem at once.

mod anthropic_wire;
mod fields;
mod openai_wire;
mod reply;
mod script;
mod server;
mod transcript;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use script::{DEFAULT_OUTPUT_TOKENS, Fault, FaultKind, Script, ScriptedToolCall, Step};

use server::ServerState;

/// After shutdown is asked for, requests in flight get this long to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Starts scripted model servers; see the module docs.
#[derive(Debug)]
pub struct ScriptedModel;

impl ScriptedModel {
    /// Checks the script, binds `listen` (port 0 picks a free port) and serves until the
    /// handle is shut down or dropped.
    pub async fn start(script: Script, listen: SocketAddr) -> io::Result<ScriptedModelHandle> {
        let problems = script.problems();
        if !problems.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid script: {}", problems.join("; ")),
            ));
        }
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (shutdown, shutdown_receiver) = watch::channel(false);
        let state = Arc::new(ServerState::new(script, shutdown_receiver.clone()));
        let router = server::router(Arc::clone(&state));
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router)
                .with_graceful_shutdown(stopped(shutdown_receiver.clone()))
                .into_future();
            tokio::select! {
                result = serve => result,
                () = async {
                    stopped(shutdown_receiver).await;
                    tokio::time::sleep(SHUTDOWN_GRACE).await;
                } => Ok(()),
            }
        });
        Ok(ScriptedModelHandle {
            addr,
            state,
            shutdown,
            task: Some(task),
        })
    }
}

async fn stopped(mut shutdown: watch::Receiver<bool>) {
    // An error means the handle is gone, which asks for shutdown as well.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Owns the server task. Dropping it asks the server to stop: it stops accepting at once
/// and ends once the requests in flight are answered (delay faults are cut short), or after
/// a grace period of two seconds at most; [`ScriptedModelHandle::shutdown`] does the same
/// and waits for it.
#[derive(Debug)]
pub struct ScriptedModelHandle {
    addr: SocketAddr,
    state: Arc<ServerState>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl ScriptedModelHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{addr}/v1`, the `base_url` for either provider kind.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Requests received on the two model endpoints, rejected and faulted ones included.
    pub fn requests_served(&self) -> u64 {
        self.state.served.load(Ordering::SeqCst)
    }

    pub async fn shutdown(mut self) -> io::Result<()> {
        self.shutdown.send_replace(true);
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for ScriptedModelHandle {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}
