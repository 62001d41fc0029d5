//! The checks a membership change passes before the leader makes it: the node to add
//! must answer at its address and prove it is that node (over TLS, its certificate from
//! the cluster's CA; the handshake checks it) holding the cluster's master key; the
//! learner to promote must have caught up. Each change is recorded in the log under the
//! admin who asked (`AuthorizeMembershipChange`), and each refusal as a rejection.

use std::time::Duration;

use openraft::ServerState;
use warden_core::{AuditKey, Code, Command, MembershipChange, Rejection};
use warden_proto::internal::IdentifyRequest;
use warden_proto::internal::node_service_client::NodeServiceClient;

use crate::api::{Refused, propose};
use crate::auth::Caller;
use crate::cluster::Cluster;
use crate::error::Error;

/// How long the node to add has to answer who it is.
const IDENTIFY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a promotion waits for the leader to see the learner caught up.
const CATCH_UP_GRACE: Duration = Duration::from_secs(2);

/// Records `change` under `caller`, authorized in `apply()` (a cluster admin only); a
/// refusal is recorded too and comes back as `Error::Rejected`.
pub async fn authorize(
    cluster: &Cluster,
    caller: &Caller,
    change: MembershipChange,
) -> Result<(), Error> {
    propose(
        cluster,
        caller,
        Ok(Command::AuthorizeMembershipChange { change }),
    )
    .await
    .map(|_| ())
}

/// Records that `change` was refused for `message` and returns the refusal.
async fn refuse(
    cluster: &Cluster,
    caller: &Caller,
    change: &MembershipChange,
    message: String,
) -> Error {
    let refused = Refused {
        action: warden_core::Action::ClusterMembership,
        resource: format!("cluster/node/{}", change.node()),
        payload: crate::api::Payload::of_bytes(change.to_string().as_bytes()),
        rejection: Rejection::new(Code::FailedPrecondition, message),
    };
    match propose(cluster, caller, Err(refused)).await {
        Err(error) => error,
        Ok(outcome) => crate::api::unexpected(&outcome),
    }
}

/// Checks that node `node` answers at `address`, proves it is that node and holds
/// `master_key_id`; records a refusal that says what to do otherwise. Returns the audit
/// public key the node named (none when it has no signing key).
pub async fn check_new_node(
    cluster: &Cluster,
    caller: &Caller,
    change: &MembershipChange,
    address: &str,
    master_key_id: Option<&str>,
) -> Result<Option<AuditKey>, Error> {
    let node = change.node().0;
    let answer = identify(cluster, node, address).await;
    let running = cluster.reader().cluster_protocol()?;
    let problem = match answer {
        Err(reason) => Some(format!(
            "node {node} at {address} cannot be reached or did not prove it is node {node} ({reason}); start it there with --node-id {node}{}, then add it again",
            if cluster.peers().is_tls() {
                " and a certificate for it from this cluster's CA (`warden cert node --node-id ...`)"
            } else {
                ""
            }
        )),
        Ok(identity) if identity.node_id != node => Some(format!(
            "the node at {address} is node {}, not node {node}",
            identity.node_id
        )),
        Ok(identity) if identity.master_key_id != master_key_id.unwrap_or_default() => {
            Some(format!(
                "node {node} holds master key {:?} but this cluster uses {:?}; start it with the cluster's master key (secrets.master_key_file), then add it again",
                identity.master_key_id,
                master_key_id.unwrap_or_default()
            ))
        }
        Ok(identity) if identity.protocol.max(warden_core::OLDEST_PROTOCOL) < running => {
            Some(format!(
                "node {node} runs Warden {} speaking protocol {}, but the cluster runs protocol {running}; start it with a build that speaks protocol {running} or newer, then add it again",
                if identity.version.is_empty() {
                    "of unknown version"
                } else {
                    &identity.version
                },
                identity.protocol.max(warden_core::OLDEST_PROTOCOL)
            ))
        }
        Ok(identity)
            if !identity.audit_public_key.is_empty()
                && AuditKey::from_hex(&identity.audit_public_key).is_none() =>
        {
            Some(format!(
                "node {node} named audit key {:?}, which is not an ed25519 public key (64 hex digits)",
                identity.audit_public_key
            ))
        }
        Ok(identity) => {
            return Ok(AuditKey::from_hex(&identity.audit_public_key));
        }
    };
    match problem {
        Some(message) => Err(refuse(cluster, caller, change, message).await),
        None => Ok(None),
    }
}

