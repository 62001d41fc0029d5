//! Tokens and role bindings.

use warden_proto::v1::identity_service_client::IdentityServiceClient;
use warden_proto::v1::{
    CreateTokenRequest, CreateTokenResponse, ListRoleBindingsRequest, ListTokensRequest,
    RevokeTokenRequest, RoleBindingInfo, SetRolesRequest, TokenInfo, WhoAmIRequest, WhoAmIResponse,
};

use crate::{Client, Error};

impl Client {
    /// The principal this client's token names, and its role bindings.
    pub async fn who_am_i(&self) -> Result<WhoAmIResponse, Error> {
        self.unary(WhoAmIRequest {}, |channel, request| async move {
            IdentityServiceClient::new(channel).who_am_i(request).await
        })
        .await
    }

    /// Creates a token for `principal` (`user/<name>` or `service/<name>`), valid for
    /// `ttl_ms` (0: no expiry). The response's `secret` is the token; it is shown once.
    /// Not resent after an ambiguous failure, which could leave a second token.
    pub async fn create_token(
        &self,
        principal: &str,
        description: &str,
        ttl_ms: u64,
    ) -> Result<CreateTokenResponse, Error> {
        let request = CreateTokenRequest {
            principal: principal.to_owned(),
            description: description.to_owned(),
            ttl_ms,
        };
        self.unary_once(request, |channel, request| async move {
            IdentityServiceClient::new(channel)
                .create_token(request)
                .await
        })
        .await
    }

    /// Revokes token `id` (the 16 hex digits after `wdn_`).
    pub async fn revoke_token(&self, id: &str) -> Result<TokenInfo, Error> {
        let request = RevokeTokenRequest { id: id.to_owned() };
        let response = self
            .unary_once(request, |channel, request| async move {
                IdentityServiceClient::new(channel)
                    .revoke_token(request)
                    .await
            })
            .await?;
        response.token.ok_or_else(|| Error::missing("token"))
    }

    /// Every token (a cluster admin), or the caller's own.
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, Error> {
        let response = self
            .unary(ListTokensRequest {}, |channel, request| async move {
                IdentityServiceClient::new(channel)
                    .list_tokens(request)
                    .await
            })
            .await?;
        Ok(response.tokens)
    }

    /// Replaces the roles `principal` holds in `workspace` (the cluster when `None`);
    /// no roles removes the binding. Setting the same roles again changes nothing, so
    /// this is resent freely.
    pub async fn set_roles(
        &self,
        workspace: Option<&str>,
        principal: &str,
        roles: &[&str],
    ) -> Result<RoleBindingInfo, Error> {
        let request = SetRolesRequest {
            workspace: workspace.unwrap_or_default().to_owned(),
            principal: principal.to_owned(),
            roles: roles.iter().map(|role| (*role).to_owned()).collect(),
        };
        let response = self
            .unary(request, |channel, request| async move {
                IdentityServiceClient::new(channel).set_roles(request).await
            })
            .await?;
        response.binding.ok_or_else(|| Error::missing("binding"))
    }

    /// The role bindings of `workspace` (the cluster when `None`).
    pub async fn list_role_bindings(
        &self,
        workspace: Option<&str>,
    ) -> Result<Vec<RoleBindingInfo>, Error> {
        let request = ListRoleBindingsRequest {
            workspace: workspace.unwrap_or_default().to_owned(),
        };
        let response = self
            .unary(request, |channel, request| async move {
                IdentityServiceClient::new(channel)
                    .list_role_bindings(request)
                    .await
            })
            .await?;
        Ok(response.bindings)
    }
}
