//! Which failures are retried, how often, and how long the client waits between attempts.

use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode, header::RETRY_AFTER};
use serde_json::json;
use warden_providers::{Error, ModelClient, ProviderKind};

use crate::common::{client, config, first_turn, start};
use crate::raw_server::{RawServer, failure, success};

fn script_with_fault(status: u16, times: u32) -> serde_json::Value {
    json!({
        "final": "recovered",
        "faults": [{"turn": 0, "kind": {"status": status}, "times": times}],
    })
}

for_both_providers!(server_errors_are_retried_until_success);

async fn server_errors_are_retried_until_success(kind: ProviderKind) -> anyhow::Result<()> {
    let model = start(script_with_fault(500, 2)).await?;
    let completion = client(kind, &model)?.complete(&first_turn()).await?;
    assert_eq!(completion.content, "recovered");
    assert_eq!(model.requests_served(), 3, "two failures, then the answer");
    Ok(())
}

for_both_providers!(rate_limits_are_retried);

async fn rate_limits_are_retried(kind: ProviderKind) -> anyhow::Result<()> {
    let model = start(script_with_fault(429, 1)).await?;
    let completion = client(kind, &model)?.complete(&first_turn()).await?;
    assert_eq!(completion.content, "recovered");
    assert_eq!(model.requests_served(), 2);
    Ok(())
}

for_both_providers!(retries_are_bounded);

async fn retries_are_bounded(kind: ProviderKind) -> anyhow::Result<()> {
    let model = start(script_with_fault(503, 10)).await?;
    let result = client(kind, &model)?.complete(&first_turn()).await;
    match result {
        Err(Error::Http {
            status: 503,
            ref message,
            ..
        }) => {
            assert!(message.contains("scripted fault"), "{message}");
        }
        other => anyhow::bail!("expected http 503, got {other:?}"),
    }
    assert_eq!(
        model.requests_served(),
        3,
        "the first attempt and max_retries = 2 retries"
    );
    Ok(())
}

for_both_providers!(client_errors_are_not_retried);

async fn client_errors_are_not_retried(kind: ProviderKind) -> anyhow::Result<()> {
    let model = start(script_with_fault(400, 1)).await?;
    let mut config = config(kind, &model.base_url());
    config.max_retries = 5;
    let result = ModelClient::new(config, &crate::common::egress())?
        .complete(&first_turn())
        .await;
    assert!(
        matches!(result, Err(Error::Http { status: 400, .. })),
        "expected http 400, got {result:?}"
    );
    assert_eq!(model.requests_served(), 1);
    Ok(())
}

for_both_providers!(retry_after_is_respected);

/// The backoff alone would retry after 10 ms; the provider asked for a second.
async fn retry_after_is_respected(kind: ProviderKind) -> anyhow::Result<()> {
    let server = RawServer::start(move |_, index| {
        if index == 0 {
            let mut response = failure(kind, StatusCode::TOO_MANY_REQUESTS, "slow down");
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            response
        } else {
            success(kind)
        }
    })
    .await?;
    let client = ModelClient::new(config(kind, &server.base_url()), &crate::common::egress())?;
    let started = Instant::now();
    let completion = client.complete(&first_turn()).await?;
    let elapsed = started.elapsed();
    assert_eq!(completion.content, "fine");
    assert_eq!(server.captured().len(), 2);
    assert!(
        elapsed >= Duration::from_secs(1),
        "retried after {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "retried after {elapsed:?}"
    );
    Ok(())
}
