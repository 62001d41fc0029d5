//! Webhooks and their deliveries, for the API and the leader's sender, schedules, for
//! the API and the leader's scheduler, and webhook triggers: a workspace's triggers.

use rocksdb::{IteratorMode, ReadOptions};
use warden_core::{Delivery, DeliveryId, Webhook, WebhookName, WorkspaceId};

use super::StateReader;
use crate::codec;
use crate::error::Error;
use crate::keys;

/// A delivery due to be sent, as the pending-delivery index names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDelivery {
    pub workspace: WorkspaceId,
    pub id: DeliveryId,
    pub next_attempt_ms: u64,
}

impl StateReader {
    pub fn webhook(
        &self,
        workspace: &WorkspaceId,
        name: &WebhookName,
    ) -> Result<Option<Webhook>, Error> {
        self.storage
            .get(keys::SM_CF, &keys::webhook(workspace, name), || {
                format!("webhook {workspace}/{name}")
            })
    }

    /// The workspace's webhooks, in name order.
    pub fn webhooks(&self, workspace: &WorkspaceId) -> Result<Vec<Webhook>, Error> {
        self.all_in(keys::webhooks(workspace), "webhook")
    }

    pub fn schedule(
        &self,
        workspace: &WorkspaceId,
        name: &warden_core::ScheduleName,
    ) -> Result<Option<warden_core::Schedule>, Error> {
        self.storage
            .get(keys::SM_CF, &keys::schedule(workspace, name), || {
                format!("schedule {workspace}/{name}")
            })
    }

    /// A workspace's schedules, in name order.
    pub fn schedules(&self, workspace: &WorkspaceId) -> Result<Vec<warden_core::Schedule>, Error> {
        self.all_in(keys::schedules(workspace), "schedule")
    }

    pub fn trigger(
        &self,
        workspace: &WorkspaceId,
        name: &warden_core::TriggerName,
    ) -> Result<Option<warden_core::Trigger>, Error> {
        self.storage
            .get(keys::SM_CF, &keys::trigger(workspace, name), || {
                format!("trigger {workspace}/{name}")
            })
    }

    /// A workspace's webhook triggers, in name order.
    pub fn triggers(&self, workspace: &WorkspaceId) -> Result<Vec<warden_core::Trigger>, Error> {
        self.all_in(keys::triggers(workspace), "trigger")
    }

    /// Every workspace's schedules, for the leader's scheduler.
    pub fn all_schedules(&self) -> Result<Vec<warden_core::Schedule>, Error> {
        self.all_in(keys::all_schedules(), "schedule")
    }

    pub fn delivery(
        &self,
        workspace: &WorkspaceId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, Error> {
        self.storage
            .get(keys::SM_CF, &keys::delivery(workspace, id), || {
                format!("delivery {workspace}/{id}")
            })
    }

    /// Up to `limit` deliveries of `workspace` before `before` (from the newest when
    /// `None`), newest first.
    pub fn deliveries_before(
        &self,
        workspace: &WorkspaceId,
        before: Option<&DeliveryId>,
        limit: usize,
    ) -> Result<Vec<Delivery>, Error> {
        let snapshot = self.storage.db().snapshot();
        let (start, end) = keys::deliveries_before(workspace, before);
        let cf = self.storage.cf(keys::SM_CF)?;
        let mut options = ReadOptions::default();
        options.set_iterate_lower_bound(start);
        options.set_iterate_upper_bound(end);
        let mut deliveries = Vec::new();
        for item in snapshot
            .iterator_cf_opt(cf, options, IteratorMode::End)
            .take(limit)
        {
            let (key, value) = item.map_err(|source| Error::Read {
                what: "deliveries".into(),
                source,
            })?;
            deliveries.push(codec::decode(|| format!("delivery key {key:?}"), &value)?);
        }
        Ok(deliveries)
    }

    /// Up to `limit` deliveries whose next attempt is due at `now_ms`, earliest first,
    /// across workspaces.
    pub fn due_deliveries(&self, now_ms: u64, limit: usize) -> Result<Vec<PendingDelivery>, Error> {
        let snapshot = self.storage.db().snapshot();
        let (start, end) = keys::pending_deliveries();
        let mut due = Vec::new();
        self.scan(&snapshot, start, end, |key, _| {
            let (next_attempt_ms, workspace, id) =
                keys::pending_delivery_ids(key).ok_or_else(|| Error::Corrupt {
                    what: format!("pending delivery key {key:?}"),
                    reason: "malformed".into(),
                })?;
            if next_attempt_ms > now_ms || due.len() >= limit {
                return Ok(false);
            }
            due.push(PendingDelivery {
                workspace,
                id,
                next_attempt_ms,
            });
            Ok(true)
        })?;
        Ok(due)
    }
}
