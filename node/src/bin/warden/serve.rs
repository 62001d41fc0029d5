//! `warden serve`: one node, configured from defaults, a file, WARDEN_* variables and
//! flags, until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use warden_node::{config, failpoints, server};

use crate::parse_setting;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// A TOML config file.
    #[arg(long, env = "WARDEN_CONFIG")]
    config: Option<PathBuf>,
    /// This node's Raft id (positive, unique in the cluster).
    #[arg(long)]
    node_id: Option<u64>,
    /// gRPC listen address; port 0 picks a free port once and keeps it across restarts.
    /// A specific IP (not 0.0.0.0) is also where connections to peers leave from.
    #[arg(long)]
    listen: Option<String>,
    /// The address peers and clients use to reach this node (default: the bound address).
    #[arg(long)]
    advertise: Option<String>,
    /// Where the node keeps its RocksDB database (default: warden-data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where to serve /metrics, /healthz and /readyz over HTTP (e.g. 127.0.0.1:9400).
    #[arg(long)]
    metrics_listen: Option<String>,
    /// Where to serve the console, the web pages for approvers, operators and auditors
    /// (console.listen, e.g. 127.0.0.1:9443); over TLS when the node has TLS.
    #[arg(long)]
    console_listen: Option<String>,
    /// Any setting as KEY=VALUE, e.g. raft.snapshot_after_entries=500 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
    settings: Vec<(String, String)>,
    /// Serve and dial peers in plain text, without TLS or peer authentication
    /// (tls.insecure): for development on one machine only.
    #[arg(long)]
    insecure: bool,
    /// Once listening, write {node_id, grpc, metrics, console, pid} as JSON to this file.
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Log lines as text (coloured only on a terminal) or as one JSON object per line
    /// for a log collector. WARDEN_LOG sets the filter (default: info,openraft=warn).
    #[arg(long, env = "WARDEN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Logs to standard output: colours only when it is a terminal, so log files and
/// collectors get no escape sequences.
fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARDEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder
            .with_target(false)
            .with_ansi(std::io::stdout().is_terminal())
            .init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
    }
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging(args.log_format);
    let failpoints = failpoints::configure_from_env()?;
    if !failpoints.is_empty() {
        tracing::warn!(?failpoints, "storage failpoints configured from FAILPOINTS");
    }
    let mut overrides = Vec::new();
    let flags = [
        ("node_id", args.node_id.map(|id| id.to_string())),
        ("listen", args.listen.map(|value| format!("{value:?}"))),
        (
            "advertise",
            args.advertise.map(|value| format!("{value:?}")),
        ),
        (
            "data_dir",
            args.data_dir
                .map(|dir| format!("{:?}", dir.display().to_string())),
        ),
        (
            "metrics_listen",
            args.metrics_listen.map(|value| format!("{value:?}")),
        ),
        (
            "console.listen",
            args.console_listen.map(|value| format!("{value:?}")),
        ),
        ("tls.insecure", args.insecure.then(|| "true".to_owned())),
    ];
    for (key, value) in flags {
        if let Some(value) = value {
            overrides.push((key.to_owned(), value));
        }
    }
    overrides.extend(args.settings);
    let options = config::load(args.config.as_deref(), std::env::vars(), &overrides)?;
    tracing::info!(config = %serde_json::to_string(&options)?, "effective configuration");
    let handle =
        warden_node::metrics::install_recorder().context("installing the metrics recorder")?;
    server::run(options, Some(handle), args.ready_file, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
