//! `warden.internal.v1.ForwardService`: the leader's end of write forwarding.

use tonic::{Request, Response, Status};
use warden_proto::internal::RaftPayload;
use warden_proto::internal::forward_service_server::ForwardService;
use warden_raft::wire;

use crate::cluster::Cluster;

pub struct Forward {
    cluster: Cluster,
}

impl Forward {
    pub fn new(cluster: Cluster) -> Forward {
        Forward { cluster }
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
}
