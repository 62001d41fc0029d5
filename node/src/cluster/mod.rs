//! This node's handle on the replicated log: the write path (propose here when leader,
//! otherwise forward to the leader) and the read path (read-index barrier), both bounded
//! in time so a node cut off from its quorum answers UNAVAILABLE instead of hanging.
//! The leader's own proposals go through [`group`], which puts concurrent ones in one
//! entry.

mod group;

use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::error::RaftError;
use openraft::{BasicNode, RaftMetrics};
use warden_core::{Code, Outcome, Rejection, Request};
use warden_proto::internal::forward_service_client::ForwardServiceClient;
use warden_proto::internal::raft_service_client::RaftServiceClient;
use warden_proto::internal::{RaftPayload, ReadIndexRequest};
use warden_raft::{NodeId, Raft, StateReader, wire};

use crate::config::Limits;
use crate::error::Error;
use crate::peers::Peers;
use crate::versions::{Build, MemberBuilds};

pub use self::group::Proposer;

/// How long to wait for a new leader before trying again; a backoff between attempts.
const LEADER_CHANGE_WAIT: Duration = Duration::from_millis(200);

#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    node_id: NodeId,
    raft: Raft,
    reader: StateReader,
    peers: Peers,
    limits: Limits,
    /// Where tasks this node's proposals end go for their traces, when traces are on.
    traces: Option<crate::traces::TaskTraces>,
    /// This node's build, and the members' as they reported them to it while it leads.
    build: Build,
    member_builds: MemberBuilds,
    /// Held while a node is being added, and by a protocol raise (`runtime/protocol.rs`).
    membership: tokio::sync::Mutex<()>,
    /// The queue of this node's proposals, which the [`Proposer`] takes from.
    proposals: group::Queue,
}

/// Whether a read must observe every write acknowledged before it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    Linearizable,
    Local,
}

impl Cluster {
    pub fn new(
        node_id: NodeId,
        raft: Raft,
        reader: StateReader,
        peers: Peers,
        limits: Limits,
        traces: Option<crate::traces::TaskTraces>,
        build: Build,
    ) -> (Cluster, Proposer) {
        let (proposals, proposer) =
            Proposer::new(node_id, raft.clone(), reader.clone(), limits.write_timeout);
        let cluster = Cluster {
            inner: Arc::new(Inner {
                node_id,
                raft,
                reader,
                peers,
                limits,
                traces,
                build,
                member_builds: MemberBuilds::default(),
                membership: tokio::sync::Mutex::new(()),
                proposals,
            }),
        };
        (cluster, proposer)
    }

    /// This node's build: the protocol it speaks and its version.
    pub fn build(&self) -> &Build {
        &self.inner.build
    }

