//! `warden.v1.WorkspaceService`.

use tonic::{Request, Response, Status};
use warden_core::{Action, Code, Command, Outcome, Permission, Rejection, Scope, WorkspaceId};
use warden_proto::v1::workspace_service_server::WorkspaceService;
use warden_proto::v1::{
    CreateWorkspaceRequest, CreateWorkspaceResponse, DeleteWorkspaceRequest,
    DeleteWorkspaceResponse, GetWorkspaceSettingsRequest, GetWorkspaceSettingsResponse,
    ListWorkspacesRequest, ListWorkspacesResponse, SetWorkspaceSettingsRequest,
    SetWorkspaceSettingsResponse,
};

use super::{Refused, propose, unexpected};
use crate::api::Payload;
use crate::auth::Caller;
use crate::cluster::Cluster;
use crate::convert;
use crate::error::Error;
use crate::secrets::Vault;

pub struct Workspaces {
    cluster: Cluster,
    vault: Vault,
    files: super::config_file::ConfigFiles,
}

impl Workspaces {
    pub fn new(
        cluster: Cluster,
        vault: Vault,
        files: super::config_file::ConfigFiles,
    ) -> Workspaces {
        Workspaces {
            cluster,
            vault,
            files,
        }
    }
}

/// The command creating the workspace, with a new key for it wrapped by this node's
/// master key (none without one).
fn parse_create(request: &CreateWorkspaceRequest, vault: &Vault) -> Result<Command, Refused> {
    let refuse = |code: Code, message: String| Refused {
        action: Action::WorkspaceCreate,
        resource: format!("workspace/{}", convert::sanitized(&request.name)),
        payload: Payload::of(request),
        rejection: Rejection::new(code, message),
    };
    let workspace = WorkspaceId::parse(&request.name)
        .map_err(|error| refuse(Code::InvalidArgument, error.to_string()))?;
    let key = vault
        .new_workspace_key(&workspace)
        .map_err(|error| refuse(Code::FailedPrecondition, error.to_string()))?;
    Ok(Command::CreateWorkspace { workspace, key })
}

fn parse_delete(request: &DeleteWorkspaceRequest) -> Result<Command, Refused> {
    WorkspaceId::parse(&request.name)
        .map(|workspace| Command::DeleteWorkspace { workspace })
        .map_err(|error| Refused {
            action: Action::WorkspaceDelete,
            resource: format!("workspace/{}", convert::sanitized(&request.name)),
            payload: Payload::of(request),
            rejection: Rejection::new(Code::InvalidArgument, error.to_string()),
        })
}

fn parse_settings(request: &SetWorkspaceSettingsRequest) -> Result<Command, Refused> {
    let settings = request.settings.clone().unwrap_or_default();
    WorkspaceId::parse(&settings.workspace)
        .map(|workspace| Command::SetWorkspaceSettings {
            workspace,
            trace_content: settings.trace_content,
        })
        .map_err(|error| Refused {
            action: Action::WorkspaceSettingsSet,
            resource: format!(
                "workspace/{}/settings",
                convert::sanitized(&settings.workspace)
            ),
            payload: Payload::of(request),
            rejection: Rejection::new(Code::InvalidArgument, format!("workspace: {error}")),
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
        match propose(&self.cluster, &caller, parse_create(&request, &self.vault)).await? {
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
            .read_barrier(convert::consistency(request.consistency)?)
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

    async fn delete_workspace(
        &self,
        request: Request<DeleteWorkspaceRequest>,
    ) -> Result<Response<DeleteWorkspaceResponse>, Status> {
        let caller = Caller::of(&request)?;
        match propose(&self.cluster, &caller, parse_delete(request.get_ref())).await? {
            Outcome::WorkspaceDeleted(workspace) => Ok(Response::new(DeleteWorkspaceResponse {
                workspace: Some(convert::workspace(&workspace)),
            })),
            other => Err(unexpected(&other).into()),
        }
    }

    async fn set_workspace_settings(
        &self,
        request: Request<SetWorkspaceSettingsRequest>,
    ) -> Result<Response<SetWorkspaceSettingsResponse>, Status> {
        let caller = Caller::of(&request)?;
        match propose(&self.cluster, &caller, parse_settings(request.get_ref())).await? {
            Outcome::WorkspaceSettingsSet(settings) => {
                Ok(Response::new(SetWorkspaceSettingsResponse {
                    settings: Some(convert::workspace_settings(
                        &settings.workspace,
                        Some(&settings),
                    )),
                }))
            }
            other => Err(unexpected(&other).into()),
        }
    }

    async fn get_workspace_settings(
        &self,
        request: Request<GetWorkspaceSettingsRequest>,
    ) -> Result<Response<GetWorkspaceSettingsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let workspace = super::task::parse_workspace(&request.workspace)?;
        let reader = caller
            .read_workspace(
                &self.cluster,
                &workspace,
                convert::consistency(request.consistency)?,
            )
            .await?;
        let settings = reader.settings(&workspace).map_err(Error::from)?;
        Ok(Response::new(GetWorkspaceSettingsResponse {
            settings: Some(convert::workspace_settings(&workspace, settings.as_ref())),
        }))
    }

    async fn export_workspace(
        &self,
        request: Request<warden_proto::v1::ExportWorkspaceRequest>,
    ) -> Result<Response<warden_proto::v1::ExportWorkspaceResponse>, Status> {
        Ok(Response::new(self.files.export(request).await?))
    }

    async fn apply_workspace(
        &self,
        request: Request<warden_proto::v1::ApplyWorkspaceRequest>,
    ) -> Result<Response<warden_proto::v1::ApplyWorkspaceResponse>, Status> {
        let caller = Caller::of(&request)?;
        Ok(Response::new(
            self.files.apply(&caller, request.into_inner()).await?,
        ))
    }
}
