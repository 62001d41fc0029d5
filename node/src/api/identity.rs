//! `warden.v1.IdentityService`: tokens and role bindings.

use prost::Message;
use tonic::{Request, Response, Status};
use warden_core::{
    Action, Code, Command, Outcome, Permission, Principal, Rejection, Role, RoleBinding, Scope,
    Token, TokenId, WorkspaceId,
};
use warden_proto::v1::identity_service_server::IdentityService;
use warden_proto::v1::{
    CreateTokenRequest, CreateTokenResponse, ListRoleBindingsRequest, ListRoleBindingsResponse,
    ListTokensRequest, ListTokensResponse, RevokeTokenRequest, RevokeTokenResponse,
    RoleBindingInfo, SetRolesRequest, SetRolesResponse, TokenInfo, WhoAmIRequest, WhoAmIResponse,
};

use super::{Refused, now_ms, propose, unexpected};
use crate::api::Payload;
use crate::auth::{Caller, generate_token};
use crate::cluster::{Cluster, Consistency};
use crate::convert;
use crate::error::Error;

pub struct Identity {
    cluster: Cluster,
}

impl Identity {
    pub fn new(cluster: Cluster) -> Identity {
        Identity { cluster }
    }
}

fn refusal(action: Action, resource: String, request: &impl Message) -> impl Fn(String) -> Refused {
    let payload = Payload::of(request);
    move |message| Refused {
        action,
        resource: resource.clone(),
        payload,
        rejection: Rejection::new(Code::InvalidArgument, message),
    }
}

/// The scope a request names: the workspace, or the cluster when empty.
fn parse_scope(workspace: &str) -> Result<Scope, warden_core::Error> {
    match workspace {
        "" => Ok(Scope::Cluster),
        name => WorkspaceId::parse(name).map(Scope::Workspace),
    }
}

fn parse_set_roles(request: &SetRolesRequest) -> Result<Command, Refused> {
    let refuse = refusal(
        Action::RolesSet,
        format!(
            "{}/binding/{}",
            convert::sanitized(&request.workspace),
            convert::sanitized(&request.principal)
        ),
        request,
    );
    let scope = parse_scope(&request.workspace).map_err(|error| refuse(error.to_string()))?;
    let principal =
        Principal::parse(&request.principal).map_err(|error| refuse(error.to_string()))?;
    let roles = request
        .roles
        .iter()
        .map(|role| Role::parse(role))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| refuse(error.to_string()))?;
    Ok(Command::SetRoles {
        scope,
        principal,
        roles,
    })
}

pub fn token_info(token: &Token) -> TokenInfo {
    TokenInfo {
        id: token.id.to_string(),
        principal: token.principal.to_string(),
        description: token.description.clone(),
        created_ms: token.created_ms,
        created_by: token.created_by.to_string(),
        expires_at_ms: token.expires_at_ms.unwrap_or(0),
        revoked_ms: token.revoked_ms.unwrap_or(0),
        revoked_by: token
            .revoked_by
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
    }
}

pub fn binding_info(binding: &RoleBinding) -> RoleBindingInfo {
    RoleBindingInfo {
        workspace: match &binding.scope {
            Scope::Cluster => String::new(),
            Scope::Workspace(workspace) => workspace.to_string(),
        },
        principal: binding.principal.to_string(),
        roles: binding.roles.iter().map(|role| role.to_string()).collect(),
        updated_ms: binding.updated_ms,
        updated_by: binding.updated_by.to_string(),
    }
}

#[tonic::async_trait]
impl IdentityService for Identity {
    async fn who_am_i(
        &self,
        request: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        let caller = Caller::of(&request)?;
        let reader = self.cluster.reader();
        let mut bindings = Vec::new();
        if let Some(binding) = reader
            .role_binding(&Scope::Cluster, &caller.principal)
            .map_err(Error::from)?
        {
            bindings.push(binding_info(&binding));
        }
        for workspace in reader.workspaces().map_err(Error::from)? {
            let scope = Scope::Workspace(workspace.id);
            if let Some(binding) = reader
                .role_binding(&scope, &caller.principal)
                .map_err(Error::from)?
            {
                bindings.push(binding_info(&binding));
            }
        }
        Ok(Response::new(WhoAmIResponse {
            principal: caller.principal.to_string(),
            token_id: caller.token.to_string(),
            bindings,
        }))
    }

