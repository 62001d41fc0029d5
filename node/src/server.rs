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
use warden_proto::internal::forward_service_server::ForwardServiceServer;
use warden_proto::internal::node_service_server::NodeServiceServer;
use warden_proto::internal::raft_service_server::RaftServiceServer;
use warden_proto::v1::agent_service_server::AgentServiceServer;
use warden_proto::v1::audit_service_server::AuditServiceServer;
use warden_proto::v1::catalog_service_server::CatalogServiceServer;
use warden_proto::v1::cluster_service_server::ClusterServiceServer;
use warden_proto::v1::governance_service_server::GovernanceServiceServer;
use warden_proto::v1::identity_service_server::IdentityServiceServer;
use warden_proto::v1::task_service_server::TaskServiceServer;
use warden_proto::v1::workspace_service_server::WorkspaceServiceServer;
use warden_raft::{Network, Raft, RaftGrpc, Storage};

use crate::anchor::Anchor;
use crate::api::agent::Agents;
use crate::api::{
    audit::Audit, catalog::Catalog, cluster::ClusterAdmin, forward::Forward,
    governance::Governance, identity::Identity, node::Node, task::Tasks, workspace::Workspaces,
};
use crate::auth::AuthLayer;
use crate::bootstrap::BootstrapToken;
use crate::cluster::Cluster;
use crate::config::{MAX_MESSAGE_BYTES, Options};
use crate::peers::Peers;
use crate::rpc_metrics::RpcMetricsLayer;
use crate::runtime::MapOk;
use crate::secrets::Vault;
use crate::tls::NodeTls;

