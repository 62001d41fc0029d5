//! The cluster: its nodes and their roles, the leader, each node's applied index and
//! lag, their leases and the tasks each one runs, as the serving node knows them (lag,
//! leases and versions only the leader knows).

use askama::Template;
use axum::response::Html;
use warden_proto::v1::{ClusterStatusRequest, ClusterStatusResponse, Member, MemberRole};

use crate::error::PageError;
use crate::signed_in::{Layout, SignedIn};

pub struct Node {
    pub member: Member,
    pub role: &'static str,
    pub leader: bool,
    pub serving: bool,
    pub lease: String,
}

#[derive(Template)]
#[template(path = "cluster.html")]
struct ClusterPage {
    layout: Layout,
    status: ClusterStatusResponse,
    nodes: Vec<Node>,
    leader: String,
}

pub async fn page(signed: SignedIn) -> Result<Html<String>, PageError> {
    let api = &signed.api;
    let status = api
        .cluster()
        .cluster_status(api.request(ClusterStatusRequest::default()))
        .await?
        .into_inner();
    let nodes = status
        .members
        .iter()
        .map(|member| Node {
            role: match MemberRole::try_from(member.role) {
                Ok(MemberRole::Voter) => "voter",
                Ok(MemberRole::Learner) => "worker (non-voting)",
                _ => "unknown",
            },
            leader: status.leader_id == Some(member.node_id),
            serving: status.node_id == member.node_id,
            lease: match (member.lease_holds, member.heard_ms_ago) {
                (Some(true), Some(ago)) => format!("holds (heard {ago} ms ago)"),
                (Some(true), None) => "holds (not yet due)".to_owned(),
                (Some(false), Some(ago)) => format!("EXPIRED (last heard {ago} ms ago)"),
                (Some(false), None) => "EXPIRED (never heard)".to_owned(),
                (None, _) => "-".to_owned(),
            },
            member: member.clone(),
        })
        .collect();
    let leader = status
        .leader_id
        .map_or_else(|| "none known".to_owned(), |id| format!("node {id}"));
    let page = ClusterPage {
        layout: signed.layout("cluster"),
        status,
        nodes,
        leader,
    };
    Ok(Html(page.render()?))
}
