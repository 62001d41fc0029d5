//! The consistency a read asks for, mapped to the proto's `ReadConsistency`.

use warden_proto::v1::ReadConsistency;

/// How a read is served by the node that receives it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Consistency {
    /// The node confirms the leader's commit index with a quorum and waits until it has
    /// applied up to it: the read sees every write acknowledged before it started.
    #[default]
    Linearizable,
    /// Whatever the node has applied: fast, but may be stale on a lagging follower.
    Local,
}

impl From<Consistency> for ReadConsistency {
    fn from(consistency: Consistency) -> Self {
        match consistency {
            Consistency::Linearizable => ReadConsistency::Linearizable,
            Consistency::Local => ReadConsistency::Local,
        }
    }
}

impl Consistency {
    /// The value of the `consistency` field of a read request.
    pub(crate) fn to_proto(self) -> i32 {
        ReadConsistency::from(self) as i32
    }
}
