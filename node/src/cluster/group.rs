//! Group proposals: the leader's writes go through one queue, and whatever waits there
//! when the log can take more is proposed as one entry (`warden_core::group`), so one
//! append, one replication round and one fsync on each member serve many requests. etcd
//! and TiKV batch proposals the same way.
//!
//! openraft's core appends one proposal at a time and waits for its fsync, so a proposal
//! per request capped the node near one fsync per write. Here at most
//! [`MAX_IN_FLIGHT`] proposals are handed to Raft at once; requests that come meanwhile
//! gather and go together in the next. A lone request under no load is proposed at once,
//! as it always was, and so are commands that are not grouped
//! ([`warden_core::Command::groupable`]) and everything while the cluster runs a
//! protocol older than [`GROUP_SINCE`].
//!
//! Durability is unchanged: each caller hears its own request's outcome only once the
//! entry holding it is committed (fsynced on a majority) and applied.

use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use openraft::error::{ClientWriteError, RaftError};
use tokio::sync::{mpsc, oneshot};
use warden_core::group::{GROUP_SINCE, group};
use warden_core::{Outcome, Principal, Request};
use warden_raft::{NodeId, Raft, StateReader, wire};

use super::Attempt;
use crate::error::Error;

/// Proposals handed to Raft and not yet answered. One more than one lets the next group
/// reach the log while the one before replicates; more only makes the groups smaller.
pub const MAX_IN_FLIGHT: usize = 2;
/// The most requests in one entry.
pub const MAX_GROUP: usize = 256;
/// The most encoded request bytes in one entry: a request larger than this goes alone.
/// One AppendEntries carries up to `raft.max_payload_entries` (300) entries and a node
/// takes at most 64 MiB in one message: 300 groups of this size fit.
pub const MAX_GROUP_BYTES: usize = 192 * 1024;
/// Requests waiting for a proposal; a caller beyond this waits to be queued.
const QUEUE: usize = 4096;

/// A stamped request waiting to be proposed, and where its outcome goes.
pub(super) struct Queued {
    pub(super) request: Request,
    pub(super) reply: oneshot::Sender<Result<Outcome, Attempt>>,
}

/// The queue's sending end, held by the cluster handle.
pub(super) type Queue = mpsc::Sender<Queued>;

/// The loop that turns queued requests into proposals. The node runs it for as long as
/// it serves; when it ends, writes on this node fail as stopped.
pub struct Proposer {
    node_id: NodeId,
    raft: Raft,
    /// How long a proposal may hold its place: one that a leader without a quorum never
    /// commits must not keep every later request from Raft once the quorum is back.
    within: Duration,
    reader: StateReader,
    queue: mpsc::Receiver<Queued>,
    /// A request taken from the queue that did not fit the group before: it starts the
    /// next one, so requests are proposed in the order they came.
    held: Option<Queued>,
    /// Set once the cluster runs a protocol that has groups (it is never lowered).
    grouping: bool,
}

impl Proposer {
    pub(super) fn new(
        node_id: NodeId,
        raft: Raft,
        reader: StateReader,
        within: Duration,
    ) -> (Queue, Proposer) {
        let (sender, queue) = mpsc::channel(QUEUE);
        let proposer = Proposer {
            node_id,
            raft,
            within,
            reader,
            queue,
            held: None,
            grouping: false,
        };
        (sender, proposer)
    }

    pub async fn run(mut self) -> anyhow::Result<()> {
        let mut in_flight = FuturesUnordered::new();
        let mut open = true;
        loop {
            while in_flight.len() < MAX_IN_FLIGHT
                && let Some(first) = self.held.take()
            {
                let requests = self.gather(first);
                in_flight.push(propose(
                    self.raft.clone(),
                    self.node_id,
                    self.within,
                    requests,
                ));
            }
            tokio::select! {
                queued = self.queue.recv(), if open && in_flight.len() < MAX_IN_FLIGHT => {
                    match queued {
                        Some(first) if first.reply.is_closed() => {}
                        Some(first) => {
                            let requests = self.gather(first);
                            in_flight.push(propose(self.raft.clone(), self.node_id, self.within, requests));
                        }
                        None => open = false,
                    }
                }
                Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
                else => return Ok(()),
            }
        }
    }

