//! `warden.internal.v1.NodeService`: what this node says about itself to a leader that
//! is about to add it.

use tonic::{Request, Response, Status};
use warden_proto::internal::node_service_server::NodeService;
use warden_proto::internal::{IdentifyRequest, IdentifyResponse};

pub struct Node {
    node_id: u64,
    master_key_id: Option<String>,
}

impl Node {
    pub fn new(node_id: u64, master_key_id: Option<String>) -> Node {
        Node {
            node_id,
            master_key_id,
        }
    }
}

#[tonic::async_trait]
impl NodeService for Node {
    async fn identify(
        &self,
        _request: Request<IdentifyRequest>,
    ) -> Result<Response<IdentifyResponse>, Status> {
        Ok(Response::new(IdentifyResponse {
            node_id: self.node_id,
            master_key_id: self.master_key_id.clone().unwrap_or_default(),
        }))
    }
}
