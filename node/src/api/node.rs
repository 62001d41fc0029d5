//! `warden.internal.v1.NodeService`: what this node says about itself to a leader that
//! is about to add it, and its audit head and checkpoints, asked by the node that serves
//! `wardenctl audit heads` and `audit checkpoint`. Only peers reach it (`auth/peer.rs`).

use tonic::{Request, Response, Status};
use warden_proto::internal::node_service_server::NodeService;
use warden_proto::internal::{
    AuditHeadRequest, AuditHeadResponse, IdentifyRequest, IdentifyResponse, SignCheckpointRequest,
    SignCheckpointResponse,
};

use crate::anchor::{Anchor, heads};
use crate::versions::Build;

/// How many indexes one head request may ask about (one per member and one more).
const MAX_AT_INDEXES: usize = 64;

pub struct Node {
    node_id: u64,
    master_key_id: Option<String>,
    anchor: Anchor,
    build: Build,
}

impl Node {
    pub fn new(node_id: u64, master_key_id: Option<String>, anchor: Anchor, build: Build) -> Node {
        Node {
            node_id,
            master_key_id,
            anchor,
            build,
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
            audit_public_key: self
                .anchor
                .public_key()
                .map(|key| key.to_hex())
                .unwrap_or_default(),
            protocol: self.build.protocol,
            version: self.build.version.clone(),
        }))
    }

    async fn audit_head(
        &self,
        request: Request<AuditHeadRequest>,
    ) -> Result<Response<AuditHeadResponse>, Status> {
        let at = request.into_inner().at_index;
        if at.len() > MAX_AT_INDEXES {
            return Err(Status::resource_exhausted(format!(
                "at_index: at most {MAX_AT_INDEXES} indexes"
            )));
        }
        Ok(Response::new(heads::local_head(&self.anchor, &at)?))
    }

    async fn sign_checkpoint(
        &self,
        _request: Request<SignCheckpointRequest>,
    ) -> Result<Response<SignCheckpointResponse>, Status> {
        let checkpoint = self.anchor.sign_now().await?;
        let signed = heads::signed(&checkpoint);
        Ok(Response::new(SignCheckpointResponse {
            node_id: signed.node_id,
            index: signed.index,
            hash: signed.hash,
            public_key: signed.public_key,
            signature: signed.signature,
        }))
    }
}
