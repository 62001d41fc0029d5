//! Runs one Warden node: binds its listeners, opens storage, starts Raft and serves the
//! gRPC API until asked to stop or until Raft stops on a fatal error (a failed fsync
//! among them), which ends the process with an error.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tonic::transport::server::TcpIncoming;
use warden_raft::{Network, Raft, Storage};

use crate::anchor::Anchor;
use crate::auth::AuthLayer;
use crate::bootstrap::BootstrapToken;
use crate::cluster::Cluster;
use crate::config::Options;
use crate::peers::Peers;
use crate::rpc_metrics::RpcMetricsLayer;
use crate::runtime::MapOk;
use crate::secrets::Vault;
use crate::tls::NodeTls;

/// Remember the addresses chosen for port-0 listeners.
const LISTEN_ADDRESS_FILE: &str = "listen-address";
const METRICS_ADDRESS_FILE: &str = "metrics-address";
const CONSOLE_ADDRESS_FILE: &str = "console-address";

pub async fn run(
    options: Options,
    metrics_handle: Option<PrometheusHandle>,
    ready_file: Option<PathBuf>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&options.data_dir)
        .with_context(|| format!("creating data directory {}", options.data_dir.display()))?;
    let vault = Vault::load(
        options.secrets.master_key_file.as_deref(),
        &options.data_dir,
    )?;
    let signer = load_signer(&options)?;
    let tls = NodeTls::load(&options.tls, options.node_id)?;
    let bootstrap =
        BootstrapToken::load(options.bootstrap.token_file.as_deref(), std::env::vars())?;
    let listener = bind_grpc(&options).await?;
    let bound = listener
        .local_addr()
        .context("reading the bound gRPC address")?;
    let advertise = options
        .advertise
        .clone()
        .unwrap_or_else(|| bound.to_string());
    // A node listening on an address of its own also connects to peers from it.
    let source_ip = (!bound.ip().is_unspecified()).then_some(bound.ip());
    let traces = crate::traces::start(&options.traces, options.node_id)?;
    let (task_traces, trace_exporter) = traces.unzip();
    let build = crate::versions::Build::this(crate::failpoints::protocol()?);
    let (raft, cluster, proposer) =
        start_raft(&options, source_ip, &tls, task_traces, build).await?;

    let mut tasks = JoinSet::new();
    tasks.spawn(proposer.run());
    if let Some(exporter) = trace_exporter {
        tasks.spawn(exporter.run(cluster.clone()));
    }
    let metrics_address = serve_http(&options, metrics_handle, &cluster, &mut tasks).await?;
    let follow = raft.clone();
    tasks.spawn(async move {
        crate::metrics::follow_raft(follow).await;
        Ok(())
    });
    let anchor = Anchor::new(cluster.clone(), signer);
    if anchor.public_key().is_some() {
        tasks.spawn(crate::anchor::periodic::run(anchor.clone()).map_ok());
    }
    let runtime = crate::runtime::start(
        cluster.clone(),
        options.runtime.clone(),
        stdio_sandbox(&options),
        options.providers.clone(),
        options.egress.clone(),
        vault.clone(),
        &mut tasks,
    )
    .await?;

    let mut builder = tonic::transport::Server::builder();
    let tls_on = match tls {
        NodeTls::Tls { server, .. } => {
            builder = builder.tls_config(server).context("tls settings")?;
            true
        }
        NodeTls::Insecure => false,
    };
    let console_key = vault.console_key();
    let sender_vault = vault.clone();
    let hooks = crate::hooks::router(cluster.clone(), vault.clone());
    let routes = crate::services::routes(
        &options,
        crate::services::Parts {
            cluster: cluster.clone(),
            raft: raft.clone(),
            vault,
            anchor,
            runtime: &runtime,
            advertise: advertise.clone(),
            bootstrap,
        },
    )?;
    // Not serving until the first readiness check says otherwise.
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status("", tonic_health::ServingStatus::NotServing)
        .await;
    let routes = routes.add_service(health_service);
    tasks.spawn(crate::health::run(
        health,
        cluster.clone(),
        options.raft.catch_up_lag,
    ));
    let console_address = serve_console(
        &options,
        crate::console::grpc(routes.clone(), cluster.clone(), tls_on),
        console_key,
        hooks,
        &mut tasks,
    )
    .await?;
    tasks.spawn(crate::schedules::run(cluster.clone()));
    tasks.spawn(crate::webhooks::run(crate::webhooks::Sender {
        cluster: cluster.clone(),
        options: options.webhooks.clone(),
        egress: options.egress.clone(),
        vault: sender_vault,
        links: crate::webhooks::body::Links::new(
            options.console.public_url.as_deref(),
            console_address.as_deref(),
            tls_on,
        ),
    }));
    let router = builder
        .layer(RpcMetricsLayer)
        .layer(AuthLayer::new(cluster, tls_on))
        .add_routes(routes);
    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    tasks.spawn(async move {
        router
            // Without TCP_NODELAY, Nagle's algorithm and delayed ACKs hold small
            // responses back by ~40 ms.
            .serve_with_incoming_shutdown(
                TcpIncoming::from(listener).with_nodelay(Some(true)),
                async {
                    let _ = server_stopped.await;
                },
            )
            .await
            .context("grpc server")
    });

    if let Some(path) = &ready_file {
        // Read by whoever launched the node (`Ready` in the local-cluster crate, which every
        // cluster test parses).
        let ready = serde_json::json!({
            "node_id": options.node_id,
            "grpc": advertise,
            "metrics": metrics_address,
            "console": console_address,
            "pid": std::process::id(),
        });
        write_atomically(path, &serde_json::to_vec(&ready)?)?;
    }
    tracing::info!(node_id = options.node_id, grpc = %advertise, metrics = ?metrics_address, "node started");

    let outcome = until_stopped(&raft, shutdown, &mut tasks).await;
    tracing::info!(node_id = options.node_id, "stopping");
    let _ = stop_server.send(());
    if let Err(error) = raft.shutdown().await {
        tracing::warn!(%error, "raft shutdown");
    }
    tasks.shutdown().await;
    outcome
}

