//! The node's heartbeat to the leader: proves it is alive (so it keeps its tasks) and
//! renews its own lease clock. The leader heartbeats itself.

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
    let mut ticker = tokio::time::interval(options.heartbeat_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let me = cluster.node_id();
    loop {
        ticker.tick().await;
        let sent = Instant::now();
        match cluster.leader() {
            Some((leader, _)) if leader == me => {
                liveness.heard(NodeId(me), options.capacity);
                lease.acknowledged(sent);
            }
            Some((leader, address)) => {
                let Ok(channel) = cluster.peers().channel(&address) else {
                    continue;
                };
                let mut request = tonic::Request::new(HeartbeatRequest {
                    node_id: me,
                    capacity: options.capacity,
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
