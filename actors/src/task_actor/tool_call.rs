//! Running a journaled tool call: the pinned definition checked against what the server
//! offers, credentials opened for the call only, the output scrubbed and cut.

use ractor::ActorProcessingErr;
use tokio::time::Instant;
use warden_core::{McpTransport, OpenCall, ServerName, Step, ToolName, WorkspaceId};

use super::{Loaded, TaskError};
use crate::call_result::CallResult;
use crate::credentials;
use crate::host::Host;
use crate::metrics;
use crate::pinning::{self, Offered};

/// Runs a call whose start is journaled and returns the step journaling its result.
/// Past the start a stale owner could do harm, so the lease is checked right before.
pub(super) async fn run_started(
    host: &dyn Host,
    workspace: &WorkspaceId,
    loaded: &Loaded,
    call: &OpenCall,
) -> Result<Step, ActorProcessingErr> {
    if !host.holds_lease() {
        return Err(TaskError::LeaseLost.into());
    }
    let result = run_call(
        host,
        workspace,
        loaded,
        &call.server,
        &call.tool,
        &call.arguments,
    )
    .await;
    Ok(result.finished(call.call_id.clone(), host.holds_lease()))
}

pub(super) async fn run_call(
    host: &dyn Host,
    workspace: &WorkspaceId,
    loaded: &Loaded,
    server: &ServerName,
    tool: &ToolName,
    arguments: &str,
) -> CallResult {
    let Some(registered) = loaded.servers.get(server) else {
        return CallResult::error(format!("mcp server {server} is no longer registered"));
    };
    let Some(pinned) = registered.tool(tool) else {
        return CallResult::error(format!("{server}/{tool} is not a pinned tool"));
    };
    // `apply()` opened the call only for object arguments; anything else is not sent.
    let arguments = match warden_core::tool_arguments(arguments) {
        Ok(map) => map,
        Err(problem) => {
            return CallResult::error(format!("tool call {server}/{tool} was not made: {problem}"));
        }
    };
    let options = host.options();
    let key = format!("{workspace}/{server}");
    // The credentials are opened for this call only: the spec (and the session started
    // from it) hold a copy, and `opened` lives until the output is scrubbed of them.
    let opened = match credentials::mcp_credentials(host, workspace, registered) {
        Ok(opened) => opened,
        Err(error) => {
            return CallResult::error(format!(
                "mcp server {server}: cannot open its credentials: {error}"
            ));
        }
    };
    // A stdio server is resolved against the catalog as it is now: an edited entry
    // changes what runs, a deleted one fails the call naming it.
    let entry = match &registered.transport {
        McpTransport::Stdio { catalog, .. } => match host.reader().catalog_entry(catalog) {
            Ok(entry) => entry,
            Err(error) => {
                return CallResult::error(format!(
                    "mcp server {server}: cannot read catalog entry {catalog}: {error}"
                ));
            }
        },
        McpTransport::Http { .. } => None,
    };
    let spec = match credentials::server_spec(&registered.transport, entry.as_ref(), &opened) {
        Ok(spec) => spec,
        Err(reason) => {
            return CallResult::error(format!(
                "tool call {server}/{tool} was not made: mcp server {server}: {reason}"
            ));
        }
    };
    // The server must still offer the definition that was reviewed and pinned.
    match pinning::check(host.tools(), &key, &spec, pinned).await {
        Ok(Offered::AsPinned) => {}
        Ok(Offered::Changed(offered)) => {
            return CallResult {
                output: String::new(),
                is_error: true,
                drift: Some(offered),
            };
        }
        Ok(Offered::Missing) => {
            return CallResult::error(format!(
                "mcp server {server} no longer offers {tool}; the call was not made"
            ));
        }
        Err(error) => {
            return CallResult::server_error(
                format!("tool call {server}/{tool} failed: listing the server's tools: {error}"),
                &opened,
                options.max_tool_output_bytes,
            );
        }
    }
    let began = Instant::now();
    let result = host
        .tools()
        .call(
            &key,
            &spec,
            tool.as_str(),
            arguments,
            options.tool_call_timeout,
        )
        .await;
    let ok = result.as_ref().is_ok_and(|output| !output.is_error);
    metrics::tool_call(server.as_str(), began.elapsed(), ok);
    CallResult::of_call(
        result,
        &format!("{server}/{tool}"),
        &opened,
        options.max_tool_output_bytes,
    )
}