/// The node's audit signing key, if it has one.
fn load_signer(options: &Options) -> anyhow::Result<Option<crate::anchor::Signer>> {
    match &options.audit.signing_key_file {
        Some(path) => Ok(Some(crate::anchor::Signer::load(
            warden_core::NodeId(options.node_id),
            path,
            &options.data_dir,
        )?)),
        None => {
            tracing::warn!(
                "no audit signing key (audit.signing_key_file): this node signs no audit checkpoints"
            );
            Ok(None)
        }
    }
}

/// Opens storage and starts Raft, and the cluster handle over both.
async fn start_raft(
    options: &Options,
    source_ip: Option<std::net::IpAddr>,
    tls: &NodeTls,
    traces: Option<crate::traces::TaskTraces>,
    build: crate::versions::Build,
) -> anyhow::Result<(Raft, Cluster, crate::cluster::Proposer)> {
    let storage = Storage::open(&options.data_dir.join("db"))
        .with_context(|| format!("opening storage in {}", options.data_dir.display()))?;
    let raft_config = options
        .raft
        .to_openraft("warden")
        .map_err(|error| anyhow::anyhow!("raft configuration: {error}"))?;
    let state_machine = storage
        .state_machine_speaking(build.protocol)
        .context("opening the state machine")?;
    let raft = Raft::new(
        options.node_id,
        Arc::new(raft_config),
        Network::new(
            options.raft.connect_timeout,
            source_ip,
            tls.peer_transport(),
        ),
        storage.log_store(),
        state_machine,
    )
    .await
    .context("starting raft")?;
    let (cluster, proposer) = Cluster::new(
        options.node_id,
        raft.clone(),
        storage.reader(),
        Peers::new(
            options.raft.connect_timeout,
            source_ip,
            tls.peer_transport(),
        ),
        options.limits.clone(),
        traces,
        build,
    );
    Ok((raft, cluster, proposer))
}

/// Serves the HTTP listener (`/metrics`, `/healthz`, `/readyz`) when the node has a
/// metrics address and a recorder; the bound address.
async fn serve_http(
    options: &Options,
    handle: Option<PrometheusHandle>,
    cluster: &Cluster,
    tasks: &mut JoinSet<anyhow::Result<()>>,
) -> anyhow::Result<Option<String>> {
    let (Some(address), Some(handle)) = (options.metrics_listen, handle) else {
        return Ok(None);
    };
    let listener = bind_remembered(address, &options.data_dir.join(METRICS_ADDRESS_FILE))
        .await
        .context("binding the metrics listener")?;
    let local = listener
        .local_addr()
        .context("reading the metrics address")?;
    let state = crate::http::HttpState {
        metrics: handle,
        process: metrics_process::Collector::default(),
        cluster: cluster.clone(),
        catch_up_lag: options.raft.catch_up_lag,
    };
    tasks.spawn(crate::http::serve(listener, state));
    Ok(Some(local.to_string()))
}

