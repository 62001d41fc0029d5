//! Keys of webhooks, their deliveries and the pending-delivery index (see the table in
//! the parent module).

use warden_core::{DeliveryId, WebhookName, WorkspaceId};

use super::{
    SEPARATOR, TAG_DELIVERY, TAG_PENDING_DELIVERY, TAG_WEBHOOK, named, named_range, prefix_end,
    tagged,
};

pub fn webhook(workspace: &WorkspaceId, name: &WebhookName) -> Vec<u8> {
    named(TAG_WEBHOOK, workspace, name.as_str())
}

/// The `[start, end)` range of a workspace's webhooks, in name order.
pub fn webhooks(workspace: &WorkspaceId) -> (Vec<u8>, Vec<u8>) {
    named_range(TAG_WEBHOOK, workspace)
}

pub fn delivery(workspace: &WorkspaceId, id: &DeliveryId) -> Vec<u8> {
    with_id(deliveries_prefix(workspace), id)
}

/// The `[start, end)` range of a workspace's deliveries before `before` (all of them
/// when `None`), in id order (which is event order).
pub fn deliveries_before(workspace: &WorkspaceId, before: Option<&DeliveryId>) -> (Vec<u8>, Vec<u8>) {
    let prefix = deliveries_prefix(workspace);
    let end = match before {
        Some(id) => delivery(workspace, id),
        None => prefix_end(prefix.clone()),
    };
    (prefix, end)
}

/// The key of a pending delivery in the index the sender scans.
pub fn pending_delivery(workspace: &WorkspaceId, id: &DeliveryId) -> Vec<u8> {
    with_id(pending_prefix(workspace), id)
}

/// The `[start, end)` range of the whole pending-delivery index, across workspaces.
pub fn pending_deliveries() -> (Vec<u8>, Vec<u8>) {
    (vec![TAG_PENDING_DELIVERY], vec![TAG_PENDING_DELIVERY + 1])
}

/// The workspace and delivery a pending-delivery key names.
pub fn pending_delivery_ids(key: &[u8]) -> Option<(WorkspaceId, DeliveryId)> {
    let rest = key.strip_prefix(&[TAG_PENDING_DELIVERY])?;
    let split = rest.len().checked_sub(13)?;
    let (name, id) = rest.split_at(split);
    let id = id.strip_prefix(&[SEPARATOR])?;
    let workspace = WorkspaceId::parse(std::str::from_utf8(name).ok()?).ok()?;
    Some((
        workspace,
        DeliveryId {
            log_index: u64::from_be_bytes(id[..8].try_into().ok()?),
            seq: u32::from_be_bytes(id[8..].try_into().ok()?),
        },
    ))
}

/// The ranges of a workspace's webhook records, for deleting the workspace.
pub(super) fn webhook_contents(workspace: &WorkspaceId) -> [(Vec<u8>, Vec<u8>); 3] {
    let under = |prefix: Vec<u8>| (prefix.clone(), prefix_end(prefix));
    [
        webhooks(workspace),
        under(deliveries_prefix(workspace)),
        under(pending_prefix(workspace)),
    ]
}

fn deliveries_prefix(workspace: &WorkspaceId) -> Vec<u8> {
    let mut key = tagged(TAG_DELIVERY, workspace.as_str().as_bytes());
    key.push(SEPARATOR);
    key
}

fn pending_prefix(workspace: &WorkspaceId) -> Vec<u8> {
    let mut key = tagged(TAG_PENDING_DELIVERY, workspace.as_str().as_bytes());
    key.push(SEPARATOR);
    key
}

fn with_id(mut key: Vec<u8>, id: &DeliveryId) -> Vec<u8> {
    key.extend_from_slice(&id.log_index.to_be_bytes());
    key.extend_from_slice(&id.seq.to_be_bytes());
    key
}
