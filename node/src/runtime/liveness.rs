//! Which nodes are alive, as the leader sees them: the time of each node's last
//! heartbeat and the capacity it reported. In memory only; a new leader starts by
//! giving every member a full lease, so a leader change never reassigns live work.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use warden_core::NodeId;

#[derive(Debug, Default)]
pub struct Liveness {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The Raft term this table belongs to: heard-from times are reset on a new term.
    term: u64,
    leading_since: Option<Instant>,
    heard: HashMap<NodeId, (Instant, u32)>,
}

impl Liveness {
    /// Records a heartbeat from `node` that arrived now.
    pub fn heard(&self, node: NodeId, capacity: u32) {
        let mut inner = self.lock();
        inner.heard.insert(node, (Instant::now(), capacity));
    }

    /// Called on every controller tick while this node leads in `term`.
    pub fn leading(&self, term: u64) {
        let mut inner = self.lock();
        if inner.term != term || inner.leading_since.is_none() {
            inner.term = term;
            inner.leading_since = Some(Instant::now());
            inner.heard.clear();
        }
    }

    pub fn not_leading(&self) {
        self.lock().leading_since = None;
    }

    /// Whether `node` is alive: heard from within `lease`, or not yet due to have been
    /// heard from since this node began to lead.
    pub fn is_alive(&self, node: NodeId, lease: Duration) -> bool {
        let inner = self.lock();
        let now = Instant::now();
        if let Some((at, _)) = inner.heard.get(&node) {
            return now.duration_since(*at) < lease;
        }
        inner
            .leading_since
            .is_some_and(|since| now.duration_since(since) < lease)
    }

    /// The capacity `node` last reported; `None` before its first heartbeat.
    pub fn capacity(&self, node: NodeId) -> Option<u32> {
        self.lock().heard.get(&node).map(|(_, capacity)| *capacity)
    }

    /// How long ago `node`'s last heartbeat arrived and the capacity it reported;
    /// `None` before its first since this node leads.
    pub fn last_heard(&self, node: NodeId) -> Option<(Duration, u32)> {
        self.lock()
            .heard
            .get(&node)
            .map(|(at, capacity)| (at.elapsed(), *capacity))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The table holds no invariant a panicking holder could break halfway.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The leases as the leader holds them: the liveness table and the lease length.
#[derive(Debug, Clone)]
pub struct Leases {
    pub liveness: std::sync::Arc<Liveness>,
    pub lease: Duration,
}

/// One member's lease, as a status shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseView {
    pub heard_ms_ago: Option<u64>,
    pub capacity: Option<u32>,
    pub holds: bool,
}

impl Leases {
    pub fn of(&self, node: NodeId) -> LeaseView {
        let heard = self.liveness.last_heard(node);
        LeaseView {
            heard_ms_ago: heard.map(|(ago, _)| ago.as_millis() as u64),
            capacity: heard.map(|(_, capacity)| capacity),
            holds: self.liveness.is_alive(node, self.lease),
        }
    }
}

/// This node's own view of its lease: the send time of the last heartbeat the leader
/// answered. The leader received it after that, so the leader's lease on this node runs
/// at least until `sent + lease`.
#[derive(Debug, Default)]
pub struct LeaseClock {
    last_acknowledged_send: Mutex<Option<Instant>>,
}

impl LeaseClock {
    pub fn acknowledged(&self, sent: Instant) {
        let mut last = self
            .last_acknowledged_send
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if last.is_none_or(|earlier| earlier < sent) {
            *last = Some(sent);
        }
    }

    /// Whether the lease still holds, keeping a safety margin of a fifth of it.
    pub fn holds(&self, lease: Duration) -> bool {
        let last = *self
            .last_acknowledged_send
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        last.is_some_and(|sent| sent.elapsed() < lease - lease / 5)
    }
}
