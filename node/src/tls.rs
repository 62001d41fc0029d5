//! The node's TLS material, loaded and checked once at start: the cluster CA, this
//! node's certificate (which must name this node) and its private key (which must be
//! private). From them come the server's TLS settings (clients may present a
//! certificate; peers must, see `auth::layer`) and the transport to peers.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, bail};
use tonic::transport::{Certificate, Identity, ServerTlsConfig};
use warden_raft::{PeerTls, PeerTransport};

use crate::config::Tls;

/// How the node serves and dials: TLS with its identity, or (explicitly) insecure.
pub enum NodeTls {
    Tls {
        server: ServerTlsConfig,
        peers: PeerTransport,
    },
    Insecure,
}

impl NodeTls {
    /// Reads and checks the files `options` names for node `node_id`.
    pub fn load(options: &Tls, node_id: u64) -> anyhow::Result<NodeTls> {
        let (Some(ca_file), Some(cert_file), Some(key_file)) =
            (&options.ca_file, &options.cert_file, &options.key_file)
        else {
            if options.insecure {
                tracing::warn!(
                    "INSECURE: tls.insecure is set: clients and peers talk to this node in plain text and any process that reaches its port can act as a cluster node; use it for development on one machine only"
                );
                return Ok(NodeTls::Insecure);
            }
            bail!("tls.ca_file, tls.cert_file and tls.key_file must be set (or tls.insecure)");
        };
        let ca = read(ca_file, "tls.ca_file")?;
        let cert = read(cert_file, "tls.cert_file")?;
        ensure_private(key_file)?;
        let key = read(key_file, "tls.key_file")?;
        let named = warden_tls::node_id_of_pem(&cert)
            .with_context(|| format!("reading tls.cert_file {}", cert_file.display()))?;
        match named {
            Some(id) if id == node_id => {}
            Some(id) => bail!(
                "tls.cert_file {} is node {id}'s certificate, but this is node {node_id}",
                cert_file.display()
            ),
            None => bail!(
                "tls.cert_file {} names no node; issue one with `warden cert node --node-id {node_id}`",
                cert_file.display()
            ),
        }
        let server = ServerTlsConfig::new()
            .identity(Identity::from_pem(&cert, &key))
            .client_ca_root(Certificate::from_pem(&ca))
            // Clients authenticate with tokens; peers must present a node certificate,
            // which the authentication layer demands on the node-to-node services.
            .client_auth_optional(true);
        let peers = PeerTransport::Tls(PeerTls::new(&ca, &cert, &key));
        tracing::info!(ca = %ca_file.display(), cert = %cert_file.display(), "tls on");
        Ok(NodeTls::Tls { server, peers })
    }

    pub fn peer_transport(&self) -> PeerTransport {
        match self {
            NodeTls::Tls { peers, .. } => peers.clone(),
            NodeTls::Insecure => PeerTransport::Insecure,
        }
    }
}

fn read(path: &Path, key: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {key} {}", path.display()))
}

/// A private key file must not be readable by group or others.
pub fn ensure_private(path: &Path) -> anyhow::Result<()> {
    let metadata =
        std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        bail!(
            "{} has mode {mode:04o}: it must not be accessible by group or others (chmod 600)",
            path.display()
        );
    }
    Ok(())
}
