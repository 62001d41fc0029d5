//! `Client`: the connection to a cluster, the retry plumbing every method shares, and the
//! cluster, workspace and audit RPCs. Task RPCs are in `tasks.rs`, agent configuration
//! in `agents.rs`.

use std::future::Future;
use std::sync::Arc;

use futures::Stream;
use tonic::transport::Channel;
use tonic::{Response, Status};
use warden_proto::v1::audit_service_client::AuditServiceClient;
use warden_proto::v1::cluster_service_client::ClusterServiceClient;
use warden_proto::v1::workspace_service_client::WorkspaceServiceClient;
use warden_proto::v1::{
    AddNodeRequest, AddNodeResponse, AuditRecord, CheckpointAuditRequest, CheckpointAuditResponse,
    ClusterStatusRequest, ClusterStatusResponse, CreateWorkspaceRequest, CreateWorkspaceResponse,
    InitClusterRequest, InitClusterResponse, ListAuditHeadsRequest, ListAuditHeadsResponse,
    ListWorkspacesRequest, ListWorkspacesResponse, PromoteNodeRequest, PromoteNodeResponse,
    RemoveNodeRequest, RemoveNodeResponse, TailAuditRequest, TailAuditResponse, VerifyAuditRequest,
    VerifyAuditResponse,
};

use crate::endpoint::EndpointSet;
use crate::retry::{self, Resend, RetryPolicy};
use crate::{BearerToken, ClientOptions, Consistency, Error};

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
    token: Option<BearerToken>,
}

#[derive(Debug)]
struct Inner {
    endpoints: EndpointSet,
    policy: RetryPolicy,
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
            token: options.token,
        })
    }

    /// Initializes a fresh cluster with the serving node as its only voter and creates
    /// its first admin (`user/admin` unless `admin` names another); the response holds
    /// the admin's token, which is never shown again. `bootstrap_token` is the token the
    /// serving node was started with.
    pub async fn init_cluster(
        &self,
        admin: Option<&str>,
        bootstrap_token: &str,
    ) -> Result<InitClusterResponse, Error> {
        self.init_cluster_with(admin, bootstrap_token, 0).await
    }

    /// [`Client::init_cluster`], fixing the audit checkpoint interval (records; 0: the
    /// default, 1000).
    pub async fn init_cluster_with(
        &self,
        admin: Option<&str>,
        bootstrap_token: &str,
        checkpoint_interval: u64,
    ) -> Result<InitClusterResponse, Error> {
        let request = InitClusterRequest {
            admin: admin.unwrap_or_default().to_owned(),
            bootstrap_token: bootstrap_token.to_owned(),
            checkpoint_interval,
        };
        self.unary_once(request, |channel, request| async move {
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

    /// The newest audit records `tail` selects, oldest first, and where the next older
    /// page starts.
    pub async fn tail_audit(
        &self,
        tail: AuditTail,
        consistency: Consistency,
    ) -> Result<TailAuditResponse, Error> {
        let request = TailAuditRequest {
            limit: tail.limit,
            consistency: consistency.to_proto(),
            principal: tail.principal,
            action: tail.action,
            workspace: tail.workspace,
            before_index: tail.before_index,
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

    /// Every member node's audit head and latest checkpoint, compared by the serving node.
    pub async fn list_audit_heads(
        &self,
        consistency: Consistency,
    ) -> Result<ListAuditHeadsResponse, Error> {
        let request = ListAuditHeadsRequest {
            consistency: consistency.to_proto(),
        };
        self.unary(request, |channel, request| async move {
            AuditServiceClient::new(channel)
                .list_audit_heads(request)
                .await
        })
        .await
    }

    /// Makes every reachable member node sign its audit head now. Sent again after a
    /// failure like a read: a second round of checkpoints is harmless.
    pub async fn checkpoint_audit(&self) -> Result<CheckpointAuditResponse, Error> {
        self.unary(CheckpointAuditRequest {}, |channel, request| async move {
            AuditServiceClient::new(channel)
                .checkpoint_audit(request)
                .await
        })
        .await
    }

    /// Streams the audit records from `from_index` on (0 or 1: from the first), oldest
    /// first. When the stream breaks with UNAVAILABLE it is reopened on another node
    /// from the record after the last one received, so each record arrives exactly once
    /// and in order; it gives up with [`Error::Unavailable`] after
    /// `ClientOptions::resume_timeout` spent reconnecting without a record. The stream
    /// ends after the last record or after the first error.
    pub fn export_audit(
        &self,
        from_index: u64,
        consistency: Consistency,
    ) -> impl Stream<Item = Result<AuditRecord, Error>> + Send + 'static {
        crate::export::resumable(self.clone(), from_index, consistency)
    }

    /// Runs one attempt per node visited until one succeeds or `resend` forbids another;
    /// see `retry::call`. Also returns the index of the node that answered.
    pub(crate) async fn call<T, F, Fut>(
        &self,
        resend: Resend,
        attempt: F,
    ) -> Result<(T, usize), Error>
    where
        F: FnMut(Channel) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        retry::call(&self.inner.endpoints, &self.inner.policy, resend, attempt).await
    }

    /// A unary read or convergent write: the request is cloned for each attempt.
    pub(crate) async fn unary<Req, Resp, F, Fut>(&self, request: Req, rpc: F) -> Result<Resp, Error>
    where
        Req: Clone,
        F: Fn(Channel, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<Response<Resp>, Status>>,
    {
        self.unary_with(Resend::Always, request, rpc).await
    }

    /// A unary write that must run at most once: sent again only when no attempt can
    /// have reached a server.
    pub(crate) async fn unary_once<Req, Resp, F, Fut>(
        &self,
        request: Req,
        rpc: F,
    ) -> Result<Resp, Error>
    where
        Req: Clone,
        F: Fn(Channel, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<Response<Resp>, Status>>,
    {
        self.unary_with(Resend::WhenUnsent, request, rpc).await
    }

    async fn unary_with<Req, Resp, F, Fut>(
        &self,
        resend: Resend,
        request: Req,
        rpc: F,
    ) -> Result<Resp, Error>
    where
        Req: Clone,
        F: Fn(Channel, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<Response<Resp>, Status>>,
    {
        let (response, _node) = self
            .call(resend, |channel| {
                rpc(channel, self.authorized(request.clone()))
            })
            .await?;
        Ok(response.into_inner())
    }

    /// A client for the same nodes (sharing their channels) that presents `token`.
    pub fn with_token(&self, token: BearerToken) -> Client {
        Client {
            inner: Arc::clone(&self.inner),
            token: Some(token),
        }
    }

    /// `message` as a request carrying the client's token, if it has one.
    pub(crate) fn authorized<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(token) = &self.token {
            token.authorize(&mut request);
        }
        request
    }

    pub(crate) fn endpoints(&self) -> &EndpointSet {
        &self.inner.endpoints
    }

    pub(crate) fn policy(&self) -> &RetryPolicy {
        &self.inner.policy
    }
}

/// Which audit records `tail_audit` returns: the newest `limit` (0 means 20) before
/// chain position `before_index` (0: the end) that match every filter set (empty: any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditTail {
    pub limit: u32,
    pub principal: String,
    pub action: String,
    pub workspace: String,
    pub before_index: u64,
}

impl AuditTail {
    /// The newest `limit` records, unfiltered.
    pub fn last(limit: u32) -> AuditTail {
        AuditTail {
            limit,
            ..AuditTail::default()
        }
    }
}
