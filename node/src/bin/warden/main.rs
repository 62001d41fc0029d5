//! `warden`: the Warden server. `serve` runs one node; `dev` runs a local cluster of
//! node processes; `demo` runs Warden's main job end to end; `audit` verifies a chain
//! offline.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use warden_local_cluster::LocalCluster;
use warden_node::{anchor, audit_file, cert_cmd, config, demo, failpoints, server};

#[derive(Parser)]
#[command(
    name = "warden",
    version,
    about = "Warden: a self-hosted control plane for AI agents that act on real systems"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one node. Settings come from defaults, then --config, then WARDEN_* variables
    /// (e.g. WARDEN_NODE_ID, WARDEN_DATA_DIR, WARDEN_RAFT_HEARTBEAT_INTERVAL), then flags.
    /// FAILPOINTS (storage fault injection) is refused unless built with `failpoints`.
    Serve(ServeArgs),
    /// Run a local cluster of N node processes on loopback, initialize it, print the
    /// endpoints and keep it running until Ctrl-C. Rerunning with the same --data-dir
    /// restarts the same cluster. It makes its own CA, node certificates, bootstrap
    /// token and master key (in --data-dir), so it runs TLS with nothing to set up.
    Dev {
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=9))]
        nodes: u64,
        #[arg(long, default_value = ".warden-dev")]
        data_dir: PathBuf,
        /// A setting for every node, as KEY=VALUE (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
        settings: Vec<(String, String)>,
        /// Run the nodes without TLS (tls.insecure), e.g. to measure what TLS costs.
        #[arg(long)]
        insecure: bool,
    },
    /// Warden's main job end to end: a local 3-node cluster takes tasks, loses its leader
    /// to SIGKILL, keeps going, takes the node back, and proves every node holds the same
    /// verified audit chain.
    Demo {
        /// Where the nodes keep their data; a fresh temporary directory by default.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Verify an audit chain offline, or make a node's audit signing key.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Create the cluster's CA and issue node and client certificates.
    #[command(subcommand)]
    Cert(cert_cmd::CertCommand),
    /// Write a new random bootstrap token to FILE (mode 0600): `cluster init` must
    /// present it to the node started with it (bootstrap.token_file).
    BootstrapToken { file: PathBuf },
}

#[derive(clap::Args)]
struct ServeArgs {
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
    /// Where to serve Prometheus /metrics (e.g. 127.0.0.1:9400).
    #[arg(long)]
    metrics_listen: Option<String>,
    /// Any setting as KEY=VALUE, e.g. raft.snapshot_after_entries=500 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
    settings: Vec<(String, String)>,
    /// Serve and dial peers in plain text, without TLS or peer authentication
    /// (tls.insecure): for development on one machine only.
    #[arg(long)]
    insecure: bool,
    /// Once listening, write {node_id, grpc, metrics, pid} as JSON to this file.
    #[arg(long)]
    ready_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the chain in a stopped node's data directory and the signed checkpoints
    /// stored with it. Exits 1 if it does not verify: a bad record, a checkpoint that does
    /// not verify or does not match the chain, or an unanchored tail longer than twice the
    /// checkpoint interval (checkpoints deleted along with rewritten records).
    Verify {
        #[arg(long)]
        data_dir: PathBuf,
        /// A key known from outside the database: a node's own signing key file (mode
        /// 0600) or its public key (64 hex digits). Fails unless it is the key some node is
        /// registered with; only that node's checkpoints then count as anchors.
        #[arg(long)]
        signing_key: Option<PathBuf>,
    },
    /// Verify a JSON Lines export from `wardenctl audit export` and the checkpoints it
    /// carries; reports the last signed checkpoint it covers. Exits 1 if it does not verify.
    VerifyExport {
        file: PathBuf,
        /// Checkpoints saved apart from the export (`wardenctl audit checkpoint --output
        /// json` or `audit heads --output json`): fails when one signs a record past the
        /// export's end (a cut tail) or a hash the export does not hold.
        #[arg(long)]
        checkpoints: Option<PathBuf>,
    },
    /// Write a new ed25519 audit signing key for one node to FILE (mode 0600; never
    /// overwrites) and print its public key. Keep it outside the node's data directory and
    /// point audit.signing_key_file at it.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
}

