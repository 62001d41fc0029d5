//! An answer slower than `request_timeout` ends the attempt with `Error::Timeout`, in bounded
//! time, and is retried like any transient failure.

use std::time::{Duration, Instant};

use serde_json::json;
use warden_providers::{Error, ModelClient, ProviderKind};

use crate::common::{config, first_turn, start};

const REQUEST_TIMEOUT: Duration = Duration::from_millis(300);

for_both_providers!(a_slow_answer_times_out);

async fn a_slow_answer_times_out(kind: ProviderKind) -> anyhow::Result<()> {
    let model = start(json!({
        "final": "too late",
        "faults": [{"turn": 0, "kind": {"delay_ms": 3000}, "times": 10}],
    }))
    .await?;
    let mut config = config(kind, &model.base_url());
    config.request_timeout = REQUEST_TIMEOUT;
    config.max_retries = 1;
    let started = Instant::now();
    let result = ModelClient::new(config, &crate::common::egress())?
        .complete(&first_turn())
        .await;
    let elapsed = started.elapsed();
    match result {
        Err(Error::Timeout { after, .. }) => assert_eq!(after, REQUEST_TIMEOUT),
        other => anyhow::bail!("expected a timeout, got {other:?}"),
    }
    // Two attempts of 300 ms and a 10 ms backoff; the delay itself is 3 s.
    assert!(elapsed >= 2 * REQUEST_TIMEOUT, "gave up after {elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(2500),
        "gave up after {elapsed:?}"
    );
    assert_eq!(model.requests_served(), 2);
    Ok(())
}

for_both_providers!(a_timed_out_attempt_is_retried);

async fn a_timed_out_attempt_is_retried(kind: ProviderKind) -> anyhow::Result<()> {
    let model = start(json!({
        "final": "second time lucky",
        "faults": [{"turn": 0, "kind": {"delay_ms": 3000}, "times": 1}],
    }))
    .await?;
    let mut config = config(kind, &model.base_url());
    config.request_timeout = REQUEST_TIMEOUT;
    config.max_retries = 1;
    let started = Instant::now();
    let completion = ModelClient::new(config, &crate::common::egress())?
        .complete(&first_turn())
        .await?;
    assert_eq!(completion.content, "second time lucky");
    assert!(started.elapsed() < Duration::from_millis(2500));
    assert_eq!(model.requests_served(), 2);
    Ok(())
}
