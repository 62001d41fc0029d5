//! Who is calling a node-to-node service. With TLS, the caller must present a
//! certificate the cluster's CA issued to a node (the handshake verified the chain),
//! and that node must be a current member (voter or learner) of this node's view of
//! the membership; a node that is in no cluster yet admits any node of the CA, since it
//! is being added. An insecure node cannot tell who calls.

use tonic::Status;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

use crate::cluster::Cluster;

/// The caller of a node-to-node RPC, in the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// A member that proved it is this node.
    Node(u64),
    /// On a node started with `tls.insecure`: anyone.
    Unverified,
}

/// The peer behind a request on a node-to-node service, or why it is refused.
pub fn authenticate(
    cluster: &Cluster,
    tls: bool,
    path: &str,
    extensions: &http::Extensions,
) -> Result<Peer, Status> {
    if !tls {
        return Ok(Peer::Unverified);
    }
    let certificates = extensions
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(TlsConnectInfo::peer_certs);
    let Some(leaf) = certificates.as_ref().and_then(|chain| chain.first()) else {
        return Err(Status::unauthenticated(format!(
            "{path} is for the cluster's nodes: connect with a node certificate from the cluster's CA"
        )));
    };
    let node = match warden_tls::node_id_of(leaf) {
        Ok(Some(node)) => node,
        Ok(None) => {
            return Err(Status::permission_denied(format!(
                "{path} is for the cluster's nodes: the client certificate names no node"
            )));
        }
        Err(error) => return Err(Status::unauthenticated(error.to_string())),
    };
    let metrics = cluster.raft().metrics();
    let membership = &metrics.borrow().membership_config;
    let members = membership.membership();
    let in_a_cluster = members.nodes().next().is_some();
    if in_a_cluster && members.get_node(&node).is_none() {
        return Err(Status::permission_denied(format!(
            "node {node} is not a member of this cluster"
        )));
    }
    Ok(Peer::Node(node))
}
