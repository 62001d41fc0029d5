//! `warden-ledger-tools`: the ledger MCP server over stdio (default) or streamable HTTP.

use std::{
    io::Write,
    net::SocketAddr,
    path::{Path, PathBuf},
};

use anyhow::Context;
use clap::Parser;
use rmcp::ServiceExt;
use warden_mcp::ledger_server::{LedgerServer, http_router};

/// An MCP server whose tools record every completed invocation in a JSON Lines ledger.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The ledger file (created if missing); the key-value file is PATH.kv.
    #[arg(long, value_name = "PATH")]
    ledger: PathBuf,
    /// Serve streamable HTTP at http://ADDR/mcp instead of stdio (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// With --http, also write the URL to this file (atomically) once listening.
    #[arg(long, value_name = "PATH", requires = "http")]
    ready_file: Option<PathBuf>,
    /// Replace the description of the `append` tool.
    #[arg(long, value_name = "TEXT")]
    describe_append: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let server = LedgerServer::open(&args.ledger, args.describe_append)
        .with_context(|| format!("opening ledger {}", args.ledger.display()))?;
    match args.http {
        None => serve_stdio(server).await,
        Some(addr) => serve_http(server, addr, args.ready_file.as_deref()).await,
    }
}

async fn serve_stdio(server: LedgerServer) -> anyhow::Result<()> {
    let running = server
        .serve(rmcp::transport::stdio_pipes())
        .await
        .context("mcp handshake on stdio")?;
    running.waiting().await.context("serving stdio")?;
    Ok(())
}

async fn serve_http(
    server: LedgerServer,
    addr: SocketAddr,
    ready_file: Option<&Path>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr().context("reading the bound address")?;
    let url = format!("http://{local}/mcp");
    // The ready file first: whoever reads the stdout line may then rely on it too.
    if let Some(path) = ready_file {
        write_atomically(path, &url).with_context(|| format!("writing {}", path.display()))?;
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {url}").context("writing to stdout")?;
    stdout.flush().context("flushing stdout")?;
    drop(stdout);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let router = http_router(server, addr.ip(), shutdown.child_token());
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            shutdown.cancel();
        })
        .await
        .context("serving http")
}

/// Writes beside the target and renames, so a reader never sees a partial URL.
fn write_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

async fn shutdown_signal() {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                eprintln!("warden-ledger-tools: cannot watch SIGTERM: {error}");
                std::future::pending::<()>().await;
                return;
            }
        };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
