//! Grouped entries (protocol 6): the leader carries many concurrent requests in one log
//! entry, so one append, one replication round and one fsync on each member serve them
//! all, as etcd and TiKV batch proposals.
//!
//! Each request of a group is applied as if it had an entry of its own: authorized,
//! decided and audited alone (one audit record each), seeing the writes of the requests
//! before it, with its own outcome returned to its own caller. They share only the log
//! index, so what takes its identity from the index is numbered on across the group:
//! webhook deliveries continue after the ones the requests before made
//! ([`crate::apply::Place`]).
//!
//! Only the data path's commands are grouped ([`Command::groupable`]). Configuration,
//! identity and membership commands keep entries of their own, so a webhook's
//! `created_index` still names one command, a membership authorization still comes right
//! before its change, and a protocol raise is alone in its entry.

use crate::apply::Write;
use crate::command::{Command, Request};
use crate::ids::Principal;

/// The protocol that introduced grouped entries.
pub const GROUP_SINCE: u32 = 6;

impl Command {
    /// Whether the leader may carry this command in a group with others.
    pub fn groupable(&self) -> bool {
        matches!(
            self,
            Command::SubmitTask { .. }
                | Command::AssignTask { .. }
                | Command::AppendJournal { .. }
                | Command::CancelTask { .. }
                | Command::ResolveTask { .. }
                | Command::TimeOutTask { .. }
                | Command::MarkStalled { .. }
                | Command::DecideApproval { .. }
                | Command::ExpireApproval { .. }
                | Command::AnswerQuestion { .. }
                | Command::ExpireQuestion { .. }
                | Command::RecordDeliveryAttempt { .. }
                | Command::FireSchedule { .. }
                | Command::FireTrigger { .. }
        )
    }
}

/// One entry holding `requests`, proposed by `leader` at `time_ms`.
pub fn group(leader: Principal, time_ms: u64, requests: Vec<Request>) -> Request {
    Request {
        time_ms,
        principal: leader,
        token: None,
        command: Command::Group { requests },
    }
}

/// The requests an entry's request stands for: a group's, in order, or itself.
pub fn requests_of(request: &Request) -> &[Request] {
    match &request.command {
        Command::Group { requests } => requests,
        _ => std::slice::from_ref(request),
    }
}

/// How many webhook deliveries `writes` create: the next request of the same entry
/// numbers its own after them.
pub fn deliveries_in(writes: &[Write]) -> u32 {
    let count = writes
        .iter()
        .filter(|write| matches!(write, Write::Delivery(_)))
        .count();
    u32::try_from(count).unwrap_or(u32::MAX)
}
