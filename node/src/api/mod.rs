//! The public gRPC services (`warden.v1`) and the node-to-node forward service.

pub mod agent;
pub mod audit;
pub mod boundary;
pub mod catalog;
pub mod cluster;
pub mod forward;
pub mod governance;
pub mod identity;
pub mod mcp_register;
pub mod membership;
pub mod node;
pub mod task;
pub mod watch;
pub mod workspace;

use std::time::{SystemTime, UNIX_EPOCH};

use warden_core::{Action, Command, Hash, Outcome, Rejection, Request};

use crate::auth::Caller;

use crate::cluster::Cluster;
use crate::error::Error;

/// The proposer's wall clock, stamped into commands so `apply()` never reads one.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Proposes `command`, or, when the request was refused before it could become one,
/// a record of the refusal, so the audit chain holds every attempted change. A refusal
/// comes back as `Error::Rejected`.
pub async fn propose(
    cluster: &Cluster,
    caller: &Caller,
    parsed: Result<Command, Refused>,
) -> Result<Outcome, Error> {
    let command = match parsed {
        Ok(command) => command,
        Err(refused) => Command::RecordRejection {
            action: refused.action,
            resource: refused.resource,
            payload_hash: refused.payload_hash,
            rejection: refused.rejection,
        },
    };
    let outcome = cluster
        .propose(Request {
            time_ms: now_ms(),
            principal: caller.principal.clone(),
            token: Some(caller.token),
            command,
        })
        .await?;
    match outcome {
        Outcome::Rejected(rejection) => Err(Error::Rejected(rejection)),
        accepted => Ok(accepted),
    }
}

/// A write refused at the API edge.
pub struct Refused {
    pub action: Action,
    pub resource: String,
    /// Hash of the request as received.
    pub payload_hash: Hash,
    pub rejection: Rejection,
}

/// The outcome did not match the command: a bug, reported rather than hidden.
pub fn unexpected(outcome: &Outcome) -> Error {
    Error::Internal(format!("unexpected outcome {outcome:?}"))
}
