//! One MCP client session over rmcp: connect to a stdio or streamable-HTTP server, list its
//! tools, call them, close it.
//!
//! A stdio server runs in its own process group with a clean environment: only
//! [`INHERITED_ENV`] is passed through from ours, plus the spec's `env` and `secret_env`,
//! with `TMPDIR` and `HOME` set to a private scratch directory. It is confined by Landlock
//! and `no_new_privs` (see [`crate::confine`]).
//! Its stderr is captured into a small ring ([`StderrTail`]) instead of reaching our
//! stderr. Closing or dropping the session ends the process (rmcp closes stdin, then
//! signals, then kills; the command is also `kill_on_drop`). An HTTP server's bearer token
//! goes into rmcp's `Authorization` header; the HTTP client is ours, bound to the node's
//! egress policy (see `http_client.rs`).

use std::{
    collections::HashSet,
    path::Path,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use process_wrap::tokio::{CommandWrap, KillOnDrop, ProcessGroup};
use rmcp::{
    ClientCacheConfig, Peer, RoleClient, ServiceError, ServiceExt,
    model::{CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation},
    service::RunningServiceCancellationToken,
    transport::{
        StreamableHttpClientTransport, TokioChildProcess,
        streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use tokio::{sync::watch, task::JoinHandle, time::Instant};

use warden_egress::Policy;

use crate::{
    CallOutput, Error, ServerSpec, StdioSandbox, ToolInfo, confine, http_client,
    stderr_tail::StderrTail,
};

/// The variables a stdio server inherits from our environment. Anything else (credentials
/// in particular) must be given explicitly in [`ServerSpec::Stdio`]'s `env`.
pub const INHERITED_ENV: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ",
];

/// How long a failed start waits for the server's last stderr lines.
const STDERR_GRACE: Duration = Duration::from_millis(200);

/// A connected MCP client session. Calls take `&self` and may run concurrently.
pub struct McpSession {
    caller: SessionCaller,
    process_id: Option<u32>,
    /// Flips to true when rmcp's service loop has ended.
    closed: watch::Receiver<bool>,
    cancel: Option<RunningServiceCancellationToken>,
    /// Runs rmcp's service until it ends, then flips `closed`.
    service: Option<JoinHandle<()>>,
    stderr_reader: Option<JoinHandle<()>>,
    /// A stdio server's private scratch directory (its `TMPDIR` and `HOME`), removed with
    /// the session. Declared last so it is dropped after the process is signalled.
    scratch: Option<tempfile::TempDir>,
}

/// The cloneable part of a session that makes requests; tasks that run calls hold one.
#[derive(Clone)]
pub(crate) struct SessionCaller {
    server: Arc<str>,
    peer: Peer<RoleClient>,
    /// Tool names from the last listing, to tell an unknown tool from a server error.
    known_tools: Arc<Mutex<HashSet<String>>>,
    stderr: StderrTail,
}

impl McpSession {
    /// Starts (stdio) or reaches (HTTP) the server and completes the MCP handshake within
    /// `connect_timeout`, confining a stdio server with the default [`StdioSandbox`].
    /// Errors name the server by its command or URL. An HTTP server is reached only
    /// where `egress` allows (see `http_client.rs`).
    pub async fn connect(
        spec: &ServerSpec,
        connect_timeout: Duration,
        egress: &Policy,
    ) -> Result<McpSession, Error> {
        McpSession::connect_named(
            &spec.display_name(),
            spec,
            connect_timeout,
            &StdioSandbox::default(),
            egress,
        )
        .await
    }

    /// Like [`McpSession::connect`], with `server` as the name used in errors and the
    /// node's `sandbox` for a stdio server.
    pub async fn connect_named(
        server: &str,
        spec: &ServerSpec,
        connect_timeout: Duration,
        sandbox: &StdioSandbox,
        egress: &Policy,
    ) -> Result<McpSession, Error> {
        match spec {
            ServerSpec::Stdio {
                command,
                args,
                env,
                secret_env,
                read_paths,
                write_paths,
            } => {
                // The scratch directory lives as long as the session; it is removed
                // when the session is dropped.
                let scratch = tempfile::Builder::new()
                    .prefix("warden-mcp-")
                    .tempdir_in(&sandbox.scratch_root)
                    .map_err(|source| Error::Spawn {
                        server: server.to_owned(),
                        source: Arc::new(source),
                    })?;
                let ruleset = confine::ruleset(
                    server,
                    sandbox,
                    &confine::Grants {
                        executable: Path::new(command),
                        read_paths,
                        write_paths,
                        scratch: scratch.path(),
                    },
                )?;
                let mut cmd = tokio::process::Command::new(command);
                cmd.args(args).env_clear();
                for name in INHERITED_ENV {
                    if let Some(value) = std::env::var_os(name) {
                        cmd.env(name, value);
                    }
                }
                cmd.env("TMPDIR", scratch.path())
                    .env("HOME", scratch.path());
                cmd.envs(env);
                cmd.envs(
                    secret_env
                        .iter()
                        .map(|(name, value)| (name.as_str(), value.as_str())),
                );
                ruleset.apply_in_child(&mut cmd);
                let mut wrapped = CommandWrap::from(cmd);
                wrapped.wrap(ProcessGroup::leader()).wrap(KillOnDrop);
                let spawned = TokioChildProcess::builder(wrapped)
                    .stderr(Stdio::piped())
                    .spawn();
                // The child has its own copy of the ruleset (or failed to start).
                drop(ruleset);
                let (transport, stderr) = spawned.map_err(|source| Error::Spawn {
                    server: server.to_owned(),
                    source: Arc::new(source),
                })?;
                let process_id = transport.id();
                let tail = StderrTail::default();
                let stderr_reader = stderr.map(|stderr| tokio::spawn(tail.clone().collect(stderr)));
                let mut session = handshake(
                    server,
                    transport,
                    connect_timeout,
                    tail,
                    stderr_reader,
                    process_id,
                )
                .await?;
                session.scratch = Some(scratch);
                Ok(session)
            }
            ServerSpec::Http { url, bearer_token } => {
                let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str());
                if let Some(token) = bearer_token {
                    // rmcp sends it as `Authorization: Bearer <token>` on every request.
                    config = config.auth_header(token.as_str());
                }
                let client = http_client::client_for(server, url, egress, connect_timeout).await?;
                let transport = StreamableHttpClientTransport::with_client(client, config);
                handshake(
                    server,
                    transport,
                    connect_timeout,
                    StderrTail::default(),
                    None,
                    None,
                )
                .await
            }
        }
    }

    /// Lists every tool (following pagination) within `timeout`.
    pub async fn list_tools(&self, timeout: Duration) -> Result<Vec<ToolInfo>, Error> {
        self.caller
            .list_tools(Instant::now() + timeout, timeout)
            .await
    }

    /// Calls `tool` and waits at most `timeout` for its result. A tool that reports failure
    /// is `Ok` with `is_error` set; `Err` means the call did not complete.
    pub async fn call(
        &self,
        tool: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
        timeout: Duration,
    ) -> Result<CallOutput, Error> {
        self.caller.call(tool, arguments, timeout).await
    }

    /// The stdio server's process id (None for HTTP).
    pub fn process_id(&self) -> Option<u32> {
        self.process_id
    }

    /// Ends the session and waits until rmcp has shut the transport down (for stdio: the
    /// process has exited or been killed).
    pub async fn close(mut self) {
        if let Some(cancel) = self.cancel.take() {
            cancel.cancel();
        }
        if let Some(service) = self.service.take()
            && let Err(error) = service.await
        {
            tracing::warn!(server = %self.caller.server, %error, "mcp service task failed");
        }
        if let Some(reader) = self.stderr_reader.take() {
            reader.abort();
        }
    }

    /// The last lines the stdio server wrote to its stderr (empty for HTTP). They may hold
    /// secrets: redact before logging them.
    pub fn stderr_tail(&self) -> Vec<String> {
        self.caller.stderr.snapshot()
    }

    pub(crate) fn caller(&self) -> SessionCaller {
        self.caller.clone()
    }

    /// Resolves once the transport is gone (the server exited, or the session was closed).
    pub(crate) fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut closed = self.closed.clone();
        async move {
            // An error means the service task is gone, which is closed as well.
            let _ = closed.wait_for(|closed| *closed).await;
        }
    }
}

