//! `ToolSessions` shuts a session down after `idle_timeout` without calls, ending its server
//! process, and never while a call is in flight.

use std::time::Duration;

use crate::common::{CALL, args, ledger_spec, process_alive, wait_for};
use serde_json::json;
use warden_mcp::{SessionOptions, ToolSessions, read_ledger};

const KEY: &str = "ws/ledger";

#[tokio::test]
async fn an_idle_session_ends_its_server_and_the_next_call_starts_a_new_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("ledger.jsonl");
    let spec = ledger_spec(&ledger);
    let (sessions, handle) = ToolSessions::spawn(SessionOptions {
        idle_timeout: Duration::from_secs(1),
        ..SessionOptions::default()
    })
    .await
    .expect("spawn");

    // A call longer than the idle timeout keeps the session, and its server, alive: the call
    // right after it reaches the same process.
    let slow = sessions
        .call(
            KEY,
            &spec,
            "append",
            args(json!({"entry": "slow", "delay_ms": 2500})),
            CALL,
        )
        .await
        .expect("a call longer than idle_timeout completes");
    assert_eq!(slow.text, "appended slow");
    sessions
        .call(KEY, &spec, "get", args(json!({"key": "k"})), CALL)
        .await
        .expect("a call right after");
    let entries = read_ledger(&ledger).expect("ledger");
    let first_pid = entries[0].pid;
    assert_eq!(
        entries[1].pid, first_pid,
        "the session was shut down while busy"
    );

    wait_for(
        "the idle session's server to exit",
        Duration::from_secs(15),
        || !process_alive(first_pid),
    )
    .await;

    sessions
        .call(KEY, &spec, "append", args(json!({"entry": "again"})), CALL)
        .await
        .expect("a call after the idle shutdown");
    let entries = read_ledger(&ledger).expect("ledger");
    assert_eq!(entries.len(), 3);
    assert_ne!(entries[2].pid, first_pid);

    sessions.stop().await;
    handle.await.expect("supervisor ends");
}
