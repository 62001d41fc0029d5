//! How the runtime reaches MCP servers: list a server's tools, call one. The node's
//! tool supervisor (`warden_mcp::ToolSessions`) implements it; tests use a double.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Map, Value};
use warden_mcp::{CallOutput, ServerSpec, ToolInfo, ToolSessions};

/// The tool sessions of a node, keyed by `workspace/server`.
pub trait Tools: Send + Sync {
    /// The tools the server started from `spec` offers now.
    fn list_tools<'a>(
        &'a self,
        key: &'a str,
        spec: &'a ServerSpec,
    ) -> BoxFuture<'a, Result<Vec<ToolInfo>, warden_mcp::Error>>;

    /// Calls `tool`, waiting at most `timeout` once the call is sent. A tool that reports
    /// failure is `Ok` with `is_error` set; `Err` means the call did not complete.
    fn call<'a>(
        &'a self,
        key: &'a str,
        spec: &'a ServerSpec,
        tool: &'a str,
        arguments: Map<String, Value>,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<CallOutput, warden_mcp::Error>>;
}

impl Tools for ToolSessions {
    fn list_tools<'a>(
        &'a self,
        key: &'a str,
        spec: &'a ServerSpec,
    ) -> BoxFuture<'a, Result<Vec<ToolInfo>, warden_mcp::Error>> {
        Box::pin(ToolSessions::list_tools(self, key, spec))
    }

    fn call<'a>(
        &'a self,
        key: &'a str,
        spec: &'a ServerSpec,
        tool: &'a str,
        arguments: Map<String, Value>,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<CallOutput, warden_mcp::Error>> {
        Box::pin(ToolSessions::call(
            self, key, spec, tool, arguments, timeout,
        ))
    }
}
