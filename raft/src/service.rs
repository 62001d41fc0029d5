//! The server side of the Raft transport: `warden.internal.v1.RaftService`, handing
//! decoded openraft requests to the local `Raft` and encoding its answer, errors
//! included, so the caller sees openraft's own `RaftError`.

use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use tonic::{Request, Response, Status};
use warden_proto::internal::raft_service_server::RaftService;
use warden_proto::internal::{RaftPayload, ReadIndexRequest, ReadIndexResponse};

use crate::types::{NodeId, Raft, TypeConfig};
use crate::wire;

#[derive(Clone)]
pub struct RaftGrpc {
    raft: Raft,
}

impl RaftGrpc {
    pub fn new(raft: Raft) -> RaftGrpc {
        RaftGrpc { raft }
    }
}

fn decode<T: serde::de::DeserializeOwned>(request: Request<RaftPayload>) -> Result<T, Status> {
    wire::decode("request", &request.into_inner().data)
        .map_err(|error| Status::invalid_argument(error.to_string()))
}

fn reply<T: serde::Serialize>(result: &T) -> Result<Response<RaftPayload>, Status> {
    let data =
        wire::encode("response", result).map_err(|error| Status::internal(error.to_string()))?;
    Ok(Response::new(RaftPayload { data }))
}

#[tonic::async_trait]
impl RaftService for RaftGrpc {
    async fn append_entries(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let rpc: AppendEntriesRequest<TypeConfig> = decode(request)?;
        reply(&self.raft.append_entries(rpc).await)
    }

    async fn vote(&self, request: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let rpc: VoteRequest<NodeId> = decode(request)?;
        reply(&self.raft.vote(rpc).await)
    }

    async fn install_snapshot(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let rpc: InstallSnapshotRequest<TypeConfig> = decode(request)?;
        reply(&self.raft.install_snapshot(rpc).await)
    }

    /// Confirms leadership with a quorum and returns the index a linearizable read on
    /// any node must wait to have applied.
    async fn read_index(
        &self,
        _request: Request<ReadIndexRequest>,
    ) -> Result<Response<ReadIndexResponse>, Status> {
        match self.raft.get_read_log_id().await {
            Ok((read_log_id, _applied)) => Ok(Response::new(ReadIndexResponse {
                read_index: read_log_id.map_or(0, |log_id| log_id.index),
            })),
            Err(error) => Err(Status::unavailable(format!("read index: {error}"))),
        }
    }
}
