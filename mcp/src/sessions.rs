//! `ToolSessions`: the cheap, cloneable handle to the tool supervisor that the rest of
//! Warden calls.

use std::time::Duration;

use ractor::{Actor, ActorRef, rpc::CallResult};
use tokio::task::JoinHandle;

use crate::{
    CallOutput, Error, ServerSpec, SessionOptions, ToolInfo,
    session_actor::SessionRequest,
    supervisor::{SupervisorMsg, ToolSupervisor},
};

/// How long [`ToolSessions::stop`] waits for the sessions to close.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Supervised MCP sessions, one per server key (a name the caller chooses, such as
/// `workspace/server`). A session starts on first use, restarts with backoff when its server
/// dies, shuts down when idle, and is replaced when the key's spec changes.
#[derive(Debug, Clone)]
pub struct ToolSessions {
    supervisor: ActorRef<SupervisorMsg>,
}

impl ToolSessions {
    /// Starts the supervisor. The handle completes when it has stopped.
    pub async fn spawn(options: SessionOptions) -> Result<(ToolSessions, JoinHandle<()>), Error> {
        let problems = options.problems();
        if !problems.is_empty() {
            return Err(Error::InvalidOptions(problems.join("; ")));
        }
        let (supervisor, handle) = ToolSupervisor::spawn(None, ToolSupervisor, options)
            .await
            .map_err(|error| Error::SupervisorStart(error.to_string()))?;
        Ok((ToolSessions { supervisor }, handle))
    }

    /// The tools of the server at `spec`, through the session for `key`.
    pub async fn list_tools(&self, key: &str, spec: &ServerSpec) -> Result<Vec<ToolInfo>, Error> {
        self.request(key, spec, |reply| SessionRequest::ListTools { reply })
            .await
    }

    /// Calls `tool` through the session for `key`, waiting at most `timeout` once the call is
    /// sent (starting or restarting the session comes on top, bounded by the options).
    pub async fn call(
        &self,
        key: &str,
        spec: &ServerSpec,
        tool: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
        timeout: Duration,
    ) -> Result<CallOutput, Error> {
        self.request(key, spec, |reply| SessionRequest::Call {
            tool: tool.to_owned(),
            arguments,
            timeout,
            reply,
        })
        .await
    }

    /// Stops every session (ending their servers) and then the supervisor.
    pub async fn stop(&self) {
        if let Err(error) = self
            .supervisor
            .stop_and_wait(Some("stopped".to_owned()), Some(STOP_TIMEOUT))
            .await
        {
            tracing::warn!(%error, "tool supervisor did not stop cleanly");
        }
    }

    async fn request<T: Send + 'static>(
        &self,
        key: &str,
        spec: &ServerSpec,
        build: impl FnOnce(ractor::RpcReplyPort<Result<T, Error>>) -> SessionRequest,
    ) -> Result<T, Error> {
        let outcome = self
            .supervisor
            .call(
                |reply| SupervisorMsg::Dispatch {
                    key: key.to_owned(),
                    spec: spec.clone(),
                    request: build(reply),
                },
                None,
            )
            .await;
        match outcome {
            Ok(CallResult::Success(result)) => result,
            // The session ended with the request: its server went away, or we are stopping.
            Ok(CallResult::SenderError) | Ok(CallResult::Timeout) => Err(Error::Closed {
                server: key.to_owned(),
                stderr_tail: Vec::new(),
            }),
            Err(_) => Err(Error::Stopped),
        }
    }
}