impl Drop for McpSession {
    fn drop(&mut self) {
        // Cancelling makes rmcp's service loop end and drop the transport, which kills the
        // process; aborting our tasks drops what they hold.
        if let Some(cancel) = self.cancel.take() {
            cancel.cancel();
        }
        if let Some(service) = self.service.take() {
            service.abort();
        }
        if let Some(reader) = self.stderr_reader.take() {
            reader.abort();
        }
    }
}

async fn handshake<T, E, A>(
    server: &str,
    transport: T,
    connect_timeout: Duration,
    stderr: StderrTail,
    mut stderr_reader: Option<JoinHandle<()>>,
    process_id: Option<u32>,
) -> Result<McpSession, Error>
where
    T: rmcp::transport::IntoTransport<RoleClient, E, A> + Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    let client = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("warden", env!("CARGO_PKG_VERSION")),
    );
    let reason = match tokio::time::timeout(connect_timeout, client.serve(transport)).await {
        Ok(Ok(running)) => {
            let peer = running.peer().clone();
            // rmcp caches list results and by default serves a stale copy when the server is
            // gone; we want to see the failure and the server's current definitions.
            peer.set_response_cache_config(ClientCacheConfig::disabled())
                .await;
            let cancel = running.cancellation_token();
            let (closed_tx, closed) = watch::channel(false);
            let service = tokio::spawn(async move {
                if let Err(error) = running.waiting().await {
                    tracing::warn!(%error, "mcp service loop failed");
                }
                closed_tx.send_replace(true);
            });
            return Ok(McpSession {
                caller: SessionCaller {
                    server: Arc::from(server),
                    peer,
                    known_tools: Arc::default(),
                    stderr,
                },
                process_id,
                closed,
                cancel: Some(cancel),
                service: Some(service),
                stderr_reader,
                scratch: None,
            });
        }
        Ok(Err(error)) => error.to_string(),
        Err(_) => format!("no handshake within {connect_timeout:?}"),
    };
    // The process is being killed; give its last stderr lines a moment to arrive.
    if let Some(reader) = stderr_reader.as_mut()
        && tokio::time::timeout(STDERR_GRACE, &mut *reader)
            .await
            .is_err()
    {
        reader.abort();
    }
    Err(Error::Connect {
        server: server.to_owned(),
        reason,
        stderr_tail: stderr.snapshot(),
    })
}