    /// Held while a node is being added, so no protocol raise overlooks it.
    pub fn membership_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.inner.membership
    }

    /// The builds members reported in heartbeats to this node while it leads.
    pub fn member_builds(&self) -> &MemberBuilds {
        &self.inner.member_builds
    }

    pub fn node_id(&self) -> NodeId {
        self.inner.node_id
    }

    pub fn raft(&self) -> &Raft {
        &self.inner.raft
    }

    pub fn reader(&self) -> &StateReader {
        &self.inner.reader
    }

    pub fn peers(&self) -> &Peers {
        &self.inner.peers
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The current leader and its address, if one is known.
    pub fn leader(&self) -> Option<(NodeId, String)> {
        let metrics = self.inner.raft.metrics();
        let metrics = metrics.borrow();
        let leader = metrics.current_leader?;
        let address = metrics
            .membership_config
            .membership()
            .get_node(&leader)?
            .addr
            .clone();
        Some((leader, address))
    }

    /// Commits `request` and returns what applying it produced. Waits at most the write
    /// timeout, across leader changes.
    pub async fn propose(&self, request: Request) -> Result<Outcome, Error> {
        // Checked here too, before a forward: a leader of an older build could not even
        // decode the command (a stale read here can only refuse, never admit).
        self.check_protocol(&request)?;
        let waited = self.inner.limits.write_timeout;
        let deadline = Instant::now() + waited;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Error::NoQuorum { waited });
            }
            let leader = self.leader();
            let attempt = match &leader {
                Some((leader_id, _)) if *leader_id == self.inner.node_id => {
                    self.propose_locally(&request, remaining).await
                }
                Some((leader_id, address)) => {
                    self.forward(*leader_id, address, &request, remaining).await
                }
                None => Err(Attempt::Retry),
            };
            match attempt {
                Ok(outcome) => {
                    self.trace_if_ended(&outcome);
                    return Ok(outcome);
                }
                Err(Attempt::Fail(error)) => return Err(error),
                Err(Attempt::TimedOut) => return Err(Error::NoQuorum { waited }),
                Err(Attempt::Retry) => {
                    let current = leader.map(|(id, _)| id);
                    self.wait_for_leader_change(current, remaining.min(LEADER_CHANGE_WAIT))
                        .await?;
                }
            }
        }
    }

    /// Proposes on this node, which believes it leads. Used by the forward service too.
    pub async fn propose_here(&self, request: &Request) -> Result<Outcome, Error> {
        match self
            .propose_locally(request, self.inner.limits.write_timeout)
            .await
        {
            Ok(outcome) => Ok(outcome),
            Err(Attempt::Fail(error)) => Err(error),
            Err(Attempt::TimedOut) => Err(Error::NoQuorum {
                waited: self.inner.limits.write_timeout,
            }),
            Err(Attempt::Retry) => Err(match self.leader() {
                Some((id, address)) => {
                    Error::LeaderUnreachable(format!("not the leader; node {id} at {address} is"))
                }
                None => Error::NoLeader,
            }),
        }
    }

    /// Queues the trace of a task this proposal ended: an accepted change leaves a task
    /// terminal only when it ended it, and only the proposer sees the outcome.
    fn trace_if_ended(&self, outcome: &Outcome) {
        if let (Some(traces), Outcome::TaskUpdated { task, .. }) = (&self.inner.traces, outcome)
            && task.status.is_terminal()
        {
            traces.task_ended(task);
        }
    }

    /// Appends `request` if this node leads, stamped with this node's clock: the time an
    /// entry carries is the leader's, whatever clock the node that took the call keeps
    /// (and `apply()` never lets it go back behind the previous entry's). The request
    /// may share its entry with others (see [`group`]).
    async fn propose_locally(
        &self,
        request: &Request,
        within: Duration,
    ) -> Result<Outcome, Attempt> {
        self.check_protocol(request).map_err(Attempt::Fail)?;
        let stamped = Request {
            time_ms: crate::api::now_ms(),
            ..request.clone()
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let queued = group::Queued {
            request: stamped,
            reply,
        };
        let answered = tokio::time::timeout(within, async {
            self.inner
                .proposals
                .send(queued)
                .await
                .map_err(|_closed| Attempt::Fail(Error::Stopped))?;
            answer
                .await
                .map_err(|_dropped| Attempt::Fail(Error::Stopped))?
        });
        match answered.await {
            Err(_elapsed) => Err(Attempt::TimedOut),
            Ok(result) => result,
        }
    }

    /// Keeps a command newer than the cluster's protocol out of the log: members whose
    /// build is older could not read it. `apply()` would refuse it too, but only on the
    /// members that can read it.
    fn check_protocol(&self, request: &Request) -> Result<(), Error> {
        let since = request.command.since();
        if since <= warden_core::OLDEST_PROTOCOL {
            return Ok(());
        }
        let running = self.inner.reader.cluster_protocol()?;
        if since > running {
            return Err(Error::ClusterProtocol(
                warden_core::apply::protocol_too_new(&request.command, running),
            ));
        }
        Ok(())
    }

    async fn forward(
        &self,
        leader: NodeId,
        address: &str,
        request: &Request,
        within: Duration,
    ) -> Result<Outcome, Attempt> {
        let channel = self
            .inner
            .peers
            .channel(leader, address)
            .map_err(Attempt::Fail)?;
        let data = wire::encode("request", request)
            .map_err(|error| Attempt::Fail(Error::Internal(error.to_string())))?;
        let mut grpc_request = tonic::Request::new(RaftPayload { data });
        grpc_request.set_timeout(within);
        match ForwardServiceClient::new(channel)
            .propose(grpc_request)
            .await
        {
            Ok(reply) => wire::decode("outcome", &reply.into_inner().data)
                .map_err(|error| Attempt::Fail(Error::Internal(error.to_string()))),
            Err(status) if status.code() == tonic::Code::DeadlineExceeded => Err(Attempt::TimedOut),
            // The leader moved, stepped down or is unreachable: look again.
            Err(status)
                if status.code() == tonic::Code::Unavailable
                    || status.code() == tonic::Code::Unknown =>
            {
                tracing::debug!(%address, %status, "forwarding a write failed; retrying");
                Err(Attempt::Retry)
            }
            // The leader kept a command newer than the cluster's protocol out of the log.
            Err(status) if status.code() == tonic::Code::FailedPrecondition => Err(Attempt::Fail(
                Error::ClusterProtocol(Rejection::new(Code::FailedPrecondition, status.message())),
            )),
            Err(status) => Err(Attempt::Fail(Error::LeaderUnreachable(status.to_string()))),
        }
    }

    /// Waits until [`Cluster::leader`] would name a leader other than `current`. A leader
    /// outside the membership does not count: `leader()` reports none for it, so the
    /// callers would pass `None` again and, were it to count, loop without ever yielding
    /// (a removed leader, until the others elect a new one; on the removed node itself,
    /// for good), which pinned every worker thread of a node.
    async fn wait_for_leader_change(
        &self,
        current: Option<NodeId>,
        within: Duration,
    ) -> Result<(), Error> {
        let result = self
            .inner
            .raft
            .wait(Some(within))
            .metrics(
                |metrics| {
                    metrics.current_leader.is_some_and(|leader| {
                        Some(leader) != current
                            && metrics
                                .membership_config
                                .membership()
                                .get_node(&leader)
                                .is_some()
                    })
                },
                "leader change",
            )
            .await;
        match result {
            Ok(_) | Err(openraft::metrics::WaitError::Timeout(_, _)) => Ok(()),
            Err(openraft::metrics::WaitError::ShuttingDown) => Err(Error::Stopped),
        }
    }

    /// Returns once this node has applied every write acknowledged before the call
    /// (linearizable), or at once (local).
    pub async fn read_barrier(&self, consistency: Consistency) -> Result<(), Error> {
        if consistency == Consistency::Local {
            return Ok(());
        }
        let waited = self.inner.limits.read_timeout;
        match tokio::time::timeout(waited, self.read_index_loop()).await {
            Ok(result) => result,
            Err(_elapsed) => Err(Error::ReadIndexTimeout { waited }),
        }
    }

    async fn read_index_loop(&self) -> Result<(), Error> {
        loop {
            let leader = self.leader().map(|(id, _)| id);
            match self.leader_read_index().await? {
                Some(index) => return self.wait_applied(index).await,
                None => {
                    self.wait_for_leader_change(leader, LEADER_CHANGE_WAIT)
                        .await?
                }
            }
        }
    }

    /// The read index of the leader this node knows, asked once: the commit index a quorum
    /// confirmed it still leads at. `None` when this node knows no leader or the leader did
    /// not answer.
    pub async fn leader_read_index(&self) -> Result<Option<u64>, Error> {
        Ok(match self.leader() {
            Some((leader_id, _)) if leader_id == self.inner.node_id => {
                match self.inner.raft.get_read_log_id().await {
                    Ok((read_log_id, _)) => Some(read_log_id.map_or(0, |log_id| log_id.index)),
                    Err(RaftError::Fatal(_)) => return Err(Error::Stopped),
                    Err(RaftError::APIError(_)) => None,
                }
            }
            Some((leader_id, address)) => {
                let channel = self.inner.peers.channel(leader_id, &address)?;
                match RaftServiceClient::new(channel)
                    .read_index(ReadIndexRequest {})
                    .await
                {
                    Ok(reply) => Some(reply.into_inner().read_index),
                    Err(status) => {
                        tracing::debug!(%address, %status, "read index from the leader failed");
                        None
                    }
                }
            }
            None => None,
        })
    }

    async fn wait_applied(&self, index: u64) -> Result<(), Error> {
        if index == 0 {
            return Ok(());
        }
        match self
            .inner
            .raft
            .wait(None)
            .applied_index_at_least(Some(index), "read index")
            .await
        {
            Ok(_) => Ok(()),
            Err(openraft::metrics::WaitError::ShuttingDown) => Err(Error::Stopped),
            Err(openraft::metrics::WaitError::Timeout(_, _)) => {
                Err(Error::Internal("unbounded wait timed out".to_owned()))
            }
        }
    }
}