/// Node-to-node messages carry snapshot chunks and entry batches.
const MAX_INTERNAL_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// Remembers the address chosen for a port-0 listener.
const LISTEN_ADDRESS_FILE: &str = "listen-address";

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
    let signer = match &options.audit.signing_key_file {
        Some(path) => Some(crate::anchor::Signer::load(
            warden_core::NodeId(options.node_id),
            path,
            &options.data_dir,
        )?),
        None => {
            tracing::warn!(
                "no audit signing key (audit.signing_key_file): this node signs no audit checkpoints"
            );
            None
        }
    };
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

    let storage = Storage::open(&options.data_dir.join("db"))
        .with_context(|| format!("opening storage in {}", options.data_dir.display()))?;
    let raft_config = options
        .raft
        .to_openraft("warden")
        .map_err(|error| anyhow::anyhow!("raft configuration: {error}"))?;
    let state_machine = storage
        .state_machine()
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
    let cluster = Cluster::new(
        options.node_id,
        raft.clone(),
        storage.reader(),
        Peers::new(
            options.raft.connect_timeout,
            source_ip,
            tls.peer_transport(),
        ),
        options.limits.clone(),
    );

    let mut tasks = JoinSet::new();
    let metrics_address = match (&options.metrics_listen, metrics_handle) {
        (Some(address), Some(handle)) => {
            let metrics_listener = TcpListener::bind(address)
                .await
                .with_context(|| format!("binding the metrics listener on {address}"))?;
            let local = metrics_listener
                .local_addr()
                .context("reading the metrics address")?;
            tasks.spawn(async move {
                crate::metrics::serve(metrics_listener, handle).await;
                Ok(())
            });
            Some(local.to_string())
        }
        _ => None,
    };
    let follow = raft.clone();
    tasks.spawn(async move {
        crate::metrics::follow_raft(follow).await;
        Ok(())
    });

    let anchor = Anchor::new(cluster.clone(), signer);
    if anchor.public_key().is_some() {
        tasks.spawn(crate::anchor::periodic::run(anchor.clone()).map_ok());
    }

    // What a stdio server may never read: the data and every secret file of the node.
    let sandbox = options.mcp.sandbox(
        &options.data_dir,
        [
            options.secrets.master_key_file.as_deref(),
            options.audit.signing_key_file.as_deref(),
            options.tls.key_file.as_deref(),
            options.bootstrap.token_file.as_deref(),
        ]
        .into_iter()
        .flatten(),
    );
    let runtime = crate::runtime::start(
        cluster.clone(),
        options.runtime.clone(),
        sandbox,
        options.providers.clone(),
        options.egress.clone(),
        vault.clone(),
        &mut tasks,
    )
    .await?;

    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let mut builder = tonic::transport::Server::builder();
    let tls_on = match tls {
        NodeTls::Tls { server, .. } => {
            builder = builder.tls_config(server).context("tls settings")?;
            true
        }
        NodeTls::Insecure => false,
    };
    let master_key_id = vault.key_id();
    let router = builder
        .layer(RpcMetricsLayer)
        .layer(AuthLayer::new(cluster.clone(), tls_on))
        .add_service(
            RaftServiceServer::new(RaftGrpc::new(raft.clone()))
                .max_decoding_message_size(MAX_INTERNAL_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_INTERNAL_MESSAGE_BYTES),
        )
        .add_service(
            ForwardServiceServer::new(Forward::new(cluster.clone(), runtime.liveness.clone()))
                .max_decoding_message_size(MAX_INTERNAL_MESSAGE_BYTES),
        )
        .add_service(NodeServiceServer::new(Node::new(
            options.node_id,
            master_key_id.clone(),
            anchor.clone(),
        )))
        .add_service(ClusterServiceServer::new(ClusterAdmin::new(
            cluster.clone(),
            advertise.clone(),
            bootstrap,
            master_key_id,
            options.raft.catch_up_lag,
            anchor.public_key(),
        )))
        .add_service(WorkspaceServiceServer::new(Workspaces::new(
            cluster.clone(),
            vault.clone(),
        )))
        .add_service(
            TaskServiceServer::new(Tasks::new(cluster.clone()))
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(AuditServiceServer::new(Audit::new(cluster.clone(), anchor)))
        .add_service(AgentServiceServer::new(Agents::new(
            cluster.clone(),
            vault,
            runtime.tools.clone(),
            options.providers.clone(),
            options.egress.clone(),
            options.mcp.trust_tool_annotations,
        )))
        .add_service(CatalogServiceServer::new(Catalog::new(cluster.clone())))
        .add_service(IdentityServiceServer::new(Identity::new(cluster.clone())))
        .add_service(GovernanceServiceServer::new(Governance::new(
            cluster.clone(),
        )));
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
            "pid": std::process::id(),
        });
        write_atomically(path, &serde_json::to_vec(&ready)?)?;
    }
    tracing::info!(node_id = options.node_id, grpc = %advertise, metrics = ?metrics_address, "node started");

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
    let outcome = tokio::select! {
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
    };
    tracing::info!(node_id = options.node_id, "stopping");
    let _ = stop_server.send(());
    if let Err(error) = raft.shutdown().await {
        tracing::warn!(%error, "raft shutdown");
    }
    tasks.shutdown().await;
    outcome
}

/// Binds the gRPC listener. A port-0 listen address takes the port remembered in the
/// data directory when there is one, so a restarted node keeps the address its peers
/// know it by.
async fn bind_grpc(options: &Options) -> anyhow::Result<TcpListener> {
    let remembered = options.data_dir.join(LISTEN_ADDRESS_FILE);
    let address: SocketAddr = if options.listen.port() == 0 && remembered.exists() {
        let text = std::fs::read_to_string(&remembered)
            .with_context(|| format!("reading {}", remembered.display()))?;
        text.trim()
            .parse()
            .with_context(|| format!("parsing {}", remembered.display()))?
    } else {
        options.listen
    };
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("binding the gRPC listener on {address}"))?;
    if options.listen.port() == 0 && !remembered.exists() {
        let bound = listener.local_addr().context("reading the bound address")?;
        write_atomically(&remembered, bound.to_string().as_bytes())?;
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
