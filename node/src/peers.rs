//! gRPC channels to other nodes, created lazily and shared per node and address. With
//! TLS, each presents this node's certificate and accepts only the certificate the
//! cluster's CA issued for the node it was opened to (see `warden_raft::PeerTransport`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonic::transport::Channel;
use warden_raft::PeerTransport;

use crate::error::Error;

/// A channel to a peer.
pub type PeerChannel = Channel;

#[derive(Clone)]
pub struct Peers {
    channels: Arc<Mutex<HashMap<(u64, String), Channel>>>,
    transport: PeerTransport,
    connect_timeout: Duration,
    /// Where connections leave from, as for Raft's own (see `warden_raft::Network`).
    source_ip: Option<IpAddr>,
}

impl Peers {
    pub fn new(
        connect_timeout: Duration,
        source_ip: Option<IpAddr>,
        transport: PeerTransport,
    ) -> Peers {
        Peers {
            channels: Arc::default(),
            transport,
            connect_timeout,
            source_ip,
        }
    }

    /// The channel to node `node`, which the membership says is at `address`.
    pub fn channel(&self, node: u64, address: &str) -> Result<PeerChannel, Error> {
        let mut channels = self
            .channels
            .lock()
            .map_err(|_| Error::Internal("peer channel cache poisoned".to_owned()))?;
        let key = (node, address.to_owned());
        if let Some(channel) = channels.get(&key) {
            return Ok(channel.clone());
        }
        let channel = self.fresh_channel(node, address)?;
        channels.insert(key, channel.clone());
        Ok(channel)
    }

    /// A new channel to node `node` at `address`, not shared: for a node that is not a
    /// member yet, whose address may turn out wrong.
    pub fn fresh_channel(&self, node: u64, address: &str) -> Result<PeerChannel, Error> {
        let endpoint = self
            .transport
            .endpoint(node, address, self.connect_timeout, self.source_ip)
            .map_err(Error::LeaderUnreachable)?;
        Ok(endpoint.connect_lazy())
    }

    pub fn is_tls(&self) -> bool {
        self.transport.is_tls()
    }
}
