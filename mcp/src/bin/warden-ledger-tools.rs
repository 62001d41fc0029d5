//! `warden-ledger-tools`: the ledger MCP server over stdio (default) or streamable HTTP.

use std::{
    io::Write,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::{Context, bail};
use axum::{
    extract::{Request, State},
    http::{StatusCode, header::AUTHORIZATION},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
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
    #[arg(long, value_name = "TEXT", conflicts_with = "describe_append_file")]
    describe_append: Option<String>,
    /// Read the description of the `append` tool from PATH each time the tools are
    /// listed, so it can change while the server runs (for rug-pull tests).
    #[arg(long, value_name = "PATH")]
    describe_append_file: Option<PathBuf>,
    /// Refuse to start unless the environment variable NAME holds the contents of PATH
    /// (surrounding whitespace ignored): stands in for a server that needs a credential.
    /// Repeatable. Errors name the variable, never a value.
    #[arg(long, value_name = "NAME=PATH", value_parser = parse_name_path)]
    require_env: Vec<(String, PathBuf)>,
    /// With --http, answer 401 to requests without `Authorization: Bearer <contents of PATH>`.
    #[arg(long, value_name = "PATH", requires = "http")]
    require_bearer_file: Option<PathBuf>,
}

fn parse_name_path(text: &str) -> Result<(String, PathBuf), String> {
    let (name, path) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not NAME=PATH"))?;
    Ok((name.to_owned(), PathBuf::from(path)))
}

/// Reads a credential file, without its surrounding whitespace.
fn read_credential(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading credential file {}", path.display()))?;
    Ok(text.trim().to_owned())
}

/// Checks every `--require-env`; the error names the variables that do not match.
fn check_required_env(required: &[(String, PathBuf)]) -> anyhow::Result<()> {
    let mut wrong = Vec::new();
    for (name, path) in required {
        let expected = read_credential(path)?;
        if std::env::var(name).ok().as_deref() != Some(expected.as_str()) {
            wrong.push(name.as_str());
        }
    }
    if !wrong.is_empty() {
        bail!(
            "environment variable(s) {} missing or not the required credential",
            wrong.join(", ")
        );
    }
    Ok(())
}

async fn require_bearer(
    State(expected): State<Arc<str>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if presented == Some(&*expected) {
        next.run(request).await
    } else {
        (StatusCode::UNAUTHORIZED, "missing or wrong bearer token").into_response()
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    check_required_env(&args.require_env)?;
    let bearer = match &args.require_bearer_file {
        Some(path) => Some(Arc::<str>::from(read_credential(path)?)),
        None => None,
    };
    let server = match args.describe_append_file {
        Some(file) => LedgerServer::open_with_description_file(&args.ledger, file),
        None => LedgerServer::open(&args.ledger, args.describe_append),
    }
    .with_context(|| format!("opening ledger {}", args.ledger.display()))?;
    match args.http {
        None => serve_stdio(server).await,
        Some(addr) => serve_http(server, addr, args.ready_file.as_deref(), bearer).await,
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
    bearer: Option<Arc<str>>,
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
    let mut router = http_router(server, addr.ip(), shutdown.child_token());
    if let Some(expected) = bearer {
        router = router.layer(middleware::from_fn_with_state(expected, require_bearer));
    }
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
