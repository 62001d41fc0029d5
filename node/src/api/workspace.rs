//! `warden.v1.WorkspaceService`.

use prost::Message;
use tonic::{Request, Response, Status};
use warden_core::{
    Action, Code, Command, Hash, Outcome, Permission, Rejection, Scope, WorkspaceId,
};
use warden_proto::v1::workspace_service_server::WorkspaceService;
use warden_proto::v1::{
    CreateWorkspaceRequest, CreateWorkspaceResponse, ListWorkspacesRequest, ListWorkspacesResponse,
};

use super::{Refused, propose, unexpected};
use crate::auth::Caller;
use crate::cluster::Cluster;
use crate::convert;
use crate::error::Error;

pub struct Workspaces {
    cluster: Cluster,
}

impl Workspaces {
    pub fn new(cluster: Cluster) -> Workspaces {
        Workspaces { cluster }
    }
}

fn parse_create(request: &CreateWorkspaceRequest) -> Result<Command, Refused> {
    WorkspaceId::parse(&request.name)
        .map(|workspace| Command::CreateWorkspace { workspace })
        .map_err(|error| Refused {
            action: Action::WorkspaceCreate,
            resource: format!("workspace/{}", convert::sanitized(&request.name)),
            payload_hash: Hash::of(&request.encode_to_vec()),
            rejection: Rejection::new(Code::InvalidArgument, error.to_string()),
        })
}

#[tonic::async_trait]
impl WorkspaceService for Workspaces {
    async fn create_workspace(
        &self,
        request: Request<CreateWorkspaceRequest>,
    ) -> Result<Response<CreateWorkspaceResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        match propose(&self.cluster, &caller, parse_create(&request)).await?
        {
            Outcome::WorkspaceCreated(workspace) => Ok(Response::new(CreateWorkspaceResponse {
                workspace: Some(convert::workspace(&workspace)),
            })),
            other => Err(unexpected(&other).into()),
        }
    }

    async fn list_workspaces(
        &self,
        request: Request<ListWorkspacesRequest>,
    ) -> Result<Response<ListWorkspacesResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        self.cluster
            .read_barrier(convert::consistency(request.consistency))
            .await?;
        let reader = self.cluster.reader();
        // A caller sees the workspaces it holds a role in; cluster-scope roles see all.
        let all = caller
            .require(&self.cluster, None, Permission::Read)
            .is_ok();
        let mut visible = Vec::new();
        for workspace in reader.workspaces().map_err(Error::from)? {
            let scope = Scope::Workspace(workspace.id.clone());
            if all
                || reader
                    .role_binding(&scope, &caller.principal)
                    .map_err(Error::from)?
                    .is_some()
            {
                visible.push(workspace);
            }
        }
        Ok(Response::new(ListWorkspacesResponse {
            workspaces: visible.iter().map(convert::workspace).collect(),
        }))
    }
}
