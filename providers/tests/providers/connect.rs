//! Nothing listening: `Error::Connect`, after the configured retries, in bounded time.

use std::time::{Duration, Instant};

use warden_providers::{Error, ModelClient, ProviderKind};

use crate::common::{config, first_turn};

for_both_providers!(connection_refused_is_connect_after_retries);

async fn connection_refused_is_connect_after_retries(kind: ProviderKind) -> anyhow::Result<()> {
    // A port that was just free and has nobody listening.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let mut config = config(kind, &format!("http://{addr}/v1"));
    config.max_retries = 2;
    config.retry_backoff = Duration::from_millis(100);
    let started = Instant::now();
    let result = ModelClient::new(config, &crate::common::egress())?
        .complete(&first_turn())
        .await;
    let elapsed = started.elapsed();
    match result {
        Err(error @ Error::Connect { .. }) => {
            let shown = error.to_string();
            assert!(shown.contains(&addr.to_string()), "{shown}");
            assert!(shown.to_lowercase().contains("refused"), "{shown}");
        }
        other => anyhow::bail!("expected a connect error, got {other:?}"),
    }
    // Waits of 100 ms and 200 ms between the three attempts show the retries happened.
    assert!(
        elapsed >= Duration::from_millis(300),
        "gave up after {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "gave up after {elapsed:?}"
    );
    Ok(())
}
