//! Versions across the cluster (see `warden_core::version`): the protocol this node
//! speaks, what each member reported in its heartbeats to this node while it leads, and
//! the raise of the cluster's protocol those reports allow.
//!
//! Members report in every heartbeat, so the leader knows each member's build within
//! one heartbeat interval of its start. Only recent reports count: a member that went
//! down (to come back, maybe, as an older build) holds the raise back until it reports
//! again. A new term starts empty: a new leader raises nothing until it has heard every
//! member again.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use warden_core::NodeId;

/// What a node says about its build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    /// The protocol it speaks.
    pub protocol: u32,
    /// Its version, e.g. "0.1.0".
    pub version: String,
}

impl Build {
    /// This binary's build, speaking `protocol` (`warden_core::PROTOCOL` but where a
    /// failpoint build was told otherwise).
    pub fn this(protocol: u32) -> Build {
        Build {
            protocol,
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }

    /// What a peer reported; protocol 0 (a build older than protocols) is the oldest.
    pub fn reported(protocol: u32, version: String) -> Build {
        Build {
            protocol: protocol.max(warden_core::OLDEST_PROTOCOL),
            version,
        }
    }
}

/// The term reports belong to, and each member's latest report with its arrival time.
type Reports = (u64, BTreeMap<NodeId, (Instant, Build)>);

/// The builds members reported to this node in one term.
#[derive(Debug, Default)]
pub struct MemberBuilds {
    inner: Mutex<Reports>,
}

impl MemberBuilds {
    /// Records what `node` reported in term `term`; a newer term forgets the older one.
    pub fn heard(&self, term: u64, node: NodeId, build: Build) {
        let mut inner = self.lock();
        if inner.0 != term {
            *inner = (term, BTreeMap::new());
        }
        inner.1.insert(node, (Instant::now(), build));
    }

    /// What `node` reported in term `term`.
    pub fn get(&self, term: u64, node: NodeId) -> Option<Build> {
        let inner = self.lock();
        (inner.0 == term)
            .then(|| inner.1.get(&node).map(|(_, build)| build.clone()))
            .flatten()
    }

    /// The newest protocol every one of `members` speaks, once each reported in `term`
    /// within the last `within`.
    pub fn common(&self, term: u64, members: &[NodeId], within: Duration) -> Result<u32, Unheard> {
        let inner = self.lock();
        let mut common = u32::MAX;
        for member in members {
            let recent = inner
                .1
                .get(member)
                .filter(|(at, _)| inner.0 == term && at.elapsed() < within);
            match recent {
                Some((_, build)) => common = common.min(build.protocol),
                None => return Err(Unheard(*member)),
            }
        }
        Ok(common)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Reports> {
        // A map of reports holds no invariant a panicking holder could break halfway.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A member not heard from in the term yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unheard(pub NodeId);

#[cfg(test)]
mod tests {
    use super::*;

    fn build(protocol: u32) -> Build {
        Build::reported(protocol, "0.1.0".to_owned())
    }

    #[test]
    fn the_common_protocol_needs_every_member_heard_in_the_term() {
        let builds = MemberBuilds::default();
        let members = [NodeId(1), NodeId(2), NodeId(3)];
        let recent = Duration::from_secs(60);
        builds.heard(5, NodeId(1), build(2));
        builds.heard(5, NodeId(2), build(1));
        assert_eq!(builds.common(5, &members, recent), Err(Unheard(NodeId(3))));
        builds.heard(5, NodeId(3), build(2));
        assert_eq!(builds.common(5, &members, recent), Ok(1));
        builds.heard(5, NodeId(2), build(2));
        assert_eq!(builds.common(5, &members, recent), Ok(2));
        assert_eq!(builds.common(6, &members, recent), Err(Unheard(NodeId(1))));
        // A report older than `within` does not count: that member may be down.
        assert_eq!(
            builds.common(5, &members, Duration::ZERO),
            Err(Unheard(NodeId(1)))
        );
        // A new term starts over.
        builds.heard(6, NodeId(1), build(2));
        assert_eq!(builds.get(6, NodeId(2)), None);
        assert_eq!(builds.get(5, NodeId(1)), None);
        assert_eq!(build(0).protocol, 1, "a build older than protocols");
    }
}
