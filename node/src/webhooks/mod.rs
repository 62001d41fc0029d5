//! The leader's webhook sender. `apply()` writes a pending delivery with every event a
//! webhook subscribed to; while this node leads, it sends the due ones (a bounded number
//! at a time, each within `webhooks.timeout`) and proposes each attempt's result
//! (`RecordDeliveryAttempt`): delivered, retry at a later time with backoff, or given up
//! once `webhooks.retry_for` has passed since the event. A new leader finds in the state
//! exactly the deliveries no attempt finished, so only a leader that dies between sending
//! and recording makes a receiver see a delivery twice (same `X-Warden-Delivery` id).

pub mod body;
mod flights;
mod send;
#[cfg(test)]
mod tests;

use std::time::Duration;

use openraft::ServerState;
use tokio::task::JoinSet;
use warden_core::{
    AttemptResult, Command, Delivery, DeliveryId, DeliveryState, NodeId, Outcome, Principal,
    Request, WebhookName, WorkspaceId, webhook_secret_context,
};
use warden_egress::Policy;

use self::body::Links;
use self::flights::{Flights, MAX_IN_FLIGHT};
use self::send::{Failure, Prepared, client, send};
use crate::api::now_ms;
use crate::cluster::{Cluster, Consistency};
use crate::config::Webhooks as Options;
use crate::secrets::Vault;

/// How often the pending deliveries are looked at.
const TICK: Duration = Duration::from_millis(200);
/// Due deliveries read per tick at most.
const SCAN_LIMIT: usize = 16_384;

/// What the sender needs.
pub struct Sender {
    pub cluster: Cluster,
    pub options: Options,
    pub egress: Policy,
    pub vault: Vault,
    pub links: Links,
}

/// One finished attempt, to be recorded.
pub(super) struct Attempted {
    pub(super) workspace: WorkspaceId,
    pub(super) webhook: WebhookName,
    pub(super) id: DeliveryId,
    pub(super) attempt: u32,
    pub(super) result: AttemptResult,
}

pub async fn run(sender: Sender) -> anyhow::Result<()> {
    let http = client(&sender.egress, sender.options.timeout)?;
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut flights = Flights::default();
    let mut attempts: JoinSet<Attempted> = JoinSet::new();
    // The term in which this node, leading, has applied everything committed before it.
    let mut caught_up: Option<u64> = None;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                let Some(term) = leading(&sender.cluster) else {
                    caught_up = None;
                    continue;
                };
                // A new leader first applies what its predecessor committed (recorded
                // attempts among it), so it does not send those deliveries again.
                if caught_up != Some(term) {
                    match sender.cluster.read_barrier(Consistency::Linearizable).await {
                        Ok(()) => caught_up = Some(term),
                        Err(error) => {
                            tracing::debug!(%error, "webhook sender waiting to catch up");
                            continue;
                        }
                    }
                }
                if let Err(error) = start_due(&sender, &http, &mut flights, &mut attempts) {
                    tracing::warn!(%error, "reading due webhook deliveries");
                }
            }
            Some(done) = attempts.join_next() => {
                let Ok(attempted) = done else {
                    continue;
                };
                if !record(&sender.cluster, &attempted).await {
                    // Not recorded (no quorum, say): wait as after a failure before sending
                    // it again.
                    let again = now_ms().saturating_add(millis(sender.options.retry_delay));
                    flights
                        .not_before
                        .insert((attempted.workspace.clone(), attempted.id), again);
                }
                flights.end(&attempted);
            }
        }
    }
}

/// The current term while this node leads.
fn leading(cluster: &Cluster) -> Option<u64> {
    let metrics = cluster.raft().metrics();
    let metrics = metrics.borrow();
    (metrics.state == ServerState::Leader).then_some(metrics.current_term)
}

/// Starts an attempt for every due delivery the bounds admit.
fn start_due(
    sender: &Sender,
    http: &reqwest::Client,
    flights: &mut Flights,
    attempts: &mut JoinSet<Attempted>,
) -> Result<(), crate::Error> {
    let now = now_ms();
    let reader = sender.cluster.reader();
    let due = reader.due_deliveries(now, SCAN_LIMIT)?;
    metrics::gauge!("warden_webhook_deliveries_due").set(due.len() as f64);
    for due in due {
        if flights.deliveries.len() >= MAX_IN_FLIGHT {
            break;
        }
        let Some(delivery) = reader.delivery(&due.workspace, &due.id)? else {
            continue;
        };
        if !flights.admits(&delivery, now) {
            continue;
        }
        let prepared = prepare(sender, &delivery, now);
        flights.start(&delivery);
        let http = http.clone();
        let options = sender.options.clone();
        attempts.spawn(async move {
            let outcome = match prepared {
                Ok(request) => send(&http, request).await,
                Err(verdict) => Err(verdict),
            };
            Attempted {
                workspace: delivery.workspace.clone(),
                webhook: delivery.webhook.clone(),
                id: delivery.id,
                attempt: delivery.attempts.saturating_add(1),
                result: result_of(outcome, &delivery, &options, now_ms()),
            }
        });
    }
    Ok(())
}

