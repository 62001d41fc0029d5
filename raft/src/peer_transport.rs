//! How a node dials its peers. With TLS (the default), every connection presents this
//! node's certificate and accepts the peer only if the cluster's CA issued it for the
//! node that was meant (`node-<id>.warden`, see `warden_tls`), whatever address it was
//! reached at: an address now held by another node, or by anyone else, fails the
//! handshake. A node started insecure (development only) dials in plain text.

use std::net::IpAddr;
use std::time::Duration;

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::types::NodeId;

#[derive(Clone)]
pub enum PeerTransport {
    Tls(PeerTls),
    /// Plain text, no peer authentication: `tls.insecure`.
    Insecure,
}

/// The cluster's CA and this node's certificate and key, PEM.
#[derive(Clone)]
pub struct PeerTls {
    ca: Certificate,
    identity: Identity,
}

impl PeerTls {
    pub fn new(ca_pem: &[u8], cert_pem: &[u8], key_pem: &[u8]) -> PeerTls {
        PeerTls {
            ca: Certificate::from_pem(ca_pem),
            identity: Identity::from_pem(cert_pem, key_pem),
        }
    }
}

impl std::fmt::Debug for PeerTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PeerTransport::Tls(_) => "PeerTransport::Tls(<redacted>)",
            PeerTransport::Insecure => "PeerTransport::Insecure",
        })
    }
}

impl PeerTransport {
    pub fn is_tls(&self) -> bool {
        matches!(self, PeerTransport::Tls(_))
    }

    /// An endpoint (not yet connected) for node `target` at `address` (`host:port`).
    /// Connections leave from `source_ip` when given, so a node with its own address is
    /// seen by its peers (and by firewalls) under that address.
    pub fn endpoint(
        &self,
        target: NodeId,
        address: &str,
        connect_timeout: Duration,
        source_ip: Option<IpAddr>,
    ) -> Result<Endpoint, String> {
        let host_port = match address.split_once("://") {
            Some((_, rest)) => rest,
            None => address,
        };
        let scheme = if self.is_tls() { "https" } else { "http" };
        let endpoint = Endpoint::from_shared(format!("{scheme}://{host_port}"))
            .map_err(|error| format!("bad address {address:?} of node {target}: {error}"))?
            .connect_timeout(connect_timeout)
            .local_address(source_ip)
            .tcp_nodelay(true);
        match self {
            PeerTransport::Insecure => Ok(endpoint),
            PeerTransport::Tls(tls) => endpoint
                .tls_config(
                    ClientTlsConfig::new()
                        .ca_certificate(tls.ca.clone())
                        .identity(tls.identity.clone())
                        .domain_name(warden_tls::node_name(target)),
                )
                .map_err(|error| format!("tls settings for node {target}: {error}")),
        }
    }
}
