//! The webhook RPCs of `Client`: a workspace's webhooks and the record of their
//! deliveries.

use warden_proto::v1::webhook_service_client::WebhookServiceClient;
use warden_proto::v1::{
    DeleteWebhookRequest, DeleteWebhookResponse, ListDeliveriesRequest, ListDeliveriesResponse,
    ListWebhooksRequest, ListWebhooksResponse, PutWebhookRequest, PutWebhookResponse, Webhook,
};

use crate::{Client, Consistency, Error};

impl Client {
    /// Creates or replaces webhook `webhook.name` of `webhook.workspace`, signing its
    /// deliveries with `secret` (16 to 256 bytes), which is sealed and never returned.
    /// `version`, `updated_at_ms` and `updated_by` are ignored.
    ///
    /// Retried like a read: putting the same webhook again leaves the same webhook.
    pub async fn put_webhook(
        &self,
        webhook: Webhook,
        secret: impl Into<String>,
    ) -> Result<PutWebhookResponse, Error> {
        let request = PutWebhookRequest {
            webhook: Some(webhook),
            secret: secret.into(),
        };
        self.unary(request, |channel, request| async move {
            WebhookServiceClient::new(channel)
                .put_webhook(request)
                .await
        })
        .await
    }

    /// The webhooks of `workspace`, in name order.
    pub async fn list_webhooks(
        &self,
        workspace: impl Into<String>,
        consistency: Consistency,
    ) -> Result<ListWebhooksResponse, Error> {
        let request = ListWebhooksRequest {
            workspace: workspace.into(),
            consistency: consistency.to_proto(),
        };
        self.unary(request, |channel, request| async move {
            WebhookServiceClient::new(channel)
                .list_webhooks(request)
                .await
        })
        .await
    }

    /// Deletes webhook `name` of `workspace`; its pending deliveries fail when next due.
    /// Not retried once an attempt may have reached a server (see `delete_workspace`).
    pub async fn delete_webhook(
        &self,
        workspace: impl Into<String>,
        name: impl Into<String>,
    ) -> Result<DeleteWebhookResponse, Error> {
        let request = DeleteWebhookRequest {
            workspace: workspace.into(),
            name: name.into(),
        };
        self.unary_once(request, |channel, request| async move {
            WebhookServiceClient::new(channel)
                .delete_webhook(request)
                .await
        })
        .await
    }

    /// Up to `limit` deliveries of `workspace` older than delivery `before` (from the
    /// newest when empty), newest first; `next_before` pages on.
    pub async fn list_deliveries(
        &self,
        workspace: impl Into<String>,
        before: impl Into<String>,
        limit: u32,
        consistency: Consistency,
    ) -> Result<ListDeliveriesResponse, Error> {
        let request = ListDeliveriesRequest {
            workspace: workspace.into(),
            before: before.into(),
            limit,
            consistency: consistency.to_proto(),
        };
        self.unary(request, |channel, request| async move {
            WebhookServiceClient::new(channel)
                .list_deliveries(request)
                .await
        })
        .await
    }
}
