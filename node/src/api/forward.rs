//! `warden.internal.v1.ForwardService`: the leader's end of write forwarding, and the
//! heartbeats nodes send it. A forwarded write is accepted only as a principal that may
//! come from the peer that sent it (see [`check_origin`]); `apply()` then authorizes
//! it as it would a local one.

use std::sync::Arc;

use openraft::ServerState;
use tonic::{Request, Response, Status};
use warden_core::{Command, NodeId, Principal, PrincipalKind};
use warden_proto::internal::forward_service_server::ForwardService;
use warden_proto::internal::{HeartbeatRequest, HeartbeatResponse, RaftPayload};
use warden_raft::wire;

use crate::auth::Peer;
use crate::cluster::Cluster;
use crate::runtime::liveness::Liveness;
use crate::versions::Build;

pub struct Forward {
    cluster: Cluster,
    liveness: Arc<Liveness>,
}

impl Forward {
    pub fn new(cluster: Cluster, liveness: Arc<Liveness>) -> Forward {
        Forward { cluster, liveness }
    }
}

/// The peer `AuthLayer` attached to a node-to-node request.
fn peer_of<T>(request: &Request<T>) -> Result<Peer, Status> {
    request
        .extensions()
        .get::<Peer>()
        .copied()
        .ok_or_else(|| Status::internal("a node-to-node request reached a handler unauthenticated"))
}

/// Whether a write that names `request.principal` may arrive from `peer`: a user or
/// service account (whose token `apply()` checks again), the peer acting as itself, or
/// an agent's journal step from the node that owns the task at its epoch. Never
/// `system`, which only a node's own initialization of a fresh cluster proposes.
pub fn check_origin(peer: Peer, request: &warden_core::Request) -> Result<(), Status> {
    let principal = &request.principal;
    let refused = |why: String| Err(Status::permission_denied(why));
    // Only the leader raises the cluster's protocol, from the builds members reported to
    // it; no other node's word on them is taken.
    if matches!(request.command, Command::SetClusterProtocol { .. }) {
        return refused("the cluster protocol is raised only by the leader itself".to_owned());
    }
    // A group is formed by the leader from requests that each passed this check; one
    // from elsewhere could carry requests that never did (a node's as `system`, say).
    if matches!(request.command, Command::Group { .. }) {
        return refused("requests are grouped only by the leader itself".to_owned());
    }
    match (principal.kind(), peer) {
        (PrincipalKind::User | PrincipalKind::Service, _) => Ok(()),
        (PrincipalKind::System, _) => refused("a forwarded write may not act as system".to_owned()),
        (PrincipalKind::Unknown, _) => refused(format!(
            "a forwarded write names the unknown principal {principal}"
        )),
        // A trigger never writes: a node fires it, as itself.
        (PrincipalKind::Trigger, _) => refused(format!(
            "a forwarded write may not act as the trigger {principal}"
        )),
        (PrincipalKind::Node | PrincipalKind::Agent, Peer::Unverified) => Ok(()),
        (PrincipalKind::Node, Peer::Node(id)) if *principal == Principal::node(NodeId(id)) => {
            Ok(())
        }
        (PrincipalKind::Node, Peer::Node(id)) => {
            refused(format!("node {id} may not write as {principal}"))
        }
        (PrincipalKind::Agent, Peer::Node(id)) => match &request.command {
            Command::AppendJournal { node, .. } if node.0 == id => Ok(()),
            _ => refused(format!(
                "node {id} may write as {principal} only the journal steps of the tasks it runs"
            )),
        },
    }
}

#[tonic::async_trait]
impl ForwardService for Forward {
    async fn propose(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let peer = peer_of(&request)?;
        let proposal: warden_core::Request = wire::decode("request", &request.into_inner().data)
            .map_err(|error| Status::invalid_argument(error.to_string()))?;
        check_origin(peer, &proposal)?;
        let outcome = self.cluster.propose_here(&proposal).await?;
        let data = wire::encode("outcome", &outcome)
            .map_err(|error| Status::internal(error.to_string()))?;
        Ok(Response::new(RaftPayload { data }))
    }

