//! The leader's webhook sender. `apply()` writes a pending delivery with every event a
//! webhook subscribed to; while this node leads, it sends the due ones (a bounded number
//! at a time, each within `webhooks.timeout`) and proposes each attempt's result
//! (`RecordDeliveryAttempt`): delivered, retry at a later time with backoff, or given up
//! once `webhooks.retry_for` has passed since the event. A new leader finds in the state
//! exactly the deliveries no attempt finished, so only a leader that dies between sending
//! and recording makes a receiver see a delivery twice (same `X-Warden-Delivery` id).

pub mod body;

use std::collections::HashSet;
use std::time::Duration;

use openraft::ServerState;
use tokio::task::JoinSet;
use warden_core::{
    AttemptResult, Command, Delivery, DeliveryId, DeliveryState, NodeId, Outcome, Principal,
    Request, WorkspaceId, webhook_secret_context,
};
use warden_egress::{Policy, Resolver};

use self::body::Links;
use crate::api::now_ms;
use crate::cluster::Cluster;
use crate::config::Webhooks as Options;
use crate::secrets::Vault;

/// How often the pending deliveries are looked at.
const TICK: Duration = Duration::from_millis(200);
/// Attempts in flight at most.
const MAX_IN_FLIGHT: usize = 16;
/// Pending deliveries read per tick at most.
const SCAN_LIMIT: usize = 4096;

/// What the sender needs.
pub struct Sender {
    pub cluster: Cluster,
    pub options: Options,
    pub egress: Policy,
    pub vault: Vault,
    pub links: Links,
}

/// One finished attempt, to be recorded.
struct Attempted {
    workspace: WorkspaceId,
    id: DeliveryId,
    attempt: u32,
    result: AttemptResult,
}

pub async fn run(sender: Sender) -> anyhow::Result<()> {
    let http = client(&sender.egress, sender.options.timeout)?;
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut in_flight: HashSet<(WorkspaceId, DeliveryId)> = HashSet::new();
    let mut attempts: JoinSet<Attempted> = JoinSet::new();
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                if !leading(&sender.cluster) {
                    continue;
                }
                if let Err(error) = start_due(&sender, &http, &mut in_flight, &mut attempts) {
                    tracing::warn!(%error, "reading pending webhook deliveries");
                }
            }
            Some(done) = attempts.join_next() => {
                let Ok(attempted) = done else {
                    continue;
                };
                record(&sender.cluster, &attempted).await;
                in_flight.remove(&(attempted.workspace, attempted.id));
            }
        }
    }
}

fn leading(cluster: &Cluster) -> bool {
    cluster.raft().metrics().borrow().state == ServerState::Leader
}

/// Starts an attempt for every due delivery not already in flight, up to the bound.
fn start_due(
    sender: &Sender,
    http: &reqwest::Client,
    in_flight: &mut HashSet<(WorkspaceId, DeliveryId)>,
    attempts: &mut JoinSet<Attempted>,
) -> Result<(), crate::Error> {
    let now = now_ms();
    let reader = sender.cluster.reader();
    let pending = reader.pending_deliveries(SCAN_LIMIT)?;
    metrics::gauge!("warden_webhook_deliveries_pending").set(pending.len() as f64);
    for due in pending.into_iter().filter(|due| due.next_attempt_ms <= now) {
        if in_flight.len() >= MAX_IN_FLIGHT {
            break;
        }
        let key = (due.workspace.clone(), due.id);
        if in_flight.contains(&key) {
            continue;
        }
        let Some(delivery) = reader.delivery(&due.workspace, &due.id)? else {
            continue;
        };
        let prepared = prepare(sender, &delivery);
        in_flight.insert(key);
        let http = http.clone();
        let options = sender.options.clone();
        attempts.spawn(async move {
            let outcome = match prepared {
                Ok(request) => send(&http, request).await,
                Err(verdict) => Err(verdict),
            };
            Attempted {
                workspace: delivery.workspace.clone(),
                id: delivery.id,
                attempt: delivery.attempts.saturating_add(1),
                result: result_of(outcome, &delivery, &options, now_ms()),
            }
        });
    }
    Ok(())
}

/// A delivery ready to send.
struct Prepared {
    url: String,
    body: Vec<u8>,
    signature: String,
    id: String,
    event: &'static str,
}

/// Why an attempt failed, and whether another may succeed.
enum Failure {
    Retry(String),
    GiveUp(String),
}

