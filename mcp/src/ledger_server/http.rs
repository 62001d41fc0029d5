//! Serving the ledger server over streamable HTTP at `/mcp`.

use std::{net::IpAddr, sync::Arc};

use rmcp::transport::{
    StreamableHttpServerConfig, StreamableHttpService,
    streamable_http_server::session::local::LocalSessionManager,
};

use tokio_util::sync::CancellationToken;

use super::LedgerServer;

/// An axum router with the MCP endpoint at `/mcp`. rmcp checks the `Host` header against
/// loopback names by default (against DNS rebinding); when bound to another address the
/// check is off, since the demo reaches the server by container or host name.
///
/// Cancelling `shutdown` ends every MCP session and its open event streams; without that a
/// graceful shutdown of the HTTP server waits forever on a client's open stream.
pub fn http_router(
    server: LedgerServer,
    bind_ip: IpAddr,
    shutdown: CancellationToken,
) -> axum::Router {
    let mut config = StreamableHttpServerConfig::default().with_cancellation_token(shutdown);
    if !bind_ip.is_loopback() {
        config = config.disable_allowed_hosts();
    }
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    axum::Router::new().nest_service("/mcp", service)
}
