//! The client side of the Raft transport: openraft's `RaftNetworkFactory` over gRPC.
//! Each peer gets one lazily connected tonic channel; every RPC carries openraft's own
//! request, bincode-encoded (see [`crate::wire`]).

use std::net::IpAddr;
use std::time::Duration;

use openraft::BasicNode;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::transport::Channel;
use warden_proto::internal::RaftPayload;
use warden_proto::internal::raft_service_client::RaftServiceClient;

use crate::peer_transport::PeerTransport;
use crate::types::{NodeId, TypeConfig};
use crate::wire;

/// Creates connections to peers. Holds no state: openraft keeps one connection per
/// replication stream and drops it when the stream ends.
#[derive(Debug, Clone)]
pub struct Network {
    connect_timeout: Duration,
    source_ip: Option<IpAddr>,
    transport: PeerTransport,
}

impl Network {
    /// Connections leave from `source_ip` when given, so a node with its own address is
    /// seen by its peers (and by firewalls) under that address.
    pub fn new(
        connect_timeout: Duration,
        source_ip: Option<IpAddr>,
        transport: PeerTransport,
    ) -> Network {
        Network {
            connect_timeout,
            source_ip,
            transport,
        }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerConnection;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerConnection {
        let client = self
            .transport
            .endpoint(target, &node.addr, self.connect_timeout, self.source_ip)
            .map(|endpoint| RaftServiceClient::new(endpoint.connect_lazy()));
        PeerConnection { target, client }
    }
}

/// One peer's RPC channel. An address that does not parse makes every RPC fail as
/// unreachable, which openraft backs off from, rather than panicking.
pub struct PeerConnection {
    target: NodeId,
    client: Result<RaftServiceClient<Channel>, String>,
}

#[derive(Debug, Clone, Copy)]
enum Method {
    AppendEntries,
    Vote,
    InstallSnapshot,
}

/// Why a call produced no response from the peer's Raft.
enum CallError {
    Unreachable(String),
    Network(String),
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Message(String);

impl PeerConnection {
    async fn call<Req, Resp>(
        &mut self,
        method: Method,
        request: &Req,
        option: &RPCOption,
    ) -> Result<Resp, CallError>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
    {
        let client = match &mut self.client {
            Ok(client) => client,
            Err(reason) => {
                return Err(CallError::Unreachable(reason.clone()));
            }
        };
        let data = wire::encode("request", request)
            .map_err(|error| CallError::Network(error.to_string()))?;
        let mut grpc_request = tonic::Request::new(RaftPayload { data });
        grpc_request.set_timeout(option.hard_ttl());
        let reply = match method {
            Method::AppendEntries => client.append_entries(grpc_request).await,
            Method::Vote => client.vote(grpc_request).await,
            Method::InstallSnapshot => client.install_snapshot(grpc_request).await,
        };
        let reply = reply.map_err(|status| {
            let text = format!("{method:?} to node {}: {status}", self.target);
            match status.code() {
                tonic::Code::Unavailable | tonic::Code::Cancelled => CallError::Unreachable(text),
                _ => CallError::Network(text),
            }
        })?;
        wire::decode("response", &reply.into_inner().data)
            .map_err(|error| CallError::Network(error.to_string()))
    }

    /// Calls `method` and maps both ways it can fail: no answer (unreachable or a
    /// network error) and an answer that is the peer's own `RaftError`.
    async fn rpc<Req, Resp, E>(
        &mut self,
        method: Method,
        request: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let answer: Result<Resp, RaftError<NodeId, E>> = self
            .call(method, request, option)
            .await
            .map_err(no_answer)?;
        answer.map_err(|error| RPCError::RemoteError(RemoteError::new(self.target, error)))
    }
}

/// A call that got no answer from the peer's Raft, as openraft classifies it:
/// unreachable peers are backed off from, network errors retried.
fn no_answer<E: std::error::Error>(error: CallError) -> RPCError<NodeId, BasicNode, E> {
    match error {
        CallError::Unreachable(text) => RPCError::Unreachable(Unreachable::new(&Message(text))),
        CallError::Network(text) => RPCError::Network(NetworkError::new(&Message(text))),
    }
}

impl RaftNetwork<TypeConfig> for PeerConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.rpc(Method::AppendEntries, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.rpc(Method::InstallSnapshot, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.rpc(Method::Vote, &rpc, &option).await
    }
}