async fn identify(
    cluster: &Cluster,
    node: u64,
    address: &str,
) -> Result<warden_proto::internal::IdentifyResponse, String> {
    let channel = cluster
        .peers()
        .fresh_channel(node, address)
        .map_err(|error| error.to_string())?;
    let mut request = tonic::Request::new(IdentifyRequest {});
    request.set_timeout(IDENTIFY_TIMEOUT);
    match tokio::time::timeout(
        IDENTIFY_TIMEOUT,
        NodeServiceClient::new(channel).identify(request),
    )
    .await
    {
        Err(_elapsed) => Err(format!("no answer within {IDENTIFY_TIMEOUT:?}")),
        Ok(Err(status)) => Err(root_cause(&status)),
        Ok(Ok(response)) => Ok(response.into_inner()),
    }
}

/// A status's message with the transport error's causes, which name a failed
/// handshake ("invalid peer certificate: ...") or a refused connection.
fn root_cause(status: &tonic::Status) -> String {
    let mut text = status.message().to_owned();
    let mut source = std::error::Error::source(status);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// Checks that `node` is a learner within `raft.catch_up_lag` entries of this leader;
/// records a refusal that says what to do otherwise.
pub async fn check_caught_up(
    cluster: &Cluster,
    caller: &Caller,
    change: &MembershipChange,
    catch_up_lag: u64,
) -> Result<(), Error> {
    let node = change.node().0;
    // Replication progress reaches the metrics a little after the entries reach the
    // learner: give a learner that is about to show as caught up a moment to.
    let caught_up = |metrics: &openraft::RaftMetrics<u64, openraft::BasicNode>| {
        let last = metrics.last_log_index.unwrap_or(0);
        metrics
            .replication
            .as_ref()
            .and_then(|replication| replication.get(&node).copied())
            .flatten()
            .is_some_and(|matched| last.saturating_sub(matched.index) <= catch_up_lag)
    };
    let metrics = match cluster
        .raft()
        .wait(Some(CATCH_UP_GRACE))
        .metrics(caught_up, "learner caught up")
        .await
    {
        Ok(metrics) => metrics,
        Err(_) => cluster.raft().metrics().borrow().clone(),
    };
    let membership = metrics.membership_config.membership();
    let last = metrics.last_log_index.unwrap_or(0);
    let problem = if membership.voter_ids().any(|id| id == node) {
        Some(format!("node {node} is already a voter"))
    } else if membership.get_node(&node).is_none() {
        Some(format!(
            "node {node} is not a member; add it first with `wardenctl cluster add-node {node} ADDRESS`"
        ))
    } else if metrics.state != ServerState::Leader {
        Some("this node stopped leading; try again".to_owned())
    } else {
        let matched = metrics
            .replication
            .as_ref()
            .and_then(|replication| replication.get(&node).copied())
            .flatten()
            .map(|log_id| log_id.index);
        match matched {
            Some(index) if last.saturating_sub(index) <= catch_up_lag => None,
            Some(index) => Some(format!(
                "node {node} has not caught up: it holds the log up to {index} of {last} ({} behind, more than raft.catch_up_lag {catch_up_lag}); wait and try again (`wardenctl cluster status` shows its lag)",
                last - index
            )),
            None => Some(format!(
                "node {node} has not acknowledged any entry yet: check that it is running and reachable, then try again"
            )),
        }
    };
    match problem {
        Some(message) => Err(refuse(cluster, caller, change, message).await),
        None => Ok(()),
    }
}
