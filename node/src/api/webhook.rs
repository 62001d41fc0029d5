//! `warden.v1.WebhookService`: a workspace's webhooks and the record of their deliveries.
//! The signing secret is sealed here, on the node that takes the request, and the URL
//! checked against this node's egress rules before anything is stored.

use tonic::{Request, Response, Status};
use warden_core::{
    Action, Code, Command, Delivery, DeliveryId, DeliveryState, Outcome, Rejection, Webhook,
    WebhookEvent, WebhookName, WorkspaceId, webhook_secret_context,
};
use warden_egress::Policy;
use warden_proto::v1;
use warden_proto::v1::webhook_service_server::WebhookService;

use super::{Payload, Refused, propose, read_workspace, unexpected};
use crate::auth::Caller;
use crate::cluster::Cluster;
use crate::convert;
use crate::error::Error;
use crate::secrets::Vault;
use warden_secrets::SecretString;

/// The fewest and most bytes of a signing secret.
const SECRET_BYTES: std::ops::RangeInclusive<usize> = 16..=256;
/// Deliveries per page by default, and at most.
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 500;

pub struct Webhooks {
    cluster: Cluster,
    vault: Vault,
    egress: Policy,
}

impl Webhooks {
    pub fn new(cluster: Cluster, vault: Vault, egress: Policy) -> Webhooks {
        Webhooks {
            cluster,
            vault,
            egress,
        }
    }

    /// Seals `secret` into a parsed `PutWebhook`, with the workspace's new key when it had
    /// none. The plaintext goes no further than this.
    async fn seal(
        &self,
        mut command: Command,
        secret: &SecretString,
        refuse: &impl Fn(Code, String) -> Refused,
    ) -> Result<Result<Command, Refused>, Error> {
        let Command::PutWebhook {
            workspace,
            name,
            secret: sealed,
            workspace_key,
            ..
        } = &mut command
        else {
            unreachable!("seal is called for PutWebhook only")
        };
        let refused = |rejection: Rejection| refuse(rejection.code, rejection.message);
        let sealer = match self.vault.sealer(&self.cluster, workspace).await? {
            Ok(sealer) => sealer,
            Err(rejection) => return Ok(Err(refused(rejection))),
        };
        match sealer.seal(secret, &webhook_secret_context(workspace, name)) {
            Ok(done) => *sealed = done,
            Err(rejection) => return Ok(Err(refused(rejection))),
        }
        *workspace_key = sealer.offered();
        Ok(Ok(command))
    }
}

