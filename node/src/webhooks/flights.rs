//! The attempts a leader has in flight, bounded in all, per workspace and per webhook, and
//! those it may not start again yet.

use std::collections::{HashMap, HashSet};

use warden_core::{Delivery, DeliveryId, WebhookName, WorkspaceId};

use super::Attempted;

/// Attempts in flight at most: in all, for one workspace, and for one webhook, so one
/// workspace's slow or failing receivers cannot hold every slot.
pub(super) const MAX_IN_FLIGHT: usize = 16;
pub(super) const MAX_IN_FLIGHT_PER_WORKSPACE: usize = 4;
pub(super) const MAX_IN_FLIGHT_PER_WEBHOOK: usize = 2;

#[derive(Default)]
pub(super) struct Flights {
    pub(super) deliveries: HashSet<(WorkspaceId, DeliveryId)>,
    per_workspace: HashMap<WorkspaceId, usize>,
    per_webhook: HashMap<(WorkspaceId, WebhookName), usize>,
    /// Attempts whose result could not be recorded: not sent again before this time.
    pub(super) not_before: HashMap<(WorkspaceId, DeliveryId), u64>,
}

impl Flights {
    /// Whether an attempt of `delivery` may start now.
    pub(super) fn admits(&self, delivery: &Delivery, now: u64) -> bool {
        let key = (delivery.workspace.clone(), delivery.id);
        self.deliveries.len() < MAX_IN_FLIGHT
            && !self.deliveries.contains(&key)
            && self.not_before.get(&key).is_none_or(|at| *at <= now)
            && self
                .per_workspace
                .get(&delivery.workspace)
                .copied()
                .unwrap_or(0)
                < MAX_IN_FLIGHT_PER_WORKSPACE
            && self
                .per_webhook
                .get(&(delivery.workspace.clone(), delivery.webhook.clone()))
                .copied()
                .unwrap_or(0)
                < MAX_IN_FLIGHT_PER_WEBHOOK
    }

    pub(super) fn start(&mut self, delivery: &Delivery) {
        self.not_before
            .remove(&(delivery.workspace.clone(), delivery.id));
        self.deliveries
            .insert((delivery.workspace.clone(), delivery.id));
        *self
            .per_workspace
            .entry(delivery.workspace.clone())
            .or_default() += 1;
        *self
            .per_webhook
            .entry((delivery.workspace.clone(), delivery.webhook.clone()))
            .or_default() += 1;
    }

    pub(super) fn end(&mut self, attempted: &Attempted) {
        self.deliveries
            .remove(&(attempted.workspace.clone(), attempted.id));
        if let Some(count) = self.per_workspace.get_mut(&attempted.workspace) {
            *count = count.saturating_sub(1);
        }
        let webhook = (attempted.workspace.clone(), attempted.webhook.clone());
        if let Some(count) = self.per_webhook.get_mut(&webhook) {
            *count = count.saturating_sub(1);
        }
        self.per_workspace.retain(|_, count| *count > 0);
        self.per_webhook.retain(|_, count| *count > 0);
    }
}
