//! A reader's standing to go on reading. A read or stream is authorized after its read
//! barrier, so a lagging node never decides on roles older than the read; a stream then
//! checks again each time this node applies an entry (tokens, roles and workspaces change
//! only through the log) and when the caller's token expires, and ends at the first
//! check that fails, before sending anything read after it.

use std::time::Duration;

use openraft::{BasicNode, RaftMetrics};
use tokio::sync::watch;
use warden_core::{Code, Permission, Rejection, WorkspaceId};

use super::Caller;
use crate::cluster::{Cluster, Consistency};
use crate::error::Error;

pub type Applied = watch::Receiver<RaftMetrics<u64, BasicNode>>;

/// What a caller reads: a permission in a workspace, or cluster-wide.
#[derive(Debug, Clone)]
pub struct Access {
    caller: Caller,
    workspace: Option<WorkspaceId>,
    permission: Permission,
}

impl Access {
    /// Waits for the read barrier of `consistency`, then checks the caller.
    pub async fn open(
        cluster: &Cluster,
        caller: Caller,
        workspace: Option<WorkspaceId>,
        permission: Permission,
        consistency: Consistency,
    ) -> Result<Access, Error> {
        cluster.read_barrier(consistency).await?;
        let access = Access {
            caller,
            workspace,
            permission,
        };
        access
            .caller
            .require(cluster, access.workspace.as_ref(), permission)?;
        Ok(access)
    }

    /// Checks again, against what this node has applied, that the caller still may read.
    /// A caller whose role was taken away is told PERMISSION_DENIED (not the NOT_FOUND a
    /// stranger gets: it has seen the workspace already).
    pub fn recheck(&self, cluster: &Cluster) -> Result<(), Error> {
        match self
            .caller
            .require(cluster, self.workspace.as_ref(), self.permission)
        {
            Err(Error::Rejected(rejection)) if rejection.code == Code::NotFound => {
                let workspace = self
                    .workspace
                    .as_ref()
                    .map_or_else(|| "the cluster".to_owned(), |w| format!("workspace {w}"));
                Err(Error::Rejected(Rejection::new(
                    Code::PermissionDenied,
                    format!(
                        "{} no longer holds the {} permission in {workspace}",
                        self.caller.principal,
                        self.permission.as_str()
                    ),
                )))
            }
            checked => checked,
        }
    }

    /// Returns once this node has applied another entry or the caller's token has
    /// expired, whichever comes first; the caller then reads and calls [`Access::recheck`].
    pub async fn changed(&self, cluster: &Cluster, applied: &mut Applied) -> Result<(), Error> {
        let expires_at_ms = cluster
            .reader()
            .token(&self.caller.token)?
            .and_then(|token| token.expires_at_ms);
        let expiry = async {
            match expires_at_ms {
                Some(at_ms) => {
                    let left = at_ms.saturating_sub(warden_actors::clock::now_ms());
                    tokio::time::sleep(Duration::from_millis(left)).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = applied.changed() => changed.map_err(|_| Error::Stopped),
            () = expiry => Ok(()),
        }
    }
}
