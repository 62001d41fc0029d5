//! `Client`: one method per RPC of the public API, each retried across the nodes.

use std::future::Future;
use std::sync::Arc;

use futures::Stream;
use tonic::transport::Channel;
use tonic::{Response, Status};
use warden_proto::v1::audit_service_client::AuditServiceClient;
use warden_proto::v1::cluster_service_client::ClusterServiceClient;
use warden_proto::v1::task_service_client::TaskServiceClient;
use warden_proto::v1::workspace_service_client::WorkspaceServiceClient;
use warden_proto::v1::{
    AddNodeRequest, AddNodeResponse, AuditRecord, ClusterStatusRequest, ClusterStatusResponse,
    CreateWorkspaceRequest, CreateWorkspaceResponse, GetTaskRequest, GetTaskResponse,
    InitClusterRequest, InitClusterResponse, ListTasksRequest, ListTasksResponse,
    ListWorkspacesRequest, ListWorkspacesResponse, PromoteNodeRequest, PromoteNodeResponse,
    RemoveNodeRequest, RemoveNodeResponse, SubmitTaskRequest, SubmitTaskResponse, TailAuditRequest,
    TailAuditResponse, VerifyAuditRequest, VerifyAuditResponse,
};

use crate::endpoint::EndpointSet;
use crate::retry::{self, RetryPolicy};
use crate::{ClientOptions, Consistency, Error};

/// A connection to a Warden cluster through any of its nodes. Cheap to clone; clones
/// share the channels and the choice of node.
///
/// Every node serves the whole API (writes are forwarded to the leader), so a call may
/// go to any node. A call that fails with UNAVAILABLE, or cannot connect, is retried on
/// the next node with exponential backoff, up to `ClientOptions::max_attempts`; any
/// other error is returned at once. Retrying a write whose answer was lost can execute
/// it twice; `submit_task` is safe because it sends the same idempotency key on every
/// attempt, while a repeated `create_workspace` or `add_node` answers ALREADY_EXISTS.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    endpoints: EndpointSet,
    policy: RetryPolicy,
}

/// The answer to `Client::submit_task`, with the idempotency key that was sent.
#[derive(Debug, Clone, PartialEq)]
pub struct SubmittedTask {
    /// The task, and whether the key matched a task submitted earlier.
    pub response: SubmitTaskResponse,
    /// The key sent with every attempt: the caller's, or the one generated for the call.
    /// Submitting again with it returns the same task instead of creating another.
    pub idempotency_key: String,
}

