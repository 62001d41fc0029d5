//! gRPC channels to other nodes, created lazily and shared per address. Every request
//! on them carries this node's peer credential (unless it carries a user's token).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use warden_raft::PeerAuth;

use crate::error::Error;

/// A channel to a peer that presents this node's credential.
pub type PeerChannel = InterceptedService<Channel, PeerAuth>;

#[derive(Clone)]
pub struct Peers {
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    auth: PeerAuth,
    connect_timeout: Duration,
    /// Where connections leave from, as for Raft's own (see `warden_raft::Network`).
    source_ip: Option<IpAddr>,
}

impl Peers {
    pub fn new(connect_timeout: Duration, source_ip: Option<IpAddr>, auth: PeerAuth) -> Peers {
        Peers {
            channels: Arc::default(),
            auth,
            connect_timeout,
            source_ip,
        }
    }

    pub fn channel(&self, address: &str) -> Result<PeerChannel, Error> {
        Ok(InterceptedService::new(
            self.raw_channel(address)?,
            self.auth.clone(),
        ))
    }

    fn raw_channel(&self, address: &str) -> Result<Channel, Error> {
        let mut channels = self
            .channels
            .lock()
            .map_err(|_| Error::Internal("peer channel cache poisoned".to_owned()))?;
        if let Some(channel) = channels.get(address) {
            return Ok(channel.clone());
        }
        let uri = if address.contains("://") {
            address.to_owned()
        } else {
            format!("http://{address}")
        };
        let endpoint = Endpoint::from_shared(uri)
            .map_err(|error| Error::LeaderUnreachable(format!("bad address {address}: {error}")))?
            .connect_timeout(self.connect_timeout)
            .local_address(self.source_ip)
            .tcp_nodelay(true);
        let channel = endpoint.connect_lazy();
        channels.insert(address.to_owned(), channel.clone());
        Ok(channel)
    }
}
