//! `warden.internal.v1.ForwardService`: the leader's end of write forwarding.

use std::sync::Arc;

use openraft::ServerState;
use tonic::{Request, Response, Status};
use warden_core::NodeId;
use warden_proto::internal::forward_service_server::ForwardService;
use warden_proto::internal::{HeartbeatRequest, HeartbeatResponse, RaftPayload};
use warden_raft::wire;

use crate::cluster::Cluster;
use crate::runtime::liveness::Liveness;

pub struct Forward {
    cluster: Cluster,
    liveness: Arc<Liveness>,
}

impl Forward {
    pub fn new(cluster: Cluster, liveness: Arc<Liveness>) -> Forward {
        Forward { cluster, liveness }
    }
}

#[tonic::async_trait]
impl ForwardService for Forward {
    async fn propose(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let proposal: warden_core::Request = wire::decode("request", &request.into_inner().data)
            .map_err(|error| Status::invalid_argument(error.to_string()))?;
        let outcome = self.cluster.propose_here(&proposal).await?;
        let data = wire::encode("outcome", &outcome)
            .map_err(|error| Status::internal(error.to_string()))?;
        Ok(Response::new(RaftPayload { data }))
    }

    async fn heartbeat(
        &self,
        request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        let request = request.into_inner();
        let leading = self.cluster.raft().metrics().borrow().state == ServerState::Leader;
        if !leading {
            return Err(Status::failed_precondition("not the leader"));
        }
        self.liveness
            .heard(NodeId(request.node_id), request.capacity);
        Ok(Response::new(HeartbeatResponse {
            leader_id: self.cluster.node_id(),
        }))
    }
}
