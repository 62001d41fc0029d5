//! The scripted model's lifecycle: `shutdown().await` and drop both stop it, and a request
//! held by a delay fault does not hold shutdown up.

use std::time::{Duration, Instant};

use serde_json::json;
use warden_providers::{Error, ModelClient, ProviderKind};

use crate::common::{config, first_turn, one_step_script, start};

const DEADLINE: Duration = Duration::from_secs(10);

fn no_retries(base_url: &str) -> anyhow::Result<ModelClient> {
    let mut config = config(ProviderKind::OpenAi, base_url);
    config.max_retries = 0;
    Ok(ModelClient::new(config, &crate::common::egress())?)
}

#[tokio::test]
async fn shutdown_stops_serving() -> anyhow::Result<()> {
    let model = start(one_step_script()).await?;
    let client = no_retries(&model.base_url())?;
    client.complete(&first_turn()).await?;
    model.shutdown().await?;
    let result = client.complete(&first_turn()).await;
    assert!(
        matches!(result, Err(Error::Connect { .. })),
        "got {result:?}"
    );
    Ok(())
}

#[tokio::test]
async fn drop_stops_serving() -> anyhow::Result<()> {
    let model = start(one_step_script()).await?;
    let addr = model.addr();
    drop(model);
    let started = Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        anyhow::ensure!(started.elapsed() < DEADLINE, "still accepting after drop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

#[tokio::test]
async fn a_delayed_request_does_not_hold_shutdown() -> anyhow::Result<()> {
    let model = start(json!({
        "final": "cut short",
        "faults": [{"turn": 0, "kind": {"delay_ms": 60000}}],
    }))
    .await?;
    let client = no_retries(&model.base_url())?;
    let mut requests = tokio::task::JoinSet::new();
    requests.spawn(async move { client.complete(&first_turn()).await });
    let started = Instant::now();
    while model.requests_served() == 0 {
        anyhow::ensure!(started.elapsed() < DEADLINE, "the request never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stopping = Instant::now();
    tokio::time::timeout(DEADLINE, model.shutdown()).await??;
    assert!(
        stopping.elapsed() < Duration::from_secs(1),
        "took {:?}",
        stopping.elapsed()
    );
    let answer = tokio::time::timeout(DEADLINE, requests.join_next())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no request task"))??;
    assert_eq!(
        answer?.content, "cut short",
        "the request in flight is answered"
    );
    Ok(())
}
