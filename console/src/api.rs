//! The gRPC services as the signed-in user calls them: in process, through the node's
//! authentication layer, with the session's token as the bearer.

use std::convert::Infallible;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};

use tower::util::BoxCloneSyncService;
use warden_proto::v1::agent_service_client::AgentServiceClient;
use warden_proto::v1::audit_service_client::AuditServiceClient;
use warden_proto::v1::cluster_service_client::ClusterServiceClient;
use warden_proto::v1::governance_service_client::GovernanceServiceClient;
use warden_proto::v1::identity_service_client::IdentityServiceClient;
use warden_proto::v1::task_service_client::TaskServiceClient;
use warden_proto::v1::webhook_service_client::WebhookServiceClient;
use warden_proto::v1::workspace_service_client::WorkspaceServiceClient;

/// The node's public gRPC services behind its layers (authentication first), as one
/// in-process service: what a connection to the node's gRPC port would reach.
/// (The node's routes never fail as a service: refusals are gRPC statuses in responses.
/// A concrete error type also keeps the handlers' futures `Send` where a boxed error
/// would trip the compiler's higher-ranked lifetime check.)
pub type Grpc = BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    Infallible,
>;

/// The services, bound to one token.
#[derive(Clone)]
pub struct Api {
    grpc: Grpc,
    authorization: AsciiMetadataValue,
}

impl Api {
    /// `None` when the token cannot be a header value (it is then no Warden token).
    pub fn new(grpc: Grpc, token: &str) -> Option<Api> {
        let mut authorization: AsciiMetadataValue =
            MetadataValue::try_from(format!("Bearer {token}")).ok()?;
        authorization.set_sensitive(true);
        Some(Api {
            grpc,
            authorization,
        })
    }

    /// `message` as a request carrying the token.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", self.authorization.clone());
        request
    }

    pub fn tasks(&self) -> TaskServiceClient<Grpc> {
        TaskServiceClient::new(self.grpc.clone())
    }

    pub fn governance(&self) -> GovernanceServiceClient<Grpc> {
        GovernanceServiceClient::new(self.grpc.clone())
    }

    pub fn audit(&self) -> AuditServiceClient<Grpc> {
        AuditServiceClient::new(self.grpc.clone())
    }

    pub fn cluster(&self) -> ClusterServiceClient<Grpc> {
        ClusterServiceClient::new(self.grpc.clone())
    }

    pub fn workspaces(&self) -> WorkspaceServiceClient<Grpc> {
        WorkspaceServiceClient::new(self.grpc.clone())
    }

    pub fn identity(&self) -> IdentityServiceClient<Grpc> {
        IdentityServiceClient::new(self.grpc.clone())
    }

    pub fn agents(&self) -> AgentServiceClient<Grpc> {
        AgentServiceClient::new(self.grpc.clone())
    }

    pub fn webhooks(&self) -> WebhookServiceClient<Grpc> {
        WebhookServiceClient::new(self.grpc.clone())
    }
}
