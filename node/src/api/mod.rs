//! The public gRPC services (`warden.v1`) and the node-to-node forward service.

pub mod agent;
pub mod audit;
pub mod backup;
pub mod boundary;
pub mod catalog;
pub mod cluster;
pub mod config_file;
pub mod forward;
pub mod governance;
pub mod identity;
pub mod mcp_register;
pub mod membership;
pub mod node;
pub mod schedule;
pub mod task;
pub mod trigger;
pub mod watch;
pub mod webhook;
pub mod workspace;

use tonic::Status;
use warden_core::{
    Action, Code, Command, Hash, Outcome, Rejection, Request, WorkspaceId, cut_text,
};
use warden_proto::v1;
use warden_raft::StateReader;

use crate::auth::Caller;
use crate::cluster::Cluster;
use crate::error::Error;

/// This node's wall clock: ids and the time a write is proposed at (the leader stamps
/// its own when it appends the entry), so `apply()` never reads one.
pub use warden_actors::clock::now_ms;

/// A request that reads one workspace, named by its `workspace` field, at the
/// consistency its `consistency` field asks for.
pub trait WorkspaceRead {
    fn workspace(&self) -> &str;
    fn consistency(&self) -> i32;
}

macro_rules! workspace_reads {
    ($($request:ty),* $(,)?) => {
        $(impl WorkspaceRead for $request {
            fn workspace(&self) -> &str {
                &self.workspace
            }

            fn consistency(&self) -> i32 {
                self.consistency
            }
        })*
    };
}

workspace_reads!(
    v1::ListProvidersRequest,
    v1::ListMcpServersRequest,
    v1::ListAgentsRequest,
    v1::GetPolicyRequest,
    v1::ListApprovalsRequest,
    v1::GetBudgetsRequest,
    v1::ListPausesRequest,
    v1::ListWebhooksRequest,
    v1::ListDeliveriesRequest,
    v1::ListSchedulesRequest,
    v1::ListTriggersRequest,
    v1::ExportWorkspaceRequest,
);

/// The skeleton of a workspace read: the caller of `request`, the workspace it names, and
/// the state to read it from, after the read barrier it asks for (linearizable unless it
/// asks for local) and the caller's read permission there (NOT_FOUND for a workspace that
/// does not exist).
pub async fn read_workspace<'a, R: WorkspaceRead>(
    cluster: &'a Cluster,
    request: &tonic::Request<R>,
) -> Result<(&'a StateReader, WorkspaceId), Status> {
    let caller = Caller::of(request)?;
    let workspace = task::parse_workspace(request.get_ref().workspace())?;
    let consistency = crate::convert::consistency(request.get_ref().consistency())?;
    let reader = caller
        .read_workspace(cluster, &workspace, consistency)
        .await?;
    Ok((reader, workspace))
}

/// Proposes `command`, or, when the request was refused before it could become one,
/// a record of the refusal, so the audit chain holds every attempted change. A refusal
/// comes back as `Error::Rejected`.
pub async fn propose(
    cluster: &Cluster,
    caller: &Caller,
    parsed: Result<Command, Refused>,
) -> Result<Outcome, Error> {
    // The caller is told the whole refusal; the record keeps its bounded summary.
    let (command, told) = match parsed {
        Ok(command) => (command, None),
        Err(refused) => {
            let whole = refused.rejection.clone();
            let record = refused.into_record();
            (record.0, Some((record.1, whole)))
        }
    };
    let outcome = cluster
        .propose(Request {
            time_ms: now_ms(),
            principal: caller.principal.clone(),
            token: Some(caller.token),
            command,
        })
        .await?;
    match (outcome, told) {
        (Outcome::Rejected(rejection), Some((recorded, whole))) if rejection == recorded => {
            Err(Error::Rejected(whole))
        }
        (Outcome::Rejected(rejection), _) => Err(Error::Rejected(rejection)),
        (accepted, _) => Ok(accepted),
    }
}

/// A write refused at the API edge.
pub struct Refused {
    pub action: Action,
    pub resource: String,
    pub payload: Payload,
    pub rejection: Rejection,
}

/// The most of a refusal's message and resource its audit record keeps: a record says
/// why and what in a few hundred bytes, and names the input by its hash and size, so no
/// caller can grow the permanent, cluster-wide chain by sending a large invalid request.
const MAX_REFUSAL_TEXT: usize = 256;

impl Refused {
    /// The `RecordRejection` that puts this refusal in the log, its texts cut to
    /// `MAX_REFUSAL_TEXT` bytes and the input named by size (its hash is the record's
    /// payload hash), and the rejection it records.
    fn into_record(self) -> (Command, Rejection) {
        let Rejection { code, message } = self.rejection;
        let recorded = Rejection::new(
            code,
            format!(
                "{} (request of {} bytes)",
                cut_text(&message, MAX_REFUSAL_TEXT),
                self.payload.bytes
            ),
        );
        let command = Command::RecordRejection {
            action: self.action,
            resource: cut_text(&self.resource, MAX_REFUSAL_TEXT),
            payload_hash: self.payload.hash,
            rejection: recorded.clone(),
        };
        (command, recorded)
    }
}

/// A request as the audit chain knows it: its SHA-256 and its size.
#[derive(Debug, Clone, Copy)]
pub struct Payload {
    pub hash: Hash,
    pub bytes: usize,
}

impl Payload {
    pub fn of(request: &impl prost::Message) -> Payload {
        Payload::of_bytes(&request.encode_to_vec())
    }

    pub fn of_bytes(bytes: &[u8]) -> Payload {
        Payload {
            hash: Hash::of(bytes),
            bytes: bytes.len(),
        }
    }
}

/// Records an error a write's own checks returned before reaching the log (bad input, a
/// node that is not a member...) as a refusal, so every refused write leaves one audit
/// record, and returns it. Refusals `apply()` made are in the log already, and errors that
/// are not the caller's doing (no quorum, shutting down) are not refusals.
pub async fn recorded<T>(
    cluster: &Cluster,
    caller: &Caller,
    what: (Action, String, Payload),
    result: Result<T, Error>,
) -> Result<T, Error> {
    let error = match result {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    let code = match &error {
        Error::InvalidArgument { .. } => Code::InvalidArgument,
        Error::NotFound { .. } => Code::NotFound,
        Error::Membership(_) => Code::FailedPrecondition,
        _ => return Err(error),
    };
    let (action, resource, payload) = what;
    let refused = Refused {
        action,
        resource,
        payload,
        rejection: Rejection::new(code, error.to_string()),
    };
    match propose(cluster, caller, Err(refused)).await {
        Err(Error::Rejected(_)) => Err(error),
        Err(other) => Err(other),
        Ok(outcome) => Err(unexpected(&outcome)),
    }
}

/// The outcome did not match the command: a bug, reported rather than hidden.
pub fn unexpected(outcome: &Outcome) -> Error {
    Error::Internal(format!("unexpected outcome {outcome:?}"))
}
