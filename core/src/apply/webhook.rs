//! Webhooks: registering and removing them, and recording the leader's attempts to send
//! their deliveries (the deliveries themselves are written by `outbox.rs`).

use super::config::{adopt_workspace_key, check_url, existing_workspace, invalid};
use super::{At, Decision, StateRead, Write};
use crate::command::Command;
use crate::outcome::{Code, Outcome, Rejection};
use crate::webhook::{
    AttemptResult, Delivery, DeliveryState, MAX_DELIVERY_ERROR, MAX_WEBHOOK_URL,
    MAX_WEBHOOKS_PER_WORKSPACE, Webhook,
};

pub(super) fn put<S: StateRead>(
    state: &S,
    at: &At<'_>,
    command: &Command,
) -> Result<Decision, S::Error> {
    let Command::PutWebhook {
        workspace,
        name,
        url,
        events,
        secret,
        workspace_key,
    } = command
    else {
        unreachable!("webhook::put is called for PutWebhook only")
    };
    let record = match existing_workspace(state, workspace)? {
        Ok(record) => record,
        Err(rejection) => return Ok(Err(rejection)),
    };
    let mut sorted = events.clone();
    sorted.sort();
    sorted.dedup();
    let parsed = match checked_url(url) {
        Ok(parsed) => parsed,
        Err(rejection) => return Ok(Err(rejection)),
    };
    let problem = events
        .is_empty()
        .then(|| invalid("events must name at least one event".to_owned()))
        .or_else(|| {
            (sorted.len() != events.len())
                .then(|| invalid("events must not name an event twice".to_owned()))
        });
    if let Some(rejection) = problem {
        return Ok(Err(rejection));
    }
    let existing = state.webhook(workspace, name)?;
    if existing.is_none() && state.webhooks(workspace)?.len() >= MAX_WEBHOOKS_PER_WORKSPACE {
        return Ok(Err(Rejection::new(
            Code::ResourceExhausted,
            format!(
                "workspace {workspace} has {MAX_WEBHOOKS_PER_WORKSPACE} webhooks, the most it may have: delete one first"
            ),
        )));
    }
    let keyed = match adopt_workspace_key(&record, workspace_key.as_ref(), true) {
        Ok(keyed) => keyed,
        Err(rejection) => return Ok(Err(rejection)),
    };
    let (version, created_index) = existing.map_or((1, at.log_index), |earlier| {
        (earlier.version + 1, earlier.created_index)
    });
    let webhook = Webhook {
        workspace: workspace.clone(),
        name: name.clone(),
        // As parsed: the URL checked is the URL sent to.
        url: parsed,
        events: sorted,
        secret: secret.clone(),
        version,
        created_index,
        updated_ms: at.time_ms,
        updated_by: at.principal.clone(),
    };
    let mut writes: Vec<Write> = keyed.into_iter().map(Write::Workspace).collect();
    writes.push(Write::Webhook(webhook.clone()));
    Ok(Ok((Outcome::WebhookPut(webhook), writes)))
}

pub(super) fn delete<S: StateRead>(state: &S, command: &Command) -> Result<Decision, S::Error> {
    let Command::DeleteWebhook { workspace, name } = command else {
        unreachable!("webhook::delete is called for DeleteWebhook only")
    };
    if let Err(rejection) = existing_workspace(state, workspace)? {
        return Ok(Err(rejection));
    }
    let Some(webhook) = state.webhook(workspace, name)? else {
        return Ok(Err(Rejection::new(
            Code::NotFound,
            format!("webhook {name} not found in workspace {workspace}"),
        )));
    };
    Ok(Ok((
        Outcome::WebhookDeleted(webhook),
        vec![Write::RemoveWebhook {
            workspace: workspace.clone(),
            name: name.clone(),
        }],
    )))
}

