//! A workspace's settings through `Client`.

use warden_proto::v1::workspace_service_client::WorkspaceServiceClient;
use warden_proto::v1::{
    GetWorkspaceSettingsRequest, SetWorkspaceSettingsRequest, WorkspaceSettings,
};

use crate::{Client, Consistency, Error};

impl Client {
    /// Replaces the settings of `settings.workspace` (its administrators only); the
    /// answer carries who set them and when.
    ///
    /// Retried like a read: setting the same values again leaves the same settings.
    pub async fn set_workspace_settings(
        &self,
        settings: WorkspaceSettings,
    ) -> Result<WorkspaceSettings, Error> {
        let request = SetWorkspaceSettingsRequest {
            settings: Some(settings),
        };
        let response = self
            .unary(request, |channel, request| async move {
                WorkspaceServiceClient::new(channel)
                    .set_workspace_settings(request)
                    .await
            })
            .await?;
        Ok(response.settings.unwrap_or_default())
    }

    /// The settings of `workspace`: the defaults (everything off) until set.
    pub async fn get_workspace_settings(
        &self,
        workspace: impl Into<String>,
        consistency: Consistency,
    ) -> Result<WorkspaceSettings, Error> {
        let request = GetWorkspaceSettingsRequest {
            workspace: workspace.into(),
            consistency: consistency.to_proto(),
        };
        let response = self
            .unary(request, |channel, request| async move {
                WorkspaceServiceClient::new(channel)
                    .get_workspace_settings(request)
                    .await
            })
            .await?;
        Ok(response.settings.unwrap_or_default())
    }
}