    async fn heartbeat(
        &self,
        request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        let peer = peer_of(&request)?;
        let request = request.into_inner();
        if let Peer::Node(id) = peer
            && id != request.node_id
        {
            return Err(Status::permission_denied(format!(
                "node {id} may not report node {}'s liveness",
                request.node_id
            )));
        }
        let (leading, term) = {
            let metrics = self.cluster.raft().metrics();
            let metrics = metrics.borrow();
            (metrics.state == ServerState::Leader, metrics.current_term)
        };
        if !leading {
            return Err(Status::failed_precondition("not the leader"));
        }
        self.liveness
            .heard(NodeId(request.node_id), request.capacity);
        self.cluster.member_builds().heard(
            term,
            NodeId(request.node_id),
            Build::reported(request.protocol, request.version),
        );
        Ok(Response::new(HeartbeatResponse {
            leader_id: self.cluster.node_id(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(principal: Principal, command: Command) -> warden_core::Request {
        warden_core::Request {
            time_ms: 1,
            principal,
            token: None,
            command,
        }
    }

    fn journal(node: u64) -> Command {
        Command::AppendJournal {
            workspace: warden_core::WorkspaceId::parse("acme").expect("workspace"),
            task: warden_core::TaskId::from_u128(1),
            node: NodeId(node),
            epoch: 1,
            step: warden_core::Step::Fail {
                reason: String::new(),
            },
        }
    }

    #[test]
    fn a_peer_may_forward_only_what_may_come_from_it() {
        let token = Command::RevokeToken {
            token: warden_core::TokenId([1; 8]),
        };
        let user = Principal::parse("user/alice").expect("principal");
        let agent = Principal::agent(
            &warden_core::WorkspaceId::parse("acme").expect("workspace"),
            &warden_core::AgentName::parse("helper").expect("agent"),
        );
        let allowed = [
            (Peer::Node(2), request(user.clone(), token.clone())),
            (
                Peer::Node(2),
                request(Principal::node(NodeId(2)), token.clone()),
            ),
            (Peer::Node(2), request(agent.clone(), journal(2))),
            (Peer::Unverified, request(agent.clone(), journal(3))),
        ];
        for (peer, proposal) in allowed {
            assert!(
                check_origin(peer, &proposal).is_ok(),
                "{peer:?} {proposal:?}"
            );
        }
        let refused = [
            (Peer::Node(2), request(Principal::system(), token.clone())),
            (
                Peer::Unverified,
                request(Principal::system(), token.clone()),
            ),
            (
                Peer::Node(2),
                request(Principal::node(NodeId(3)), token.clone()),
            ),
            (Peer::Node(2), request(agent.clone(), journal(3))),
            (Peer::Node(2), request(agent, token.clone())),
            // A node raising the cluster's protocol past what every member speaks would
            // stop them all; only the leader raises it, from its own reports.
            (
                Peer::Node(2),
                request(
                    Principal::node(NodeId(2)),
                    Command::SetClusterProtocol { protocol: u32::MAX },
                ),
            ),
            (
                Peer::Unverified,
                request(
                    Principal::node(NodeId(2)),
                    Command::SetClusterProtocol { protocol: 2 },
                ),
            ),
            // A node forwarding a group as itself would smuggle in requests that never
            // passed this check: here, one acting as `system`.
            (
                Peer::Node(2),
                warden_core::group::group(
                    Principal::node(NodeId(2)),
                    1,
                    vec![request(Principal::system(), token.clone())],
                ),
            ),
        ];
        for (peer, proposal) in refused {
            let status = check_origin(peer, &proposal).expect_err("refused");
            assert_eq!(status.code(), tonic::Code::PermissionDenied, "{proposal:?}");
        }
    }
}
