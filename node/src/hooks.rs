//! Webhook triggers' receiving end: `POST /hooks/<workspace>/<trigger>` on the node's web
//! listener (the console's, with the node's TLS). A request must carry
//! `X-Warden-Signature: t=<unix ms>,v1=<hex>`, the HMAC-SHA256 under the trigger's secret
//! of `<t>.<body>`, signed within [`REPLAY_WINDOW_MS`] of this node's clock. A verified
//! request is proposed as `FireTrigger`, as this node, keyed by its `Idempotency-Key`
//! header (or, without one, its signature), and `apply()` accepts each key once.
//!
//! The request is checked against this node's applied state, without a round trip to the
//! leader: `apply()` refuses a firing checked against a secret the trigger no longer
//! holds, so a lagging node can refuse a request but never accept a stale one. Requests
//! that do not verify, and repeats of one already accepted here, never reach the log (so
//! outsiders cannot write into the audit chain); they are counted
//! (`warden_trigger_requests_total`) and logged. Those that do not verify all get the same
//! answer, after the same work, whether the workspace or the trigger exists or not.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hmac::Mac;
use serde_json::json;
use warden_core::apply::StateRead;
use warden_core::trigger::request_key;
use warden_core::trigger::{MAX_TRIGGER_BODY_BYTES, REPLAY_WINDOW_MS};
use warden_core::{
    Code, Command, NodeId, Outcome, Principal, Request, TaskId, TriggerName, WorkspaceId,
    trigger_secret_context,
};

use crate::api::now_ms;
use crate::cluster::Cluster;
use crate::secrets::Vault;

/// The header a request's signature comes in.
pub const SIGNATURE_HEADER: &str = "x-warden-signature";
/// The header a sender names a request by, so its retries are accepted once.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// Longest `Idempotency-Key` taken, in bytes.
const MAX_KEY_BYTES: usize = 128;
/// What a request for a trigger that does not exist is checked against, so that it takes
/// as long as one with a wrong signature.
const DECOY_SECRET: &[u8] = b"a trigger that does not exist has no secret";
/// The one answer to a request that does not verify, whatever the reason.
const NOT_VERIFIED: &str = "the request's signature does not verify for this trigger";

struct Hooks {
    cluster: Cluster,
    vault: Vault,
}

/// The route, for the web listener.
pub fn router(cluster: Cluster, vault: Vault) -> axum::Router {
    axum::Router::new()
        .route("/hooks/{workspace}/{trigger}", post(receive))
        .layer(DefaultBodyLimit::max(MAX_TRIGGER_BODY_BYTES))
        .with_state(Arc::new(Hooks { cluster, vault }))
}

/// What a request came to, counted by result.
enum Answer {
    Accepted {
        task: TaskId,
    },
    /// The signature is missing, malformed, stale or wrong; the reason is logged only.
    Unauthorized {
        reason: String,
        shown: String,
    },
    Invalid(String),
    Refused(warden_core::Rejection),
    Unavailable(String),
}

