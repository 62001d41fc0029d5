//! Authentication of every gRPC call and the caller identity handlers act as.
//!
//! `AuthLayer` sits in front of all services: a public call needs a bearer token
//! (`authorization: Bearer wdn_...`) that this node knows, whose secret matches in
//! constant time and which is neither expired nor revoked; the handler then finds the
//! [`Caller`] in the request's extensions. What the caller may do is decided by
//! `warden_core::require` (reads, here) and again in `apply()` (writes), where the
//! token is checked once more at the request's time.

mod access;
mod layer;
mod peer;

pub use access::{Access, Applied};
pub use layer::AuthLayer;
pub use peer::Peer;

use tonic::Status;
use warden_core::{Permission, Principal, TokenId, WorkspaceId};

use warden_raft::StateReader;

use crate::cluster::{Cluster, Consistency};
use crate::error::Error;

/// Who is calling: the principal a valid token named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub principal: Principal,
    pub token: TokenId,
}

impl Caller {
    /// The caller `AuthLayer` attached to `request`.
    pub fn of<T>(request: &tonic::Request<T>) -> Result<Caller, Status> {
        request
            .extensions()
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| {
                Status::internal("the request reached a handler without an authenticated caller")
            })
    }

    /// Waits for the read barrier of `consistency`, then checks that the caller may read
    /// `workspace` and that it exists; returns the state to read it from.
    pub async fn read_workspace<'a>(
        &self,
        cluster: &'a Cluster,
        workspace: &WorkspaceId,
        consistency: Consistency,
    ) -> Result<&'a StateReader, Error> {
        cluster.read_barrier(consistency).await?;
        self.require(cluster, Some(workspace), Permission::Read)?;
        let reader = cluster.reader();
        require_workspace(reader, workspace)?;
        Ok(reader)
    }

    /// Checks, against this node's applied state, that the caller holds `permission`
    /// in `workspace` (or cluster-wide when `None`). Call it after the read barrier so
    /// it sees every binding change acknowledged before the read.
    pub fn require(
        &self,
        cluster: &Cluster,
        workspace: Option<&WorkspaceId>,
        permission: Permission,
    ) -> Result<(), Error> {
        let reader = cluster.reader();
        let Some(token) = reader.token(&self.token)? else {
            return Err(Error::Unauthenticated(format!(
                "token {} does not exist",
                self.token
            )));
        };
        if let Some(why) = token.unusable_at(warden_actors::clock::now_ms()) {
            return Err(Error::Unauthenticated(why));
        }
        warden_core::require(reader, &self.principal, workspace, permission)?
            .map_err(Error::Rejected)
    }
}

/// A new token: a random public id and a 256-bit secret from the thread's CSPRNG
/// (ChaCha, seeded from the operating system).
pub fn generate_token() -> warden_core::PresentedToken {
    warden_core::PresentedToken::new(TokenId(rand::random()), rand::random())
}

/// NOT_FOUND unless `workspace` exists (as this node has applied it).
fn require_workspace(reader: &StateReader, workspace: &WorkspaceId) -> Result<(), Error> {
    match reader.workspace(workspace)? {
        Some(_) => Ok(()),
        None => Err(Error::NotFound {
            what: format!("workspace {workspace}"),
        }),
    }
}
