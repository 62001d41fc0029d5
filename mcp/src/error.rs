//! Errors of MCP sessions, their supervision and the invocation ledger.

use std::{path::PathBuf, sync::Arc, time::Duration};

/// What went wrong talking to an MCP server. `server` is the session's name: the key given
/// to [`crate::ToolSessions`], or for a bare [`crate::McpSession`] the command or URL.
///
/// Errors are `Clone` because one failed connection answers every call that waited for it.
/// The last lines a stdio server wrote to its stderr are kept in `stderr_tail` fields, not
/// in the message: they may hold secrets, so the caller decides where they go.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The server process could not be started.
    #[error("could not start mcp server {server}: {source}")]
    Spawn {
        server: String,
        #[source]
        source: Arc<std::io::Error>,
    },

    /// The server may not be started confined as the node requires: a granted path would
    /// expose a protected one, or the kernel has no Landlock and unconfined servers are
    /// not allowed. Nothing was started.
    #[error("refusing to start mcp server {server}: {reason}")]
    Confinement { server: String, reason: String },

    /// The process started (or the URL was reached) but the MCP handshake failed or timed out.
    #[error("could not connect to mcp server {server}: {reason}")]
    Connect {
        server: String,
        reason: String,
        stderr_tail: Vec<String>,
    },

    /// The node's egress policy refuses the address the server's URL names or its host
    /// resolves to; nothing was sent.
    #[error("mcp server {server}: {refusal}")]
    Egress {
        server: String,
        refusal: warden_egress::Error,
    },

    /// A request got no answer in time. `tool` is the tool's name, or `tools/list` when
    /// listing timed out.
    #[error("tool {tool} on mcp server {server} timed out after {after:?}")]
    Timeout {
        server: String,
        tool: String,
        after: Duration,
    },

    /// The transport is gone: the server process died or the connection broke.
    #[error("mcp server {server} closed the connection")]
    Closed {
        server: String,
        stderr_tail: Vec<String>,
    },

    /// The server answered with a JSON-RPC error or with something that is not MCP.
    #[error("mcp server {server} answered with a protocol error: {reason}")]
    Protocol { server: String, reason: String },

    /// The server does not list a tool of that name.
    #[error("mcp server {server} has no tool {tool}")]
    UnknownTool { server: String, tool: String },

    /// The session failed too often in a row; it is not restarted until the window passes.
    #[error("mcp server {server} failed {failures} times within {window:?}, last: {last_error}")]
    RestartLimit {
        server: String,
        failures: usize,
        window: Duration,
        last_error: String,
    },

    /// [`crate::SessionOptions`] are not usable; every problem, separated by `; `.
    #[error("invalid mcp session options: {0}")]
    InvalidOptions(String),

    /// The tool supervisor actor could not start.
    #[error("could not start the tool supervisor: {0}")]
    SupervisorStart(String),

    /// The tool sessions were stopped.
    #[error("tool sessions are stopped")]
    Stopped,

    /// The invocation ledger could not be read or written.
    #[error("ledger {path}: {source}")]
    Ledger {
        path: PathBuf,
        #[source]
        source: Arc<std::io::Error>,
    },

    /// A ledger line is not a valid entry.
    #[error("ledger {path} line {line}: {reason}")]
    LedgerCorrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

impl Error {
    pub(crate) fn ledger(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Ledger {
            path: path.into(),
            source: Arc::new(source),
        }
    }
}
