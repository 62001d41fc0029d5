//! Raising the cluster's protocol (`warden_core::version`): the leader proposes the
//! newest protocol every member reported, once each did in its term, and only upwards.

use std::time::Duration;

use warden_core::{Command, NodeId, Outcome, Principal, Request};

use crate::api::now_ms;
use crate::cluster::Cluster;
use crate::versions::Unheard;

/// On the leader, raises the cluster's protocol to the newest one every member reported
/// within `fresh`, when that is newer than the one it runs; returns the protocol it runs
/// now. Proposed here only, never forwarded: a node that lost the lead raises nothing. Not
/// while a node is being added, whose build the raise would not have counted.
pub async fn raise(cluster: &Cluster, fresh: Duration) -> Result<u32, crate::Error> {
    let running = cluster.reader().cluster_protocol()?;
    let Ok(_adding) = cluster.membership_lock().try_lock() else {
        return Ok(running);
    };
    let term = cluster.raft().metrics().borrow().current_term;
    let members = super::controller::members(cluster);
    let me = NodeId(cluster.node_id());
    cluster
        .member_builds()
        .heard(term, me, cluster.build().clone());
    let common = match cluster.member_builds().common(term, &members, fresh) {
        Ok(common) => common,
        Err(Unheard(node)) => {
            tracing::trace!(%node, "not raising the cluster protocol: a member is not heard from yet");
            return Ok(running);
        }
    };
    if common <= running {
        return Ok(running);
    }
    let request = Request {
        time_ms: now_ms(),
        principal: Principal::node(me),
        token: None,
        command: Command::SetClusterProtocol { protocol: common },
    };
    match cluster.propose_here(&request).await? {
        Outcome::ClusterProtocolSet { from, to } => {
            tracing::info!(
                from,
                to,
                "every member speaks protocol {to}: the cluster runs it now"
            );
            Ok(to)
        }
        // Another leader raised it meanwhile.
        Outcome::Rejected(rejection) => {
            tracing::debug!(%rejection, "raising the cluster protocol was refused");
            Ok(cluster.reader().cluster_protocol()?)
        }
        other => Err(crate::Error::Internal(format!(
            "raising the cluster protocol answered {other:?}"
        ))),
    }
}