/// Records one attempt. Only the next attempt of a pending delivery is accepted, so a
/// report from a deposed leader, or one proposed twice, changes nothing.
pub(super) fn record_attempt<S: StateRead>(
    state: &S,
    at: &At<'_>,
    command: &Command,
) -> Result<Decision, S::Error> {
    let Command::RecordDeliveryAttempt {
        workspace,
        delivery: id,
        attempt,
        result,
    } = command
    else {
        unreachable!("webhook::record_attempt is called for RecordDeliveryAttempt only")
    };
    let Some(delivery) = state.delivery(workspace, id)? else {
        return Ok(Err(Rejection::new(
            Code::NotFound,
            format!("delivery {id} not found in workspace {workspace}"),
        )));
    };
    if !matches!(delivery.state, DeliveryState::Pending { .. }) {
        return Ok(Err(Rejection::new(
            Code::FailedPrecondition,
            format!("delivery {id} is {} already", delivery.state.as_str()),
        )));
    }
    let expected = delivery.attempts.saturating_add(1);
    // A delivered report ends a pending delivery whichever attempt it was: a deposed
    // leader may have recorded a failure of the same attempt first.
    let delivered = matches!(result, AttemptResult::Delivered { .. }) && *attempt >= 1;
    if *attempt != expected && !delivered {
        return Ok(Err(Rejection::new(
            Code::Aborted,
            format!("delivery {id} expects attempt {expected}, not {attempt}"),
        )));
    }
    let (state_after, last_error) = match result {
        AttemptResult::Delivered { status } => (DeliveryState::Delivered { status: *status }, None),
        AttemptResult::Retry {
            error,
            next_attempt_ms,
        } => (
            DeliveryState::Pending {
                next_attempt_ms: *next_attempt_ms,
            },
            Some(crate::cut_text(error, MAX_DELIVERY_ERROR)),
        ),
        AttemptResult::GaveUp { error } => (
            DeliveryState::Failed,
            Some(crate::cut_text(error, MAX_DELIVERY_ERROR)),
        ),
    };
    let updated = Delivery {
        state: state_after,
        attempts: delivery.attempts.max(*attempt),
        last_attempt_ms: Some(at.time_ms),
        last_error,
        ..delivery
    };
    Ok(Ok((
        Outcome::DeliveryRecorded(updated.clone()),
        vec![Write::Delivery(updated)],
    )))
}

/// `url` as parsed (and so normalised): http or https, with a host, without a user name or
/// password (they would be stored and shown in plain text; the signature authenticates a
/// delivery), at most `MAX_WEBHOOK_URL` bytes.
fn checked_url(url: &str) -> Result<String, crate::outcome::Rejection> {
    if let Some(rejection) = check_url("url", url) {
        return Err(rejection);
    }
    if url.len() > MAX_WEBHOOK_URL {
        return Err(invalid(format!(
            "url must be at most {MAX_WEBHOOK_URL} bytes"
        )));
    }
    let parsed = ::url::Url::parse(url)
        .map_err(|error| invalid(format!("url {url:?} is not a URL: {error}")))?;
    if !parsed.has_host() {
        return Err(invalid(format!("url {url:?} names no host")));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            "url must not hold a user name or password: deliveries are authenticated by their signature".to_owned(),
        ));
    }
    Ok(parsed.as_str().to_owned())
}

/// The audit detail of a registered webhook: where it sends what (never its secret).
pub(super) fn put_detail(webhook: &Webhook) -> String {
    let events: Vec<&str> = webhook.events.iter().map(|event| event.as_str()).collect();
    format!(
        "url {}, events {}, version {}",
        crate::cut_text(&webhook.url, 256),
        events.join(","),
        webhook.version
    )
}

/// The audit detail of a recorded attempt.
pub(super) fn attempt_detail(delivery: &Delivery) -> String {
    let base = format!(
        "{} {} for {} attempt {}: {}",
        delivery.notice.event,
        delivery.id,
        delivery.webhook,
        delivery.attempts,
        delivery.state.as_str()
    );
    match (&delivery.state, &delivery.last_error) {
        (DeliveryState::Delivered { status }, _) => format!("{base} ({status})"),
        (_, Some(error)) => format!("{base} ({})", crate::cut_text(error, 200)),
        _ => base,
    }
}
