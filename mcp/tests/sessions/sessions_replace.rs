//! A changed spec for the same key replaces the session: the old server process ends and
//! calls go to the new one.

use std::time::Duration;

use crate::common::{CALL, args, ledger_spec, process_alive, wait_for};
use serde_json::json;
use warden_mcp::{SessionOptions, ToolSessions, read_ledger};

const KEY: &str = "ws/ledger";

#[tokio::test]
async fn a_new_spec_for_a_key_replaces_its_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old_ledger = dir.path().join("old.jsonl");
    let new_ledger = dir.path().join("new.jsonl");
    let (sessions, handle) = ToolSessions::spawn(SessionOptions::default())
        .await
        .expect("spawn");

    sessions
        .call(
            KEY,
            &ledger_spec(&old_ledger),
            "append",
            args(json!({"entry": "old"})),
            CALL,
        )
        .await
        .expect("call with the old spec");
    let old_pid = read_ledger(&old_ledger).expect("old ledger")[0].pid;

    sessions
        .call(
            KEY,
            &ledger_spec(&new_ledger),
            "append",
            args(json!({"entry": "new"})),
            CALL,
        )
        .await
        .expect("call with the new spec");
    let new_entries = read_ledger(&new_ledger).expect("new ledger");
    assert_eq!(new_entries.len(), 1);
    assert_ne!(new_entries[0].pid, old_pid);
    assert_eq!(read_ledger(&old_ledger).expect("old ledger").len(), 1);

    wait_for(
        "the replaced session's server to exit",
        Duration::from_secs(15),
        || !process_alive(old_pid),
    )
    .await;
    assert!(process_alive(new_entries[0].pid));
    sessions.stop().await;
    handle.await.expect("supervisor ends");
}
