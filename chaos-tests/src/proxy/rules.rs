//! The faults a proxy can put on a link, the table that says which source gets which, and a
//! connection's live view of that table.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use rand::Rng;
use tokio::sync::watch;

/// What the proxy does to the bytes of connections from one source.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum LinkRule {
    /// Bytes flow untouched.
    #[default]
    Pass,
    /// Each chunk in either direction is held `base` plus a uniformly random 0..=jitter (seeded
    /// RNG) before it is written; order is preserved.
    Delay { base: Duration, jitter: Duration },
    /// Nothing flows in either direction, but sockets stay open: the proxy stops reading (so
    /// bytes wait in kernel buffers, like packets being retransmitted) until the rule changes;
    /// then traffic resumes intact. New connections are accepted and also stalled.
    Blackhole,
    /// One-way: bytes from the source to the node stall; node -> source still flows.
    CutToNode,
    /// One-way: bytes from the node to the source stall; source -> node still flows.
    CutFromNode,
    /// Existing connections from the source are closed with a TCP RST (SO_LINGER 0), and new
    /// ones are reset at once, while the rule holds.
    Reset,
}

/// Which way bytes travel through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// From the connecting source to the node behind the proxy.
    ToNode,
    /// From the node back to the source.
    FromNode,
}

impl LinkRule {
    /// Whether bytes travelling `direction` must wait while this rule holds.
    pub(crate) fn stalls(&self, direction: Direction) -> bool {
        match self {
            LinkRule::Pass | LinkRule::Delay { .. } => false,
            // Reset stalls as well: the connection's reset watcher closes both sockets, and no
            // byte may slip through in the moment before it does.
            LinkRule::Blackhole | LinkRule::Reset => true,
            LinkRule::CutToNode => direction == Direction::ToNode,
            LinkRule::CutFromNode => direction == Direction::FromNode,
        }
    }

    /// How long a chunk read under this rule is held before it is written.
    pub(crate) fn hold_time(&self, rng: &mut impl Rng) -> Duration {
        match self {
            LinkRule::Delay { base, jitter } => *base + rng.random_range(Duration::ZERO..=*jitter),
            LinkRule::Pass
            | LinkRule::Blackhole
            | LinkRule::CutToNode
            | LinkRule::CutFromNode
            | LinkRule::Reset => Duration::ZERO,
        }
    }
}

/// The rule for every source: its own if it has one, the default otherwise.
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleTable {
    default: LinkRule,
    by_source: HashMap<IpAddr, LinkRule>,
}

impl RuleTable {
    pub(crate) fn rule_for(&self, source: IpAddr) -> &LinkRule {
        self.by_source.get(&source).unwrap_or(&self.default)
    }

    pub(crate) fn set(&mut self, source: Option<IpAddr>, rule: LinkRule) {
        match source {
            None => self.default = rule,
            Some(source) => {
                self.by_source.insert(source, rule);
            }
        }
    }
}

/// One connection's view of the rule table. Waiting on it parks the caller until the table
/// changes, so a stalled connection costs nothing until the harness changes a rule.
#[derive(Debug, Clone)]
pub(crate) struct RuleWatch {
    table: watch::Receiver<RuleTable>,
    source: IpAddr,
}

impl RuleWatch {
    pub(crate) fn new(table: watch::Receiver<RuleTable>, source: IpAddr) -> RuleWatch {
        RuleWatch { table, source }
    }

    pub(crate) fn current(&self) -> LinkRule {
        self.table.borrow().rule_for(self.source).clone()
    }

    /// Returns once the rule lets bytes travel `direction`.
    pub(crate) async fn until_flowing(&mut self, direction: Direction) {
        self.until(|rule| !rule.stalls(direction)).await;
    }

    /// Returns once the rule for this source is `Reset`.
    pub(crate) async fn until_reset(&mut self) {
        self.until(|rule| *rule == LinkRule::Reset).await;
    }

    async fn until(&mut self, mut wanted: impl FnMut(&LinkRule) -> bool) {
        loop {
            // Marking the value seen before testing it means `changed()` below wakes for any
            // later change, so no update can slip between the test and the wait.
            if wanted(self.table.borrow_and_update().rule_for(self.source)) {
                return;
            }
            if self.table.changed().await.is_err() {
                // The proxy is gone and is aborting its connection tasks; the rule can never
                // change again, and returning would let bytes through.
                std::future::pending::<()>().await;
            }
        }
    }
}
