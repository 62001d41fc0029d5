//! Calls to one session run concurrently: a fast call is not held up behind a slow one.

use std::time::Duration;

use crate::common::{CALL, args, ledger_spec};
use serde_json::json;
use tokio::time::Instant;
use warden_mcp::{SessionOptions, ToolSessions, read_ledger};

const KEY: &str = "ws/ledger";

#[tokio::test]
async fn a_fast_get_returns_before_a_slow_append_on_the_same_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("ledger.jsonl");
    let spec = ledger_spec(&ledger);
    let (sessions, handle) = ToolSessions::spawn(SessionOptions::default())
        .await
        .expect("spawn");
    sessions
        .call(
            KEY,
            &spec,
            "put",
            args(json!({"key": "k", "value": "v"})),
            CALL,
        )
        .await
        .expect("put");

    let slow = async {
        let output = sessions
            .call(
                KEY,
                &spec,
                "append",
                args(json!({"entry": "slow", "delay_ms": 2000})),
                CALL,
            )
            .await
            .expect("slow append");
        (output, Instant::now())
    };
    let fast = async {
        let output = sessions
            .call(KEY, &spec, "get", args(json!({"key": "k"})), CALL)
            .await
            .expect("fast get");
        (output, Instant::now())
    };
    let started = Instant::now();
    let ((slow_output, slow_done), (fast_output, fast_done)) = tokio::join!(slow, fast);
    assert_eq!(slow_output.text, "appended slow");
    assert_eq!(fast_output.text, "v");
    assert!(fast_done < slow_done, "the get waited for the append");
    assert!(
        fast_done - started < Duration::from_millis(1500),
        "the get took {:?}",
        fast_done - started
    );
    let tools: Vec<String> = read_ledger(&ledger)
        .expect("ledger")
        .into_iter()
        .map(|entry| entry.tool)
        .collect();
    assert_eq!(tools, vec!["put", "get", "append"]);
    sessions.stop().await;
    handle.await.expect("supervisor ends");
}
