//! Every gRPC service a node serves, public and node-to-node, with their message limits,
//! and server reflection over the public ones (so `grpcurl` can discover the API).

use anyhow::Context;
use tonic::service::Routes;
use warden_proto::internal::forward_service_server::ForwardServiceServer;
use warden_proto::internal::node_service_server::NodeServiceServer;
use warden_proto::internal::raft_service_server::RaftServiceServer;
use warden_proto::v1::agent_service_server::AgentServiceServer;
use warden_proto::v1::audit_service_server::AuditServiceServer;
use warden_proto::v1::catalog_service_server::CatalogServiceServer;
use warden_proto::v1::cluster_service_server::ClusterServiceServer;
use warden_proto::v1::governance_service_server::GovernanceServiceServer;
use warden_proto::v1::identity_service_server::IdentityServiceServer;
use warden_proto::v1::schedule_service_server::ScheduleServiceServer;
use warden_proto::v1::task_service_server::TaskServiceServer;
use warden_proto::v1::trigger_service_server::TriggerServiceServer;
use warden_proto::v1::webhook_service_server::WebhookServiceServer;
use warden_proto::v1::workspace_service_server::WorkspaceServiceServer;
use warden_raft::{Raft, RaftGrpc};

use crate::anchor::Anchor;
use crate::api::agent::Agents;
use crate::api::webhook::Webhooks;
use crate::api::{
    audit::Audit, catalog::Catalog, cluster::ClusterAdmin, forward::Forward,
    governance::Governance, identity::Identity, node::Node, task::Tasks, workspace::Workspaces,
};
use crate::bootstrap::BootstrapToken;
use crate::cluster::Cluster;
use crate::config::{MAX_MESSAGE_BYTES, Options};
use crate::runtime::RuntimeHandle;
use crate::secrets::Vault;

/// Node-to-node messages carry snapshot chunks and entry batches.
const MAX_INTERNAL_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// What the services are built from.
pub struct Parts<'a> {
    pub cluster: Cluster,
    pub raft: Raft,
    pub vault: Vault,
    pub anchor: Anchor,
    pub runtime: &'a RuntimeHandle,
    /// The address clients and peers reach this node by.
    pub advertise: String,
    pub bootstrap: BootstrapToken,
}

/// Every service, ready to be served behind the node's layers.
pub fn routes(options: &Options, parts: Parts<'_>) -> anyhow::Result<Routes> {
    let Parts {
        cluster,
        raft,
        vault,
        anchor,
        runtime,
        advertise,
        bootstrap,
    } = parts;
    let master_key_id = vault.key_id();
    let mut routes = Routes::builder();
    routes
        .add_service(
            RaftServiceServer::new(RaftGrpc::new(raft))
                .max_decoding_message_size(MAX_INTERNAL_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_INTERNAL_MESSAGE_BYTES),
        )
        .add_service(
            ForwardServiceServer::new(Forward::new(cluster.clone(), runtime.liveness.clone()))
                .max_decoding_message_size(MAX_INTERNAL_MESSAGE_BYTES),
        )
        .add_service(NodeServiceServer::new(Node::new(
            options.node_id,
            master_key_id.clone(),
            anchor.clone(),
            cluster.build().clone(),
        )))
        .add_service(ClusterServiceServer::new(ClusterAdmin::new(
            cluster.clone(),
            advertise,
            bootstrap,
            master_key_id,
            options.raft.catch_up_lag,
            anchor.public_key(),
            crate::runtime::liveness::Leases {
                liveness: runtime.liveness.clone(),
                lease: options.runtime.lease,
            },
        )))
        .add_service(WorkspaceServiceServer::new(Workspaces::new(
            cluster.clone(),
            vault.clone(),
            crate::api::config_file::ConfigFiles {
                cluster: cluster.clone(),
                vault: vault.clone(),
                tools: runtime.tools.clone(),
                providers: options.providers.clone(),
                egress: options.egress.clone(),
                trust_annotations: options.mcp.trust_tool_annotations,
            },
        )))
        .add_service(
            TaskServiceServer::new(Tasks::new(cluster.clone()))
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(AuditServiceServer::new(Audit::new(cluster.clone(), anchor)))
        .add_service(ScheduleServiceServer::new(
            crate::api::schedule::Schedules::new(cluster.clone()),
        ))
        .add_service(TriggerServiceServer::new(
            crate::api::trigger::Triggers::new(cluster.clone(), vault.clone()),
        ))
        .add_service(WebhookServiceServer::new(Webhooks::new(
            cluster.clone(),
            vault.clone(),
            options.egress.clone(),
        )))
        .add_service(AgentServiceServer::new(Agents::new(
            cluster.clone(),
            vault,
            runtime.tools.clone(),
            options.providers.clone(),
            options.egress.clone(),
            options.mcp.trust_tool_annotations,
        )))
        .add_service(CatalogServiceServer::new(Catalog::new(cluster.clone())))
        .add_service(IdentityServiceServer::new(Identity::new(cluster.clone())))
        .add_service(GovernanceServiceServer::new(Governance::new(cluster)))
        .add_service(reflection()?);
    Ok(routes.routes())
}

/// gRPC server reflection (v1) over the public API only: the node-to-node services are
/// neither listed nor resolvable. Like every public call it needs a token.
fn reflection() -> anyhow::Result<
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
> {
    let mut descriptors =
        warden_proto::file_descriptor_set().context("decoding the API's descriptors")?;
    descriptors
        .file
        .retain(|file| file.package() == PUBLIC_PACKAGE);
    tonic_reflection::server::Builder::configure()
        .register_file_descriptor_set(descriptors)
        .build_v1()
        .context("building the reflection service")
}

/// The package of the public API, the one reflection shows.
pub const PUBLIC_PACKAGE: &str = "warden.v1";
