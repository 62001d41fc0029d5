//! A call slower than its timeout fails fast with `Error::Timeout`, and the session stays
//! usable; the tool (which ignores cancellation) still completes on the server.

use std::time::Duration;

use crate::common::{CALL, CONNECT, args, ledger_spec};
use serde_json::json;
use tokio::time::Instant;
use warden_mcp::{Error, McpSession, SessionOptions, ToolSessions, read_ledger};

#[tokio::test]
async fn a_slow_call_times_out_quickly_and_the_session_keeps_working() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("ledger.jsonl");
    let session = McpSession::connect(&ledger_spec(&ledger), CONNECT, &crate::common::egress())
        .await
        .expect("connect");
    session.list_tools(CALL).await.expect("list tools");

    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let result = session
        .call(
            "append",
            args(json!({"entry": "late", "delay_ms": 2000})),
            timeout,
        )
        .await;
    let waited = started.elapsed();
    match result {
        Err(Error::Timeout { tool, after, .. }) => {
            assert_eq!((tool.as_str(), after), ("append", timeout));
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert!(waited < Duration::from_millis(1500), "took {waited:?}");

    let noop = session
        .call("noop", args(json!({})), CALL)
        .await
        .expect("noop after a timeout");
    assert_eq!(noop.text, "ok");
    // The append had started its side effect; it lands although nobody waits for it.
    crate::common::wait_for(
        "the abandoned append to land",
        Duration::from_secs(10),
        || {
            read_ledger(&ledger)
                .is_ok_and(|entries| entries.iter().any(|entry| entry.tool == "append"))
        },
    )
    .await;
    session.close().await;
}

#[tokio::test]
async fn tool_sessions_pass_the_timeout_through() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = ledger_spec(&dir.path().join("ledger.jsonl"));
    let (sessions, handle) = ToolSessions::spawn(SessionOptions::default())
        .await
        .expect("spawn");
    let result = sessions
        .call(
            "ws/ledger",
            &spec,
            "append",
            args(json!({"entry": "late", "delay_ms": 5000})),
            Duration::from_millis(300),
        )
        .await;
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    sessions.stop().await;
    handle.await.expect("supervisor ends");
}