impl SessionCaller {
    pub(crate) async fn list_tools(
        &self,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<Vec<ToolInfo>, Error> {
        let tools = match tokio::time::timeout_at(deadline, self.peer.list_all_tools()).await {
            Ok(result) => {
                result.map_err(|error| self.service_error(error, "tools/list", timeout))?
            }
            Err(_) => return Err(self.timeout("tools/list", timeout)),
        };
        let mut known = self
            .known_tools
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *known = tools.iter().map(|tool| tool.name.to_string()).collect();
        Ok(tools.iter().map(ToolInfo::from).collect())
    }

    pub(crate) async fn call(
        &self,
        tool: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
        timeout: Duration,
    ) -> Result<CallOutput, Error> {
        let deadline = Instant::now() + timeout;
        if !self.knows(tool) {
            self.list_tools(deadline, timeout).await?;
            if !self.knows(tool) {
                return Err(Error::UnknownTool {
                    server: self.server.to_string(),
                    tool: tool.to_owned(),
                });
            }
        }
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        // Dropping rmcp's call on timeout sends the server `notifications/cancelled`.
        match tokio::time::timeout_at(deadline, self.peer.call_tool(params)).await {
            Ok(result) => result
                .map(CallOutput::from)
                .map_err(|error| self.service_error(error, tool, timeout)),
            Err(_) => Err(self.timeout(tool, timeout)),
        }
    }

    fn knows(&self, tool: &str) -> bool {
        let known = self
            .known_tools
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        known.contains(tool)
    }

    fn timeout(&self, tool: &str, after: Duration) -> Error {
        Error::Timeout {
            server: self.server.to_string(),
            tool: tool.to_owned(),
            after,
        }
    }

    fn service_error(&self, error: ServiceError, operation: &str, timeout: Duration) -> Error {
        let server = self.server.to_string();
        match error {
            ServiceError::TransportClosed | ServiceError::TransportSend(_) => Error::Closed {
                server,
                stderr_tail: self.stderr.snapshot(),
            },
            ServiceError::Timeout { .. } => self.timeout(operation, timeout),
            ServiceError::McpError(data) => Error::Protocol {
                server,
                reason: format!("{} (code {})", data.message, data.code.0),
            },
            other => Error::Protocol {
                server,
                reason: other.to_string(),
            },
        }
    }
}
