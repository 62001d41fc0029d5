//! Configuration as code through `Client`: a workspace's configuration exported as a
//! YAML file, and a file applied to it.

use std::collections::HashMap;

use warden_proto::v1::workspace_service_client::WorkspaceServiceClient;
use warden_proto::v1::{
    ApplyWorkspaceRequest, ApplyWorkspaceResponse, ExportWorkspaceRequest, ExportWorkspaceResponse,
};

use crate::{Client, Consistency, Error};

impl Client {
    /// The configuration of `workspace` as a YAML file, without secrets.
    pub async fn export_workspace(
        &self,
        workspace: impl Into<String>,
        consistency: Consistency,
    ) -> Result<ExportWorkspaceResponse, Error> {
        let request = ExportWorkspaceRequest {
            workspace: workspace.into(),
            consistency: consistency.to_proto(),
        };
        self.unary(request, |channel, request| async move {
            WorkspaceServiceClient::new(channel)
                .export_workspace(request)
                .await
        })
        .await
    }

    /// Applies the YAML `document` to the workspace it names (only compares it, with
    /// `dry_run`). `secrets` are the ones its records need that the workspace does not
    /// hold, by `provider/<name>`, `mcp_server/<name>/env/<VAR>`, `mcp_server/<name>/bearer`
    /// and `trigger/<name>`.
    ///
    /// Not retried once an attempt may have reached a server (a dry run is): a second
    /// attempt after a first that took effect would find nothing to change. Such a
    /// failure is [`Error::OutcomeUnknown`]; export the workspace to see where it is.
    pub async fn apply_workspace(
        &self,
        document: impl Into<String>,
        dry_run: bool,
        secrets: HashMap<String, String>,
    ) -> Result<ApplyWorkspaceResponse, Error> {
        let request = ApplyWorkspaceRequest {
            document: document.into(),
            dry_run,
            secrets,
        };
        let call = |channel, request| async move {
            WorkspaceServiceClient::new(channel)
                .apply_workspace(request)
                .await
        };
        if dry_run {
            self.unary(request, call).await
        } else {
            self.unary_once(request, call).await
        }
    }
}