/// Everything about a delivery that comes from the state and the vault.
fn prepare(sender: &Sender, delivery: &Delivery) -> Result<Prepared, Failure> {
    let reader = sender.cluster.reader();
    let storage = |error: warden_raft::Error| Failure::Retry(format!("reading the state: {error}"));
    let webhook = reader
        .webhook(&delivery.workspace, &delivery.webhook)
        .map_err(storage)?
        .ok_or_else(|| Failure::GiveUp(format!("webhook {} was deleted", delivery.webhook)))?;
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

/// One POST: the receiver's status when it answered 2xx.
async fn send(http: &reqwest::Client, request: Prepared) -> Result<u16, Failure> {
    let answer = http
        .post(&request.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::USER_AGENT, concat!("warden/", env!("CARGO_PKG_VERSION")))
        .header("X-Warden-Delivery", &request.id)
        .header("X-Warden-Event", request.event)
        .header("X-Warden-Signature", &request.signature)
        .body(request.body)
        .send()
        .await;
    match answer {
        Ok(response) if response.status().is_success() => Ok(response.status().as_u16()),
        Ok(response) => Err(Failure::Retry(format!("HTTP {}", response.status()))),
        // The resolver's refusal (every address of the name is refused) is final.
        Err(error) if is_egress_refusal(&error) => {
            Err(Failure::GiveUp(format!("url: {}", error_chain(&error))))
        }
        Err(error) => Err(Failure::Retry(error_chain(&error))),
    }
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
            metrics::counter!("warden_webhook_attempts_total", "result" => "delivered").increment(1);
            return AttemptResult::Delivered { status };
        }
        Err(Failure::GiveUp(error)) => {
            metrics::counter!("warden_webhook_attempts_total", "result" => "gave_up").increment(1);
            return AttemptResult::GaveUp { error };
        }
        Err(Failure::Retry(error)) => error,
    };
    let delay = backoff(options, delivery.attempts);
    let next = now.saturating_add(millis(delay));
    let deadline = delivery.created_ms.saturating_add(millis(options.retry_for));
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

async fn record(cluster: &Cluster, attempted: &Attempted) {
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
        }
        // Another leader recorded this attempt first; the state has moved on.
        Ok(other) => tracing::debug!(?other, "webhook attempt not recorded"),
        Err(error) => tracing::warn!(%error, "recording a webhook attempt"),
    }
}

/// The client every delivery is sent with: connections only where `egress` allows (a
/// name's addresses checked as it resolves), no proxy, no redirects (a redirect would take
/// the signed body elsewhere).
fn client(egress: &Policy, timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Resolver::new(egress.clone()))
        .no_proxy()
        .build()?)
}

fn is_egress_refusal(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if matches!(
            current.downcast_ref::<warden_egress::Error>(),
            Some(warden_egress::Error::Refused { .. })
        ) {
            return true;
        }
        source = current.source();
    }
    false
}

/// An error with its causes, which is where reqwest says what went wrong.
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_limit() {
        let options = Options {
            retry_delay: Duration::from_secs(1),
            max_retry_delay: Duration::from_secs(10),
            ..Options::default()
        };
        let waits: Vec<u64> = (0..6).map(|n| backoff(&options, n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
        assert_eq!(backoff(&options, u32::MAX).as_secs(), 10);
    }

    fn prepared(url: &str) -> Prepared {
        Prepared {
            url: url.to_owned(),
            body: b"{}".to_vec(),
            signature: "t=1,v1=00".to_owned(),
            id: "1-0".to_owned(),
            event: "task.failed",
        }
    }

    /// A stored URL whose name resolves to an address the sender's egress rules refuse
    /// (DNS can change after the API checked it) is given up, not retried: the sender
    /// resolves through the egress resolver and never connects.
    #[tokio::test]
    async fn a_name_resolving_to_a_refused_address_is_given_up_without_connecting() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let http = client(&Policy::default(), Duration::from_secs(5)).expect("client");
        let outcome = send(&http, prepared(&format!("http://localhost:{port}/hook"))).await;
        match outcome {
            Err(Failure::GiveUp(error)) => assert!(error.contains("url:"), "{error}"),
            Err(Failure::Retry(error)) => panic!("retried: {error}"),
            Ok(status) => panic!("delivered: {status}"),
        }
        listener.set_nonblocking(true).expect("nonblocking");
        assert!(listener.accept().is_err(), "nothing connected");
    }

    /// A receiver that is down is retried, and the error says why.
    #[tokio::test]
    async fn an_unreachable_receiver_is_retried() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("address").port()
        };
        let loopback = Policy::allowing([warden_egress::Allow::Class(warden_egress::Class::Loopback)]);
        let http = client(&loopback, Duration::from_secs(5)).expect("client");
        match send(&http, prepared(&format!("http://127.0.0.1:{port}/hook"))).await {
            Err(Failure::Retry(error)) => assert!(error.contains("connect"), "{error}"),
            Err(Failure::GiveUp(error)) => panic!("given up: {error}"),
            Ok(status) => panic!("delivered: {status}"),
        }
    }
}
