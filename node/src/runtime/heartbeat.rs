//! The node's heartbeat to the leader: proves it is alive (so it keeps its tasks),
//! renews its own lease clock and reports its build (`versions.rs`). The leader
//! heartbeats itself.

use std::sync::Arc;
use std::time::Instant;

use warden_core::NodeId;
use warden_proto::internal::HeartbeatRequest;
use warden_proto::internal::forward_service_client::ForwardServiceClient;

use super::liveness::{LeaseClock, Liveness};
use crate::cluster::Cluster;
use crate::config::Runtime;

pub async fn run(
    cluster: Cluster,
    options: Runtime,
    liveness: Arc<Liveness>,
    lease: Arc<LeaseClock>,
) {
    let me = cluster.node_id();
    // Until the lease holds (at start, or after losing it) heartbeats go out five times
    // as often, so a node can run tasks as soon as there is a leader to hear it.
    let eager = options.heartbeat_interval / 5;
    let mut next = tokio::time::Instant::now();
    loop {
        tokio::time::sleep_until(next).await;
        let interval = if lease.holds(options.lease) {
            options.heartbeat_interval
        } else {
            eager
        };
        next = tokio::time::Instant::now() + interval;
        let sent = Instant::now();
        match cluster.leader() {
            Some((leader, _)) if leader == me => {
                liveness.heard(NodeId(me), options.capacity);
                let term = cluster.raft().metrics().borrow().current_term;
                cluster
                    .member_builds()
                    .heard(term, NodeId(me), cluster.build().clone());
                lease.acknowledged(sent);
            }
            Some((leader, address)) => {
                let Ok(channel) = cluster.peers().channel(leader, &address) else {
                    continue;
                };
                let mut request = tonic::Request::new(HeartbeatRequest {
                    node_id: me,
                    capacity: options.capacity,
                    protocol: cluster.build().protocol,
                    version: cluster.build().version.clone(),
                });
                request.set_timeout(options.heartbeat_interval);
                match ForwardServiceClient::new(channel).heartbeat(request).await {
                    Ok(_) => lease.acknowledged(sent),
                    Err(status) => {
                        tracing::debug!(leader, %status, "heartbeat not acknowledged");
                    }
                }
            }
            None => {}
        }
    }
}
