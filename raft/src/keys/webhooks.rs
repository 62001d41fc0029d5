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
pub fn deliveries_before(
    workspace: &WorkspaceId,
    before: Option<&DeliveryId>,
) -> (Vec<u8>, Vec<u8>) {
    let prefix = deliveries_prefix(workspace);
    let end = match before {
        Some(id) => delivery(workspace, id),
        None => prefix_end(prefix.clone()),
    };
    (prefix, end)
}

/// The key of a pending delivery in the index the sender scans: ordered by the time of
/// its next attempt, so the due ones come first whichever workspace they are in.
pub fn pending_delivery(next_attempt_ms: u64, workspace: &WorkspaceId, id: &DeliveryId) -> Vec<u8> {
    let mut key = tagged(TAG_PENDING_DELIVERY, &next_attempt_ms.to_be_bytes());
    key.extend_from_slice(workspace.as_str().as_bytes());
    key.push(SEPARATOR);
    with_id(key, id)
}

/// The `[start, end)` range of the whole pending-delivery index, earliest attempt first.
pub fn pending_deliveries() -> (Vec<u8>, Vec<u8>) {
    (vec![TAG_PENDING_DELIVERY], vec![TAG_PENDING_DELIVERY + 1])
}

/// The time, workspace and delivery a pending-delivery key names.
pub fn pending_delivery_ids(key: &[u8]) -> Option<(u64, WorkspaceId, DeliveryId)> {
    let rest = key.strip_prefix(&[TAG_PENDING_DELIVERY])?;
    let (time, rest) = rest.split_at_checked(8)?;
    let split = rest.len().checked_sub(13)?;
    let (name, id) = rest.split_at(split);
    let id = id.strip_prefix(&[SEPARATOR])?;
    let workspace = WorkspaceId::parse(std::str::from_utf8(name).ok()?).ok()?;
    Some((
        u64::from_be_bytes(time.try_into().ok()?),
        workspace,
        DeliveryId {
            log_index: u64::from_be_bytes(id[..8].try_into().ok()?),
            seq: u32::from_be_bytes(id[8..].try_into().ok()?),
        },
    ))
}

/// The ranges of a workspace's webhook records, for deleting the workspace. Its entries
/// of the pending-delivery index, which is ordered by time, are found by a scan.
pub(super) fn webhook_contents(workspace: &WorkspaceId) -> [(Vec<u8>, Vec<u8>); 2] {
    let under = |prefix: Vec<u8>| (prefix.clone(), prefix_end(prefix));
    [webhooks(workspace), under(deliveries_prefix(workspace))]
}

fn deliveries_prefix(workspace: &WorkspaceId) -> Vec<u8> {
    let mut key = tagged(TAG_DELIVERY, workspace.as_str().as_bytes());
    key.push(SEPARATOR);
    key
}

fn with_id(mut key: Vec<u8>, id: &DeliveryId) -> Vec<u8> {
    key.extend_from_slice(&id.log_index.to_be_bytes());
    key.extend_from_slice(&id.seq.to_be_bytes());
    key
}
