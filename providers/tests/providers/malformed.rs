//! Success statuses with bodies that are not the provider's format give `Error::Malformed`,
//! which is not retried.

use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;
use warden_providers::{Error, ModelClient, ProviderKind};

use crate::common::{client, config, first_turn, one_step_script, start};
use crate::raw_server::RawServer;

fn with_fault(kind: &str) -> serde_json::Value {
    let mut script = one_step_script();
    script["faults"] = json!([{"turn": 0, "kind": kind, "times": 1}]);
    script
}

for_both_providers!(a_body_that_is_not_json_is_malformed);

async fn a_body_that_is_not_json_is_malformed(kind: ProviderKind) -> anyhow::Result<()> {
    let model = start(with_fault("malformed_body")).await?;
    let result = client(kind, &model)?.complete(&first_turn()).await;
    assert!(
        matches!(result, Err(Error::Malformed { .. })),
        "got {result:?}"
    );
    assert_eq!(
        model.requests_served(),
        1,
        "malformed answers are not retried"
    );
    Ok(())
}

for_both_providers!(bad_tool_arguments_are_malformed);

async fn bad_tool_arguments_are_malformed(kind: ProviderKind) -> anyhow::Result<()> {
    let model = start(with_fault("bad_tool_arguments")).await?;
    let client = client(kind, &model)?;
    match client.complete(&first_turn()).await {
        Err(Error::Malformed { reason, .. }) => assert!(reason.contains("call_0_0"), "{reason}"),
        other => anyhow::bail!("expected malformed, got {other:?}"),
    }
    // The fault fired once; the same turn now has good arguments.
    let completion = client.complete(&first_turn()).await?;
    assert_eq!(
        completion.tool_calls[0].arguments,
        json!({"entry": "step-1"})
    );
    Ok(())
}

for_both_providers!(a_success_without_the_expected_fields_is_malformed);

async fn a_success_without_the_expected_fields_is_malformed(
    kind: ProviderKind,
) -> anyhow::Result<()> {
    let server = RawServer::start(|_, _| {
        (
            StatusCode::OK,
            axum::Json(json!({"id": "x", "object": "nothing useful"})),
        )
            .into_response()
    })
    .await?;
    let result = ModelClient::new(config(kind, &server.base_url()), &crate::common::egress())?
        .complete(&first_turn())
        .await;
    assert!(
        matches!(result, Err(Error::Malformed { .. })),
        "got {result:?}"
    );
    assert_eq!(server.captured().len(), 1);
    Ok(())
}