fn parse_setting(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))?;
    Ok((key.trim().to_owned(), value.trim().to_owned()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Dev {
            nodes,
            data_dir,
            settings,
            insecure,
        } => dev(nodes, data_dir, settings, insecure).await,
        Command::Demo { data_dir } => demo::run(data_dir).await,
        Command::Cert(command) => {
            cert_cmd::run(command)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::BootstrapToken { file } => {
            cert_cmd::write_bootstrap_token(&file)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::Verify {
            data_dir,
            signing_key,
        }) => {
            let trusted = signing_key
                .as_deref()
                .map(anchor::signer::trusted_key)
                .transpose()?;
            Ok(report(audit_file::verify_data_dir(&data_dir, trusted)?))
        }
        Command::Audit(AuditCommand::VerifyExport { file, checkpoints }) => {
            let saved = match &checkpoints {
                Some(path) => audit_file::saved_checkpoints(
                    &std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?,
                )
                .with_context(|| format!("reading checkpoints from {}", path.display()))?,
                None => Vec::new(),
            };
            let reader = std::fs::File::open(&file)
                .with_context(|| format!("opening {}", file.display()))?;
            Ok(report(audit_file::verify_export_against(
                std::io::BufReader::new(reader),
                &saved,
            )?))
        }
        Command::Audit(AuditCommand::Keygen { out }) => {
            let key = anchor::signer::generate(&out)?;
            println!("{key}");
            eprintln!(
                "wrote a new audit signing key to {} (mode 0600); set audit.signing_key_file to it",
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn report(verdict: audit_file::Verdict) -> ExitCode {
    let head = verdict
        .head_hash
        .map(|hash| hash.to_hex())
        .unwrap_or_else(|| "-".to_owned());
    for line in &verdict.anchoring {
        println!("{line}");
    }
    match verdict.failure {
        None => {
            println!("ok: {} records, head {head}", verdict.record_count);
            ExitCode::SUCCESS
        }
        Some((index, problem)) => {
            println!(
                "FAILED at record {index}: {problem} ({} records verified before it)",
                verdict.record_count
            );
            ExitCode::from(1)
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARDEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging();
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
async fn shutdown_signal() {
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

async fn dev(
    nodes: u64,
    data_dir: PathBuf,
    settings: Vec<(String, String)>,
    insecure: bool,
) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("locating the warden binary")?;
    let mut cluster = LocalCluster::new(exe, &data_dir, settings);
    if insecure {
        cluster.insecure();
    }
    let started = cluster.bootstrap(nodes).await;
    if let Err(error) = started {
        cluster.stop_all().await?;
        return Err(error);
    }
    println!(
        "warden dev: {nodes}-node cluster running (data in {})",
        data_dir.display()
    );
    println!("{:<6} {:<22} {:<22} log", "node", "grpc", "metrics");
    for id in 1..=nodes {
        let ready = cluster.ready(id)?;
        println!(
            "{:<6} {:<22} {:<22} {}",
            id,
            ready.grpc,
            ready.metrics.as_deref().unwrap_or("-"),
            cluster.log_path(id).display()
        );
    }
    let endpoints = cluster.endpoints().join(",");
    std::fs::write(data_dir.join("endpoints"), &endpoints).context("writing the endpoints file")?;
    println!("\nexport WARDEN_ENDPOINTS={endpoints}");
    // The first admin's token (mode 0600); the only credential that exists at first.
    let token_file = std::fs::canonicalize(cluster.admin_token_path())
        .context("locating the admin token file")?;
    println!("export WARDEN_TOKEN_FILE={}", token_file.display());
    match cluster.ca_path() {
        Some(ca) => {
            let ca = std::fs::canonicalize(&ca).context("locating the CA certificate")?;
            println!("export WARDEN_CA_FILE={}", ca.display());
        }
        None => println!("(insecure: no TLS; unset WARDEN_CA_FILE)"),
    }
    println!(
        "then e.g.: wardenctl cluster status; wardenctl workspace create acme\nCtrl-C stops all nodes."
    );
    // A node that dies (say, killed to try failover) is reported; the rest keep running.
    loop {
        tokio::select! {
            () = shutdown_signal() => break,
            id = cluster.any_exit() => eprintln!("node {id} exited; see {}", cluster.log_path(id).display()),
        }
    }
    cluster.stop_all().await?;
    println!("all nodes stopped");
    Ok(ExitCode::SUCCESS)
}