    /// `first` and the queued requests that may go in one entry with it. A request whose
    /// caller stopped waiting (it timed out and was told the outcome is unknown) is
    /// dropped rather than proposed later behind its back.
    fn gather(&mut self, first: Queued) -> Vec<Queued> {
        let mut requests = vec![first];
        if !self.grouping() || !requests[0].request.command.groupable() {
            return requests;
        }
        // Counted only once a second request comes: a lone one is not encoded twice.
        let mut bytes = None;
        while requests.len() < MAX_GROUP {
            let Ok(next) = self.queue.try_recv() else {
                break;
            };
            if next.reply.is_closed() {
                continue;
            }
            let so_far = *bytes.get_or_insert_with(|| size(&requests[0].request));
            let next_bytes = size(&next.request);
            if !next.request.command.groupable() || so_far + next_bytes > MAX_GROUP_BYTES {
                self.held = Some(next);
                break;
            }
            bytes = Some(so_far + next_bytes);
            requests.push(next);
        }
        requests
    }

    /// Whether the cluster runs a protocol that has groups.
    fn grouping(&mut self) -> bool {
        if !self.grouping {
            // A failed read only means no group this time.
            self.grouping = self
                .reader
                .cluster_protocol()
                .is_ok_and(|running| running >= GROUP_SINCE);
        }
        self.grouping
    }
}

/// A request's encoded length; one that cannot be encoded counts as too large to group
/// (and fails on its own when proposed). A request larger than a group goes alone.
fn size(request: &Request) -> usize {
    wire::encoded_len(request).unwrap_or(usize::MAX)
}

/// Proposes `requests` as one entry (a group when there are several) and answers each.
async fn propose(raft: Raft, node_id: NodeId, within: Duration, queued: Vec<Queued>) {
    let count = queued.len();
    let (mut requests, replies): (Vec<Request>, Vec<_>) = queued
        .into_iter()
        .map(|queued| (queued.request, queued.reply))
        .unzip();
    let entry = match requests.pop() {
        Some(only) if requests.is_empty() => only,
        last => {
            requests.extend(last);
            group(
                Principal::node(warden_core::NodeId(node_id)),
                crate::api::now_ms(),
                requests,
            )
        }
    };
    let written = tokio::time::timeout(within, raft.client_write(entry)).await;
    let answers: Vec<Result<Outcome, Attempt>> = match written {
        // Its outcome is unknown: the entry may still commit, as an unanswered write may.
        Err(_elapsed) => (0..count).map(|_| Err(Attempt::TimedOut)).collect(),
        Ok(Ok(response)) => match (response.data, count) {
            (Outcome::Group(outcomes), _) if count > 1 && outcomes.len() == count => {
                outcomes.into_iter().map(Ok).collect()
            }
            (outcome, 1) => vec![Ok(outcome)],
            (other, _) => {
                let reason = format!("a group of {count} requests was answered with {other:?}");
                (0..count)
                    .map(|_| Err(Attempt::Fail(Error::Internal(reason.clone()))))
                    .collect()
            }
        },
        Ok(Err(error)) => (0..count).map(|_| Err(failed(&error))).collect(),
    };
    // A caller that gave up no longer listens; its request was proposed all the same.
    for (reply, answer) in replies.into_iter().zip(answers) {
        let _ = reply.send(answer);
    }
}

/// What a failed proposal means for each request it carried.
fn failed(error: &RaftError<NodeId, ClientWriteError<NodeId, openraft::BasicNode>>) -> Attempt {
    match error {
        RaftError::APIError(ClientWriteError::ForwardToLeader(_)) => Attempt::Retry,
        RaftError::APIError(ClientWriteError::ChangeMembershipError(error)) => {
            Attempt::Fail(Error::Internal(error.to_string()))
        }
        RaftError::Fatal(_) => Attempt::Fail(Error::Stopped),
    }
}
