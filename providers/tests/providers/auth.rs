//! The API key: required keys are checked by the scripted model, and the key never shows in
//! an error, even when a provider echoes it back.

use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;
use warden_providers::{ApiKey, Error, ModelClient, ProviderKind};

use crate::common::{KEY, config, first_turn, start};
use crate::raw_server::{RawServer, failure};

const WRONG_KEY: &str = "sk-wrong-key-0d9e2b44";

fn keyed_script() -> serde_json::Value {
    json!({"final": "welcome", "require_api_key": KEY})
}

for_both_providers!(the_right_key_is_accepted);

async fn the_right_key_is_accepted(kind: ProviderKind) -> anyhow::Result<()> {
    let model = start(keyed_script()).await?;
    let completion = ModelClient::new(config(kind, &model.base_url()), &crate::common::egress())?
        .complete(&first_turn())
        .await?;
    assert_eq!(completion.content, "welcome");
    Ok(())
}

for_both_providers!(a_wrong_key_gets_401_without_the_key_in_the_error);

async fn a_wrong_key_gets_401_without_the_key_in_the_error(
    kind: ProviderKind,
) -> anyhow::Result<()> {
    let model = start(keyed_script()).await?;
    let mut config = config(kind, &model.base_url());
    config.api_key = Some(ApiKey::new(WRONG_KEY));
    let client = ModelClient::new(config, &crate::common::egress())?;
    let error = match client.complete(&first_turn()).await {
        Err(error @ Error::Http { status: 401, .. }) => error,
        other => anyhow::bail!("expected http 401, got {other:?}"),
    };
    assert!(!error.is_retryable());
    assert_eq!(model.requests_served(), 1, "a 401 is not retried");
    for shown in [
        error.to_string(),
        format!("{error:?}"),
        format!("{client:?}"),
    ] {
        assert!(!shown.contains(WRONG_KEY), "{shown}");
    }
    Ok(())
}

for_both_providers!(a_missing_key_gets_401);

async fn a_missing_key_gets_401(kind: ProviderKind) -> anyhow::Result<()> {
    let model = start(keyed_script()).await?;
    let mut config = config(kind, &model.base_url());
    config.api_key = None;
    let result = ModelClient::new(config, &crate::common::egress())?
        .complete(&first_turn())
        .await;
    assert!(
        matches!(result, Err(Error::Http { status: 401, .. })),
        "expected http 401, got {result:?}"
    );
    Ok(())
}

for_both_providers!(an_echoed_key_is_scrubbed);

/// Some providers quote the key they were given in their 401; the client must not pass it on.
async fn an_echoed_key_is_scrubbed(kind: ProviderKind) -> anyhow::Result<()> {
    let server = RawServer::start(move |captured, _| {
        let presented = ["authorization", "x-api-key"]
            .iter()
            .filter_map(|name| captured.headers.get(*name)?.to_str().ok())
            .collect::<Vec<_>>()
            .join(" ");
        failure(
            kind,
            StatusCode::UNAUTHORIZED,
            &format!("incorrect api key provided: {presented}"),
        )
    })
    .await?;
    let client = ModelClient::new(config(kind, &server.base_url()), &crate::common::egress())?;
    let error = match client.complete(&first_turn()).await {
        Err(error @ Error::Http { status: 401, .. }) => error,
        other => anyhow::bail!("expected http 401, got {other:?}"),
    };
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(shown.contains("incorrect api key provided"), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
    Ok(())
}

for_both_providers!(a_redirect_is_not_followed);

/// Following it would send the key to wherever the redirect points.
async fn a_redirect_is_not_followed(kind: ProviderKind) -> anyhow::Result<()> {
    let server = RawServer::start(|_, _| {
        let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
        response.headers_mut().insert(
            axum::http::header::LOCATION,
            axum::http::HeaderValue::from_static("http://127.0.0.1:9/elsewhere"),
        );
        response
    })
    .await?;
    let result = ModelClient::new(config(kind, &server.base_url()), &crate::common::egress())?
        .complete(&first_turn())
        .await;
    assert!(
        matches!(result, Err(Error::Http { status: 307, .. })),
        "expected http 307, got {result:?}"
    );
    assert_eq!(server.captured().len(), 1);
    Ok(())
}