    async fn create_token(
        &self,
        request: Request<CreateTokenRequest>,
    ) -> Result<Response<CreateTokenResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let token = generate_token();
        let refuse = refusal(Action::TokenCreate, format!("token/{}", token.id), &request);
        let parsed = Principal::parse(&request.principal)
            .map_err(|error| refuse(error.to_string()))
            .map(|principal| Command::CreateToken {
                token: token.id,
                secret_hash: token.secret_hash(),
                principal,
                description: request.description.clone(),
                expires_at_ms: (request.ttl_ms > 0)
                    .then(|| now_ms().saturating_add(request.ttl_ms)),
            });
        match propose(&self.cluster, &caller, parsed).await? {
            Outcome::TokenCreated(stored) => Ok(Response::new(CreateTokenResponse {
                token: Some(token_info(&stored)),
                secret: token.expose(),
            })),
            other => Err(unexpected(&other).into()),
        }
    }

    async fn revoke_token(
        &self,
        request: Request<RevokeTokenRequest>,
    ) -> Result<Response<RevokeTokenResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let refuse = refusal(
            Action::TokenRevoke,
            format!("token/{}", convert::sanitized(&request.id)),
            &request,
        );
        let parsed = TokenId::parse(&request.id)
            .map_err(|error| refuse(error.to_string()))
            .map(|token| Command::RevokeToken { token });
        match propose(&self.cluster, &caller, parsed).await? {
            Outcome::TokenRevoked(token) => Ok(Response::new(RevokeTokenResponse {
                token: Some(token_info(&token)),
            })),
            other => Err(unexpected(&other).into()),
        }
    }

    async fn list_tokens(
        &self,
        request: Request<ListTokensRequest>,
    ) -> Result<Response<ListTokensResponse>, Status> {
        let caller = Caller::of(&request)?;
        self.cluster.read_barrier(Consistency::Linearizable).await?;
        // A cluster admin sees every token; anyone else only their own.
        let all = caller
            .require(&self.cluster, None, Permission::Administer)
            .is_ok();
        let tokens = self.cluster.reader().tokens().map_err(Error::from)?;
        Ok(Response::new(ListTokensResponse {
            tokens: tokens
                .iter()
                .filter(|token| all || token.principal == caller.principal)
                .map(token_info)
                .collect(),
        }))
    }

    async fn set_roles(
        &self,
        request: Request<SetRolesRequest>,
    ) -> Result<Response<SetRolesResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        match propose(&self.cluster, &caller, parse_set_roles(&request)).await? {
            Outcome::RolesSet(binding) => Ok(Response::new(SetRolesResponse {
                binding: Some(binding_info(&binding)),
            })),
            other => Err(unexpected(&other).into()),
        }
    }

    async fn list_role_bindings(
        &self,
        request: Request<ListRoleBindingsRequest>,
    ) -> Result<Response<ListRoleBindingsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let scope = parse_scope(&request.workspace).map_err(|error| Error::InvalidArgument {
            field: "workspace",
            message: error.to_string(),
        })?;
        self.cluster.read_barrier(Consistency::Linearizable).await?;
        let workspace = match &scope {
            Scope::Cluster => None,
            Scope::Workspace(workspace) => Some(workspace),
        };
        caller.require(&self.cluster, workspace, Permission::Read)?;
        let bindings = self
            .cluster
            .reader()
            .role_bindings(&scope)
            .map_err(Error::from)?;
        Ok(Response::new(ListRoleBindingsResponse {
            bindings: bindings.iter().map(binding_info).collect(),
        }))
    }
}
