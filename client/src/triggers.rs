//! The webhook trigger RPCs of `Client`: tasks a workspace submits when a signed HTTP
//! request arrives.

use warden_proto::v1::trigger_service_client::TriggerServiceClient;
use warden_proto::v1::{
    DeleteTriggerRequest, DeleteTriggerResponse, ListTriggersRequest, ListTriggersResponse,
    PutTriggerRequest, PutTriggerResponse, Trigger,
};

use crate::{Client, Consistency, Error};

impl Client {
    /// Creates trigger `trigger.name` of `trigger.workspace` (`expected_version` 0, with a
    /// `secret` of 16 to 256 bytes) or replaces the one at `expected_version` (an empty
    /// `secret` keeps its secret). Output fields are ignored.
    ///
    /// Not retried once an attempt may have reached a server: a second attempt after a
    /// first that took effect would be refused as stale (ABORTED). Such a failure is
    /// [`Error::OutcomeUnknown`]; list the triggers first.
    pub async fn put_trigger(
        &self,
        trigger: Trigger,
        expected_version: u64,
        secret: impl Into<String>,
    ) -> Result<PutTriggerResponse, Error> {
        let request = PutTriggerRequest {
            trigger: Some(trigger),
            expected_version,
            secret: secret.into(),
        };
        self.unary_once(request, |channel, request| async move {
            TriggerServiceClient::new(channel)
                .put_trigger(request)
                .await
        })
        .await
    }

    /// The webhook triggers of `workspace`, in name order.
    pub async fn list_triggers(
        &self,
        workspace: impl Into<String>,
        consistency: Consistency,
    ) -> Result<ListTriggersResponse, Error> {
        let request = ListTriggersRequest {
            workspace: workspace.into(),
            consistency: consistency.to_proto(),
        };
        self.unary(request, |channel, request| async move {
            TriggerServiceClient::new(channel)
                .list_triggers(request)
                .await
        })
        .await
    }

    /// Deletes trigger `name` of `workspace`. Not retried once an attempt may have
    /// reached a server.
    pub async fn delete_trigger(
        &self,
        workspace: impl Into<String>,
        name: impl Into<String>,
    ) -> Result<DeleteTriggerResponse, Error> {
        let request = DeleteTriggerRequest {
            workspace: workspace.into(),
            name: name.into(),
        };
        self.unary_once(request, |channel, request| async move {
            TriggerServiceClient::new(channel)
                .delete_trigger(request)
                .await
        })
        .await
    }
}
