//! What the node gives its console (the `warden-console` crate): its public gRPC
//! services behind the same layers as the gRPC port, as an in-process service, and TLS
//! settings from the node's certificate.

use anyhow::Context;
use tonic::service::Routes;
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;

use crate::auth::AuthLayer;
use crate::cluster::Cluster;
use crate::config::Tls;
use crate::rpc_metrics::RpcMetricsLayer;

/// The services as the console calls them: through the metrics and authentication
/// layers, exactly as a call on the gRPC port. Node-to-node services stay closed: an
/// in-process call carries no node certificate.
pub fn grpc(routes: Routes, cluster: Cluster, tls: bool) -> warden_console::Grpc {
    BoxCloneSyncService::new(
        ServiceBuilder::new()
            .layer(RpcMetricsLayer)
            .layer(AuthLayer::new(cluster, tls))
            .service(routes),
    )
}

/// The console's TLS settings from the node's certificate and key; `None` when the node
/// runs without TLS (`tls.insecure`).
pub fn tls_acceptor(tls: &Tls) -> anyhow::Result<Option<tokio_rustls::TlsAcceptor>> {
    let (Some(cert_file), Some(key_file)) = (&tls.cert_file, &tls.key_file) else {
        return Ok(None);
    };
    let cert = std::fs::read(cert_file)
        .with_context(|| format!("reading tls.cert_file {}", cert_file.display()))?;
    let key = std::fs::read(key_file)
        .with_context(|| format!("reading tls.key_file {}", key_file.display()))?;
    warden_console::tls_acceptor(&cert, &key)
        .map(Some)
        .map_err(|error| anyhow::anyhow!("console TLS: {error}"))
}