/// Everything about a delivery that comes from the state and the vault.
fn prepare(sender: &Sender, delivery: &Delivery, now: u64) -> Result<Prepared, Failure> {
    // Too old to be news (a delivery restored from a backup, say): not sent at all.
    let retry_for = sender.options.retry_for;
    if now > delivery.created_ms.saturating_add(millis(retry_for)) {
        return Err(Failure::GiveUp(format!(
            "older than webhooks.retry_for ({}) before it could be sent",
            humantime::format_duration(retry_for)
        )));
    }
    let reader = sender.cluster.reader();
    let storage = |error: warden_raft::Error| Failure::Retry(format!("reading the state: {error}"));
    let webhook = reader
        .webhook(&delivery.workspace, &delivery.webhook)
        .map_err(storage)?
        .ok_or_else(|| Failure::GiveUp(format!("webhook {} was deleted", delivery.webhook)))?;
    if webhook.created_index != delivery.webhook_created {
        return Err(Failure::GiveUp(format!(
            "webhook {} was deleted and created again: this delivery was for the one before",
            delivery.webhook
        )));
    }
    let workspace = reader
        .workspace(&delivery.workspace)
        .map_err(storage)?
        .ok_or_else(|| Failure::GiveUp(format!("workspace {} was deleted", delivery.workspace)))?;
    // A node that cannot open the secret (no master key) may be followed by one that can.
    let secret = sender
        .vault
        .open(
            &workspace,
            &webhook_secret_context(&delivery.workspace, &webhook.name),
            &webhook.secret,
        )
        .map_err(|error| Failure::Retry(format!("opening the signing secret: {error}")))?;
    let url = warden_egress::Url::parse(&webhook.url)
        .map_err(|error| Failure::GiveUp(format!("url is not a url: {error}")))?;
    sender
        .egress
        .check_url(&url)
        .map_err(|refusal| Failure::GiveUp(format!("url: {refusal}")))?;
    let body = body::body(delivery, &sender.links);
    let signature = body::signature(secret.expose().as_bytes(), now_ms(), &body);
    Ok(Prepared {
        url: webhook.url,
        body,
        signature,
        id: delivery.id.to_string(),
        event: delivery.notice.event.as_str(),
    })
}

/// The attempt's result: delivered, another attempt after the backoff, or given up when
/// that attempt would come after `retry_for` since the event.
fn result_of(
    outcome: Result<u16, Failure>,
    delivery: &Delivery,
    options: &Options,
    now: u64,
) -> AttemptResult {
    let error = match outcome {
        Ok(status) => {
            metrics::counter!("warden_webhook_attempts_total", "result" => "delivered")
                .increment(1);
            return AttemptResult::Delivered { status };
        }
        Err(Failure::GiveUp(error)) => {
            metrics::counter!("warden_webhook_attempts_total", "result" => "gave_up").increment(1);
            let error = warden_core::cut_text(&error, warden_core::webhook::MAX_DELIVERY_ERROR);
            return AttemptResult::GaveUp { error };
        }
        Err(Failure::Retry(error)) => error,
    };
    let error = warden_core::cut_text(&error, warden_core::webhook::MAX_DELIVERY_ERROR);
    let delay = backoff(options, delivery.attempts);
    let next = now.saturating_add(millis(delay));
    let deadline = delivery
        .created_ms
        .saturating_add(millis(options.retry_for));
    if next > deadline {
        metrics::counter!("warden_webhook_attempts_total", "result" => "gave_up").increment(1);
        return AttemptResult::GaveUp {
            error: format!(
                "{error} (gave up after {} attempts in {})",
                delivery.attempts.saturating_add(1),
                humantime::format_duration(options.retry_for)
            ),
        };
    }
    metrics::counter!("warden_webhook_attempts_total", "result" => "retry").increment(1);
    AttemptResult::Retry {
        error,
        next_attempt_ms: next,
    }
}

/// The wait after `failed` earlier failed attempts and this one: `retry_delay` doubled
/// per earlier failure, at most `max_retry_delay`.
fn backoff(options: &Options, failed: u32) -> Duration {
    let factor = 2u32.saturating_pow(failed.min(20));
    options
        .retry_delay
        .saturating_mul(factor)
        .min(options.max_retry_delay)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Proposes the attempt's result; whether it was recorded (or found recorded already).
async fn record(cluster: &Cluster, attempted: &Attempted) -> bool {
    let request = Request {
        time_ms: now_ms(),
        principal: Principal::node(NodeId(cluster.node_id())),
        token: None,
        command: Command::RecordDeliveryAttempt {
            workspace: attempted.workspace.clone(),
            delivery: attempted.id,
            attempt: attempted.attempt,
            result: attempted.result.clone(),
        },
    };
    match cluster.propose(request).await {
        Ok(Outcome::DeliveryRecorded(delivery)) => {
            if let DeliveryState::Failed = delivery.state {
                tracing::warn!(
                    workspace = %delivery.workspace,
                    delivery = %delivery.id,
                    webhook = %delivery.webhook,
                    error = delivery.last_error.as_deref().unwrap_or_default(),
                    "webhook delivery given up"
                );
            }
            true
        }
        // Another leader recorded this attempt first; the state has moved on.
        Ok(other) => {
            tracing::debug!(?other, "webhook attempt not recorded");
            true
        }
        Err(error) => {
            tracing::warn!(%error, "recording a webhook attempt");
            false
        }
    }
}