/// One try at a write.
enum Attempt {
    /// No leader, or the leader changed or was unreachable: try again.
    Retry,
    TimedOut,
    Fail(Error),
}

/// The highest log index this node knows committed. On the leader: the highest index a
/// majority of voters has (learners do not count); elsewhere openraft reports no
/// replication progress, so the applied index, a lower bound, is what the node knows.
pub fn committed_index(metrics: &RaftMetrics<NodeId, BasicNode>) -> u64 {
    let applied = metrics.last_applied.map_or(0, |log_id| log_id.index);
    let Some(replication) = &metrics.replication else {
        return applied;
    };
    let leader_last = metrics.last_log_index.unwrap_or(0);
    let mut matched: Vec<u64> = metrics
        .membership_config
        .membership()
        .voter_ids()
        .map(|id| match id == metrics.id {
            true => leader_last,
            false => replication
                .get(&id)
                .copied()
                .flatten()
                .map_or(0, |log_id| log_id.index),
        })
        .collect();
    matched.sort_unstable_by(|a, b| b.cmp(a));
    matched.get(matched.len() / 2).copied().unwrap_or(applied)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;

    use openraft::{BasicNode, CommittedLeaderId, LogId, Membership, StoredMembership};

    use super::*;

    fn log_id(index: u64) -> LogId<NodeId> {
        LogId::new(CommittedLeaderId::new(1, 1), index)
    }

    #[test]
    fn committed_index_is_the_majority_of_voters_only() {
        let nodes: BTreeMap<NodeId, BasicNode> = (1..=5)
            .map(|id| (id, BasicNode::new(format!("n{id}"))))
            .collect();
        let membership = Membership::new(vec![BTreeSet::from([1, 2, 3])], nodes);
        let mut metrics = RaftMetrics::<NodeId, BasicNode>::new_initial(1);
        metrics.membership_config = Arc::new(StoredMembership::new(Some(log_id(1)), membership));
        metrics.last_log_index = Some(10);
        metrics.last_applied = Some(log_id(1));
        // Voters 2 and 3 lag; learners 4 and 5 are nearly caught up and must not count.
        metrics.replication = Some(BTreeMap::from([
            (2, Some(log_id(2))),
            (3, Some(log_id(1))),
            (4, Some(log_id(9))),
            (5, Some(log_id(9))),
        ]));
        assert_eq!(committed_index(&metrics), 2);

        metrics.replication = None;
        assert_eq!(
            committed_index(&metrics),
            1,
            "a follower knows its applied index"
        );
    }
}