/// Serves the web listener when `console.listen` is set, over TLS when the node has it:
/// the console and the webhook triggers' `hooks`. The bound address.
async fn serve_console(
    options: &Options,
    grpc: warden_console::Grpc,
    key: Option<zeroize::Zeroizing<[u8; 32]>>,
    hooks: axum::Router,
    tasks: &mut JoinSet<anyhow::Result<()>>,
) -> anyhow::Result<Option<String>> {
    let Some(address) = options.console.listen else {
        return Ok(None);
    };
    let listener = bind_remembered(address, &options.data_dir.join(CONSOLE_ADDRESS_FILE))
        .await
        .context("binding the console listener")?;
    let local = listener
        .local_addr()
        .context("reading the console address")?;
    let acceptor = crate::console::tls_acceptor(&options.tls)?;
    let key = key.unwrap_or_else(|| {
        tracing::warn!(
            "no master key: console sessions are sealed with a key of this process only (they end when it restarts and work on this node only)"
        );
        zeroize::Zeroizing::new(rand::random())
    });
    let settings = warden_console::Settings {
        key,
        tls: acceptor.is_some(),
        session_ttl: options.console.session_ttl,
    };
    let router = warden_console::router(grpc, settings).merge(hooks);
    tracing::info!(console = %local, tls = acceptor.is_some(), "console listening");
    tasks.spawn(async move {
        warden_console::serve(listener, acceptor, router)
            .await
            .context("console listener")
    });
    Ok(Some(local.to_string()))
}

/// The sandbox of stdio tool servers: they may never read the node's data or any of its
/// secret files.
fn stdio_sandbox(options: &Options) -> warden_mcp::StdioSandbox {
    options.mcp.sandbox(
        &options.data_dir,
        [
            options.secrets.master_key_file.as_deref(),
            options.audit.signing_key_file.as_deref(),
            options.tls.key_file.as_deref(),
            options.bootstrap.token_file.as_deref(),
        ]
        .into_iter()
        .flatten(),
    )
}

/// Waits for the shutdown signal, a fatal Raft error, or the end of any node task (which
/// is never expected): Ok only for the shutdown signal.
async fn until_stopped(
    raft: &Raft,
    shutdown: impl Future<Output = ()>,
    tasks: &mut JoinSet<anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let mut raft_metrics = raft.metrics();
    let fatal = async move {
        loop {
            if let Err(fatal) = &raft_metrics.borrow_and_update().running_state {
                return fatal.to_string();
            }
            if raft_metrics.changed().await.is_err() {
                return "raft stopped".to_owned();
            }
        }
    };
    tokio::select! {
        biased;
        reason = fatal => Err(anyhow::anyhow!("raft stopped: {reason}")),
        () = shutdown => Ok(()),
        Some(joined) = tasks.join_next() => match joined {
            // A stopping Raft also ends the tasks that follow it: name the cause.
            Ok(Ok(())) => match &raft.metrics().borrow().running_state {
                Err(fatal) => Err(anyhow::anyhow!("raft stopped: {fatal}")),
                Ok(()) => Err(anyhow::anyhow!("a node task ended unexpectedly")),
            },
            Ok(Err(error)) => Err(error),
            Err(error) => Err(anyhow::anyhow!("a node task failed: {error}")),
        },
    }
}

/// Binds the gRPC listener at the remembered address (see `bind_remembered`).
async fn bind_grpc(options: &Options) -> anyhow::Result<TcpListener> {
    bind_remembered(options.listen, &options.data_dir.join(LISTEN_ADDRESS_FILE))
        .await
        .context("binding the gRPC listener")
}

/// Binds `address`. A port-0 address takes the one remembered in `remembered` when there
/// is one, and remembers the port it got otherwise, so a restarted node keeps the
/// addresses its peers (and dashboards) know it by.
async fn bind_remembered(address: SocketAddr, remembered: &Path) -> anyhow::Result<TcpListener> {
    let chosen: SocketAddr = if address.port() == 0 && remembered.exists() {
        let text = std::fs::read_to_string(remembered)
            .with_context(|| format!("reading {}", remembered.display()))?;
        text.trim()
            .parse()
            .with_context(|| format!("parsing {}", remembered.display()))?
    } else {
        address
    };
    let listener = TcpListener::bind(chosen)
        .await
        .with_context(|| format!("binding {chosen}"))?;
    if address.port() == 0 && !remembered.exists() {
        let bound = listener.local_addr().context("reading the bound address")?;
        write_atomically(remembered, bound.to_string().as_bytes())?;
    }
    Ok(listener)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, bytes)
        .with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}