/// The command a request asks for, its secret still to be sealed (an empty placeholder).
fn parse_put(
    request: &v1::PutWebhookRequest,
    secret_len: usize,
    egress: &Policy,
    refuse: &impl Fn(Code, String) -> Refused,
) -> Result<Command, Refused> {
    let webhook = request.webhook.clone().unwrap_or_default();
    let invalid = |message: String| refuse(Code::InvalidArgument, message);
    let workspace = WorkspaceId::parse(&webhook.workspace)
        .map_err(|error| invalid(format!("workspace: {error}")))?;
    let name = WebhookName::parse(&webhook.name).map_err(|error| invalid(error.to_string()))?;
    let events = webhook
        .events
        .iter()
        .map(|event| {
            WebhookEvent::parse(event).map_err(|error| invalid(format!("events: {error}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !SECRET_BYTES.contains(&secret_len) {
        return Err(invalid(format!(
            "secret must be {} to {} bytes, not {secret_len}",
            SECRET_BYTES.start(),
            SECRET_BYTES.end()
        )));
    }
    if let Some(rejection) = super::boundary::url_refusal(egress, "url", &webhook.url) {
        return Err(refuse(rejection.code, rejection.message));
    }
    Ok(Command::PutWebhook {
        workspace,
        name,
        url: webhook.url,
        events,
        secret: warden_secrets::SealedSecret {
            nonce: Vec::new(),
            ciphertext: Vec::new(),
        },
        workspace_key: None,
    })
}

fn parse_delete(request: &v1::DeleteWebhookRequest) -> Result<Command, Refused> {
    let refuse = |message: String| Refused {
        action: Action::WebhookDelete,
        resource: format!(
            "workspace/{}/webhook/{}",
            convert::sanitized(&request.workspace),
            convert::sanitized(&request.name)
        ),
        payload: Payload::of(request),
        rejection: Rejection::new(Code::InvalidArgument, message),
    };
    let workspace = WorkspaceId::parse(&request.workspace)
        .map_err(|error| refuse(format!("workspace: {error}")))?;
    let name = WebhookName::parse(&request.name).map_err(|error| refuse(error.to_string()))?;
    Ok(Command::DeleteWebhook { workspace, name })
}

#[tonic::async_trait]
impl WebhookService for Webhooks {
    async fn put_webhook(
        &self,
        request: Request<v1::PutWebhookRequest>,
    ) -> Result<Response<v1::PutWebhookResponse>, Status> {
        let caller = Caller::of(&request)?;
        let mut request = request.into_inner();
        // The secret is taken out first: it is sealed, and nothing else sees it (a refusal
        // records the hash of the request without it).
        let secret = SecretString::new(std::mem::take(&mut request.secret));
        let webhook = request.webhook.clone().unwrap_or_default();
        let refuse = |code: Code, message: String| Refused {
            action: Action::WebhookPut,
            resource: format!(
                "workspace/{}/webhook/{}",
                convert::sanitized(&webhook.workspace),
                convert::sanitized(&webhook.name)
            ),
            payload: Payload::of(&request),
            rejection: Rejection::new(code, message),
        };
        let parsed = parse_put(&request, secret.expose().len(), &self.egress, &refuse);
        let parsed = match parsed {
            Ok(command) => self.seal(command, &secret, &refuse).await?,
            refused => refused,
        };
        drop(secret);
        match propose(&self.cluster, &caller, parsed).await? {
            Outcome::WebhookPut(webhook) => Ok(Response::new(v1::PutWebhookResponse {
                webhook: Some(to_proto(&webhook)),
            })),
            other => Err(unexpected(&other).into()),
        }
    }

    async fn list_webhooks(
        &self,
        request: Request<v1::ListWebhooksRequest>,
    ) -> Result<Response<v1::ListWebhooksResponse>, Status> {
        let (reader, workspace) = read_workspace(&self.cluster, &request).await?;
        let webhooks = reader.webhooks(&workspace).map_err(Error::from)?;
        Ok(Response::new(v1::ListWebhooksResponse {
            webhooks: webhooks.iter().map(to_proto).collect(),
        }))
    }

    async fn delete_webhook(
        &self,
        request: Request<v1::DeleteWebhookRequest>,
    ) -> Result<Response<v1::DeleteWebhookResponse>, Status> {
        let caller = Caller::of(&request)?;
        match propose(&self.cluster, &caller, parse_delete(request.get_ref())).await? {
            Outcome::WebhookDeleted(webhook) => Ok(Response::new(v1::DeleteWebhookResponse {
                webhook: Some(to_proto(&webhook)),
            })),
            other => Err(unexpected(&other).into()),
        }
    }

    async fn list_deliveries(
        &self,
        request: Request<v1::ListDeliveriesRequest>,
    ) -> Result<Response<v1::ListDeliveriesResponse>, Status> {
        let before = match request.get_ref().before.as_str() {
            "" => None,
            text => Some(
                DeliveryId::parse(text).map_err(|reason| Error::InvalidArgument {
                    field: "before",
                    message: reason,
                })?,
            ),
        };
        let limit = match request.get_ref().limit {
            0 => DEFAULT_PAGE,
            n => usize::try_from(n).unwrap_or(MAX_PAGE).min(MAX_PAGE),
        };
        let (reader, workspace) = read_workspace(&self.cluster, &request).await?;
        // One more than the page tells whether another page follows.
        let mut deliveries = reader
            .deliveries_before(&workspace, before.as_ref(), limit + 1)
            .map_err(Error::from)?;
        let more = deliveries.len() > limit;
        deliveries.truncate(limit);
        let next_before = match (more, deliveries.last()) {
            (true, Some(last)) => last.id.to_string(),
            _ => String::new(),
        };
        Ok(Response::new(v1::ListDeliveriesResponse {
            deliveries: deliveries.iter().map(delivery_to_proto).collect(),
            next_before,
        }))
    }
}

pub fn to_proto(webhook: &Webhook) -> v1::Webhook {
    v1::Webhook {
        workspace: webhook.workspace.to_string(),
        name: webhook.name.to_string(),
        url: webhook.url.clone(),
        events: webhook
            .events
            .iter()
            .map(|event| event.as_str().to_owned())
            .collect(),
        version: webhook.version,
        updated_at_ms: webhook.updated_ms,
        updated_by: webhook.updated_by.to_string(),
    }
}

pub fn delivery_to_proto(delivery: &Delivery) -> v1::Delivery {
    let (next_attempt_at_ms, status) = match delivery.state {
        DeliveryState::Pending { next_attempt_ms } => (next_attempt_ms, 0),
        DeliveryState::Delivered { status } => (0, u32::from(status)),
        DeliveryState::Failed => (0, 0),
    };
    v1::Delivery {
        id: delivery.id.to_string(),
        webhook: delivery.webhook.to_string(),
        event: delivery.notice.event.as_str().to_owned(),
        task_id: delivery.notice.task.to_string(),
        call_id: delivery.notice.call_id.clone().unwrap_or_default(),
        state: delivery.state.as_str().to_owned(),
        attempts: delivery.attempts,
        created_at_ms: delivery.created_ms,
        last_attempt_at_ms: delivery.last_attempt_ms.unwrap_or_default(),
        last_error: delivery.last_error.clone().unwrap_or_default(),
        next_attempt_at_ms,
        status,
    }
}