impl Client {
    /// Creates a client for the nodes at `endpoints` (`host:port` or `http://host:port`).
    /// Nothing connects until the first call, so this fails only on invalid endpoints.
    ///
    /// # Panics
    /// When called outside a Tokio runtime: each channel spawns a background task.
    pub fn connect<I, S>(endpoints: I, options: ClientOptions) -> Result<Client, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let endpoints = EndpointSet::new(endpoints, &options)?;
        let policy = RetryPolicy::new(&options);
        Ok(Client {
            inner: Arc::new(Inner { endpoints, policy }),
        })
    }

    /// Initializes a fresh cluster with the serving node as its only voter.
    pub async fn init_cluster(&self) -> Result<InitClusterResponse, Error> {
        self.unary(InitClusterRequest {}, |channel, request| async move {
            ClusterServiceClient::new(channel)
                .init_cluster(request)
                .await
        })
        .await
    }

    /// Adds node `id`, listening at `address` (`host:port`), as a learner; the answer
    /// comes once it has caught up with the log.
    pub async fn add_node(
        &self,
        id: u64,
        address: impl Into<String>,
    ) -> Result<AddNodeResponse, Error> {
        let request = AddNodeRequest {
            node_id: id,
            address: address.into(),
        };
        self.unary(request, |channel, request| async move {
            ClusterServiceClient::new(channel).add_node(request).await
        })
        .await
    }

    /// Turns learner `id` into a voter.
    pub async fn promote_node(&self, id: u64) -> Result<PromoteNodeResponse, Error> {
        let request = PromoteNodeRequest { node_id: id };
        self.unary(request, |channel, request| async move {
            ClusterServiceClient::new(channel)
                .promote_node(request)
                .await
        })
        .await
    }

    /// Removes node `id`, voter or learner, from the cluster.
    pub async fn remove_node(&self, id: u64) -> Result<RemoveNodeResponse, Error> {
        let request = RemoveNodeRequest { node_id: id };
        self.unary(request, |channel, request| async move {
            ClusterServiceClient::new(channel)
                .remove_node(request)
                .await
        })
        .await
    }

    /// The serving node's view of the cluster: leader, term, log indexes and members.
    pub async fn cluster_status(&self) -> Result<ClusterStatusResponse, Error> {
        self.unary(ClusterStatusRequest {}, |channel, request| async move {
            ClusterServiceClient::new(channel)
                .cluster_status(request)
                .await
        })
        .await
    }

    /// Creates workspace `name` (1-63 characters of `[a-z0-9-]`, starting with a letter).
    pub async fn create_workspace(
        &self,
        name: impl Into<String>,
    ) -> Result<CreateWorkspaceResponse, Error> {
        let request = CreateWorkspaceRequest { name: name.into() };
        self.unary(request, |channel, request| async move {
            WorkspaceServiceClient::new(channel)
                .create_workspace(request)
                .await
        })
        .await
    }

    /// All workspaces.
    pub async fn list_workspaces(
        &self,
        consistency: Consistency,
    ) -> Result<ListWorkspacesResponse, Error> {
        let request = ListWorkspacesRequest {
            consistency: consistency.to_proto(),
        };
        self.unary(request, |channel, request| async move {
            WorkspaceServiceClient::new(channel)
                .list_workspaces(request)
                .await
        })
        .await
    }

    /// Submits a task to `workspace`. Without an `idempotency_key` a random 128-bit hex
    /// key is generated; either way the same key goes with every retry, so a retried
    /// submission never creates a second task.
    pub async fn submit_task(
        &self,
        workspace: impl Into<String>,
        input: impl Into<String>,
        idempotency_key: Option<String>,
    ) -> Result<SubmittedTask, Error> {
        let idempotency_key = idempotency_key.unwrap_or_else(random_idempotency_key);
        let request = SubmitTaskRequest {
            workspace: workspace.into(),
            idempotency_key: idempotency_key.clone(),
            input: input.into(),
        };
        let response = self
            .unary(request, |channel, request| async move {
                TaskServiceClient::new(channel).submit_task(request).await
            })
            .await?;
        Ok(SubmittedTask {
            response,
            idempotency_key,
        })
    }

    /// Task `id` of `workspace`.
    pub async fn get_task(
        &self,
        workspace: impl Into<String>,
        id: impl Into<String>,
        consistency: Consistency,
    ) -> Result<GetTaskResponse, Error> {
        let request = GetTaskRequest {
            workspace: workspace.into(),
            task_id: id.into(),
            consistency: consistency.to_proto(),
        };
        self.unary(request, |channel, request| async move {
            TaskServiceClient::new(channel).get_task(request).await
        })
        .await
    }

    /// One page of the tasks of `workspace`: at most `page_size` (0 means 100, at most
    /// 1000), starting after `page_token` (empty for the first page). The response's
    /// `next_page_token` is empty on the last page.
    pub async fn list_tasks(
        &self,
        workspace: impl Into<String>,
        page_size: u32,
        page_token: impl Into<String>,
        consistency: Consistency,
    ) -> Result<ListTasksResponse, Error> {
        let request = ListTasksRequest {
            workspace: workspace.into(),
            page_size,
            page_token: page_token.into(),
            consistency: consistency.to_proto(),
        };
        self.unary(request, |channel, request| async move {
            TaskServiceClient::new(channel).list_tasks(request).await
        })
        .await
    }

    /// The last `limit` audit records (0 means 20), oldest first.
    pub async fn tail_audit(
        &self,
        limit: u32,
        consistency: Consistency,
    ) -> Result<TailAuditResponse, Error> {
        let request = TailAuditRequest {
            limit,
            consistency: consistency.to_proto(),
        };
        self.unary(request, |channel, request| async move {
            AuditServiceClient::new(channel).tail_audit(request).await
        })
        .await
    }

    /// Has the serving node recompute the whole audit hash chain.
    pub async fn verify_audit(
        &self,
        consistency: Consistency,
    ) -> Result<VerifyAuditResponse, Error> {
        let request = VerifyAuditRequest {
            consistency: consistency.to_proto(),
        };
        self.unary(request, |channel, request| async move {
            AuditServiceClient::new(channel).verify_audit(request).await
        })
        .await
    }

    /// Streams the audit records from `from_index` on (0 or 1: from the first), oldest
    /// first. When the stream breaks with UNAVAILABLE it is reopened on another node
    /// from the record after the last one received, so each record arrives exactly once
    /// and in order. The stream ends after the last record or after the first error.
    pub fn export_audit(
        &self,
        from_index: u64,
        consistency: Consistency,
    ) -> impl Stream<Item = Result<AuditRecord, Error>> + Send + 'static {
        crate::export::resumable(self.clone(), from_index, consistency)
    }

    /// Runs one attempt per node visited until one succeeds; see `retry::call`. Also
    /// returns the index of the node that answered.
    pub(crate) async fn call<T, F, Fut>(&self, attempt: F) -> Result<(T, usize), Error>
    where
        F: FnMut(Channel) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        retry::call(&self.inner.endpoints, &self.inner.policy, attempt).await
    }

    /// A unary call: the request is cloned for each attempt.
    async fn unary<Req, Resp, F, Fut>(&self, request: Req, rpc: F) -> Result<Resp, Error>
    where
        Req: Clone,
        F: Fn(Channel, Req) -> Fut,
        Fut: Future<Output = Result<Response<Resp>, Status>>,
    {
        let (response, _node) = self.call(|channel| rpc(channel, request.clone())).await?;
        Ok(response.into_inner())
    }

    pub(crate) fn endpoints(&self) -> &EndpointSet {
        &self.inner.endpoints
    }

    pub(crate) fn policy(&self) -> &RetryPolicy {
        &self.inner.policy
    }
}

/// A random 128-bit key in lowercase hex: unique enough that two submissions never
/// share one by accident.
fn random_idempotency_key() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_32_hex_digits_and_differ() {
        let first = random_idempotency_key();
        let second = random_idempotency_key();
        assert_eq!(first.len(), 32);
        assert!(
            first
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(first, second);
    }
}