async fn receive(
    State(hooks): State<Arc<Hooks>>,
    Path((workspace, trigger)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = hooks.answer(&workspace, &trigger, &headers, &body).await;
    let result = match &answer {
        Answer::Accepted { .. } => "accepted",
        Answer::Unauthorized { .. } => "unauthorized",
        Answer::Invalid(_) => "invalid",
        Answer::Refused(rejection) if rejection.code == Code::AlreadyExists => "duplicate",
        Answer::Refused(_) => "refused",
        Answer::Unavailable(_) => "unavailable",
    };
    metrics::counter!("warden_trigger_requests_total", "result" => result).increment(1);
    let error = |status: StatusCode, message: &str| {
        (status, Json(json!({ "error": message }))).into_response()
    };
    match answer {
        Answer::Accepted { task } => {
            tracing::info!(workspace = ?workspace, trigger = ?trigger, %task, "trigger accepted a request");
            (
                StatusCode::ACCEPTED,
                Json(json!({ "workspace": workspace, "trigger": trigger, "task_id": task.to_string() })),
            )
                .into_response()
        }
        Answer::Unauthorized { reason, shown } => {
            tracing::debug!(workspace = ?workspace, trigger = ?trigger, reason = ?reason, "trigger request not verified");
            error(StatusCode::UNAUTHORIZED, &shown)
        }
        Answer::Invalid(message) => error(StatusCode::BAD_REQUEST, &message),
        Answer::Refused(rejection) => {
            let status = match rejection.code {
                Code::AlreadyExists | Code::FailedPrecondition | Code::Aborted => {
                    StatusCode::CONFLICT
                }
                Code::NotFound => StatusCode::NOT_FOUND,
                Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
                Code::PermissionDenied => StatusCode::FORBIDDEN,
                Code::InvalidArgument => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            error(status, &rejection.message)
        }
        Answer::Unavailable(message) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            Json(json!({ "error": message })),
        )
            .into_response(),
    }
}

impl Hooks {
    async fn answer(
        &self,
        workspace: &str,
        trigger: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Answer {
        let unauthorized = |reason: String| Answer::Unauthorized {
            reason,
            shown: NOT_VERIFIED.to_owned(),
        };
        // What does not depend on the trigger is told as it is: a sender's clock or its
        // header format is its own business to fix.
        let signature = match headers.get(SIGNATURE_HEADER).map(|value| value.to_str()) {
            Some(Ok(text)) => match Signature::parse(text) {
                Ok(signature) => signature,
                Err(problem) => {
                    return Answer::Unauthorized {
                        shown: format!("X-Warden-Signature: {problem}"),
                        reason: problem,
                    };
                }
            },
            _ => {
                let problem = "X-Warden-Signature: missing (t=<unix ms>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">)".to_owned();
                return Answer::Unauthorized {
                    reason: problem.clone(),
                    shown: problem,
                };
            }
        };
        let now = now_ms();
        if now.abs_diff(signature.time_ms) > REPLAY_WINDOW_MS {
            let problem = format!(
                "X-Warden-Signature: signed at {} ms, more than {} s from this node's clock ({now} ms)",
                signature.time_ms,
                REPLAY_WINDOW_MS / 1000
            );
            return Answer::Unauthorized {
                reason: problem.clone(),
                shown: problem,
            };
        }
        let key = match headers.get(IDEMPOTENCY_HEADER).map(|value| value.to_str()) {
            None => None,
            Some(Ok(text)) if !text.is_empty() && text.len() <= MAX_KEY_BYTES => {
                Some(text.to_owned())
            }
            Some(_) => {
                return Answer::Invalid(format!(
                    "Idempotency-Key: 1 to {MAX_KEY_BYTES} bytes of visible ASCII"
                ));
            }
        };
        let (Ok(workspace), Ok(name)) =
            (WorkspaceId::parse(workspace), TriggerName::parse(trigger))
        else {
            signature.verifies(DECOY_SECRET, body);
            return unauthorized("no such workspace or trigger name".to_owned());
        };
        let reader = self.cluster.reader();
        let found = reader
            .trigger(&workspace, &name)
            .and_then(|found| Ok((found, reader.workspace(&workspace)?)));
        let (found, record) = match found {
            Ok((Some(found), Some(record))) => (found, record),
            Ok(_) => {
                signature.verifies(DECOY_SECRET, body);
                return unauthorized(format!("trigger {workspace}/{name} not found"));
            }
            Err(error) => return Answer::Unavailable(format!("reading the trigger: {error}")),
        };
        let secret = match self.vault.open(
            &record,
            &trigger_secret_context(&workspace, &name),
            &found.secret,
        ) {
            Ok(secret) => secret,
            Err(error) => return unauthorized(format!("opening the trigger's secret: {error}")),
        };
        if !signature.verifies(secret.expose().as_bytes(), body) {
            return unauthorized("the HMAC does not match".to_owned());
        }
        drop(secret);
        // A repeat of a request this node has seen accepted goes no further.
        let mac = hex::encode(&signature.mac);
        let names = std::iter::once(request_key(&name, "signature", &mac))
            .chain(key.as_deref().map(|key| request_key(&name, "key", key)));
        for named in names {
            match reader.idempotency(&workspace, &named) {
                Ok(Some(earlier)) => {
                    return Answer::Refused(warden_core::Rejection::new(
                        Code::AlreadyExists,
                        format!(
                            "trigger {name} accepted this request already: task {}",
                            earlier.task_id
                        ),
                    ));
                }
                Ok(None) => {}
                Err(error) => {
                    return Answer::Unavailable(format!("reading the request's record: {error}"));
                }
            }
        }
        let Ok(body) = String::from_utf8(body.to_vec()) else {
            return Answer::Invalid("the body must be UTF-8 text".to_owned());
        };
        let request = Request {
            time_ms: now_ms(),
            principal: Principal::node(NodeId(self.cluster.node_id())),
            token: None,
            command: Command::FireTrigger {
                workspace,
                name,
                secret: found.secret_hash(),
                signature: mac,
                key,
                signed_ms: signature.time_ms,
                body,
                task_id: TaskId::new(now_ms(), rand::random::<u128>()),
            },
        };
        match self.cluster.propose(request).await {
            Ok(Outcome::TriggerFired { task, .. }) => Answer::Accepted { task: task.id },
            Ok(Outcome::Rejected(rejection)) => Answer::Refused(rejection),
            Ok(other) => Answer::Unavailable(format!("unexpected outcome {other:?}")),
            Err(error) => Answer::Unavailable(error.to_string()),
        }
    }
}

/// A parsed `X-Warden-Signature`.
struct Signature {
    time_ms: u64,
    mac: Vec<u8>,
}

impl Signature {
    fn parse(text: &str) -> Result<Signature, String> {
        let mut time_ms = None;
        let mut mac = None;
        for part in text.split(',') {
            match part.trim().split_once('=') {
                Some(("t", value)) => time_ms = value.parse::<u64>().ok(),
                Some(("v1", value)) => mac = hex::decode(value).ok(),
                // Other schemes a later sender may add are skipped.
                _ => {}
            }
        }
        match (time_ms, mac) {
            (Some(time_ms), Some(mac)) if mac.len() == 32 => Ok(Signature { time_ms, mac }),
            _ => Err("must be t=<unix ms>,v1=<64 hex digits>".to_owned()),
        }
    }

    /// Whether the MAC is the HMAC-SHA256 of `<t>.<body>` under `secret`, compared in
    /// constant time.
    fn verifies(&self, secret: &[u8], body: &[u8]) -> bool {
        crate::webhooks::body::signed(secret, self.time_ms, body)
            .verify_slice(&self.mac)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_its_time_body_and_secret() {
        let signed = crate::webhooks::body::signature(b"a secret of sixteen", 1_700, b"{}");
        let signature = Signature::parse(&signed).expect("parses");
        assert!(signature.verifies(b"a secret of sixteen", b"{}"));
        assert!(!signature.verifies(b"another secret...", b"{}"));
        assert!(!signature.verifies(b"a secret of sixteen", b"{ }"));
        let moved = Signature {
            time_ms: 1_701,
            mac: signature.mac.clone(),
        };
        assert!(!moved.verifies(b"a secret of sixteen", b"{}"));
        for malformed in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz", "t=1,v1=0011"] {
            assert!(Signature::parse(malformed).is_err(), "{malformed}");
        }
    }
}
