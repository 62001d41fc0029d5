//! `ToolSessions` restarts a session whose server process died: the call in flight fails
//! with `Error::Closed`, the next call reaches a new server process.

use std::time::Duration;

use crate::common::{CALL, args, kill, ledger_spec, process_alive, wait_for};
use serde_json::json;
use warden_mcp::{Error, SessionOptions, ToolSessions, read_ledger};

const KEY: &str = "ws/ledger";

fn options() -> SessionOptions {
    SessionOptions {
        restart_backoff_min: Duration::from_millis(50),
        restart_backoff_max: Duration::from_millis(400),
        ..SessionOptions::default()
    }
}

/// The pid of the server that handled the last ledgered call.
fn last_pid(ledger: &std::path::Path) -> u32 {
    read_ledger(ledger)
        .expect("read ledger")
        .last()
        .expect("a ledger entry")
        .pid
}

#[tokio::test]
async fn a_killed_server_fails_the_call_in_flight_and_the_next_call_reaches_a_new_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("ledger.jsonl");
    let spec = ledger_spec(&ledger);
    let (sessions, handle) = ToolSessions::spawn(options()).await.expect("spawn");

    sessions
        .call(KEY, &spec, "append", args(json!({"entry": "first"})), CALL)
        .await
        .expect("first call");
    let first_pid = last_pid(&ledger);
    assert!(process_alive(first_pid));

    // The slow call is dispatched before the noop (join! polls in order), so it runs on the
    // server that is killed once the noop has come back.
    let slow = sessions.call(
        KEY,
        &spec,
        "append",
        args(json!({"entry": "in flight", "delay_ms": 30_000})),
        Duration::from_secs(60),
    );
    let killer = async {
        sessions
            .call(KEY, &spec, "noop", args(json!({})), CALL)
            .await
            .expect("noop beside the slow call");
        kill(first_pid);
        wait_for("the killed server to die", Duration::from_secs(10), || {
            !process_alive(first_pid)
        })
        .await;
    };
    let (slow_result, ()) = tokio::join!(slow, killer);
    match slow_result {
        Err(Error::Closed { server, .. }) => assert_eq!(server, KEY),
        other => panic!("expected Closed for the call in flight, got {other:?}"),
    }

    let after = sessions
        .call(
            KEY,
            &spec,
            "append",
            args(json!({"entry": "after restart"})),
            CALL,
        )
        .await
        .expect("the next call goes to the restarted session");
    assert_eq!(after.text, "appended after restart");
    let second_pid = last_pid(&ledger);
    assert_ne!(second_pid, first_pid);
    assert!(process_alive(second_pid));
    let entries: Vec<String> = read_ledger(&ledger)
        .expect("read ledger")
        .into_iter()
        .map(|entry| entry.arguments["entry"].to_string())
        .collect();
    assert_eq!(entries, vec!["\"first\"", "\"after restart\""]);

    sessions.stop().await;
    handle.await.expect("supervisor ends");
    wait_for(
        "the stopped session's server to exit",
        Duration::from_secs(10),
        || !process_alive(second_pid),
    )
    .await;
}

#[tokio::test]
async fn a_server_killed_while_idle_is_restarted_and_serves_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("ledger.jsonl");
    let spec = ledger_spec(&ledger);
    let (sessions, handle) = ToolSessions::spawn(options()).await.expect("spawn");

    sessions
        .call(
            KEY,
            &spec,
            "put",
            args(json!({"key": "k", "value": "1"})),
            CALL,
        )
        .await
        .expect("put");
    let first_pid = last_pid(&ledger);
    kill(first_pid);
    wait_for("the killed server to die", Duration::from_secs(10), || {
        !process_alive(first_pid)
    })
    .await;

    // Until the supervisor has seen the death a call may still meet the dead session; that
    // must be Closed, never anything else, and a call must succeed before the deadline.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let value = loop {
        match sessions
            .call(KEY, &spec, "get", args(json!({"key": "k"})), CALL)
            .await
        {
            Ok(output) => break output,
            Err(Error::Closed { .. }) if tokio::time::Instant::now() < deadline => {}
            Err(other) => panic!("expected success or Closed, got {other}"),
        }
    };
    assert_eq!((value.text.as_str(), value.is_error), ("1", false));
    assert_ne!(last_pid(&ledger), first_pid);

    sessions.stop().await;
    handle.await.expect("supervisor ends");
}

#[tokio::test]
async fn a_server_that_cannot_start_gives_its_error_and_then_the_restart_limit() {
    let spec = warden_mcp::ServerSpec::Stdio {
        command: "/nonexistent/warden-test-server".to_owned(),
        args: vec![],
        env: Default::default(),
        secret_env: Default::default(),
        read_paths: vec![],
        write_paths: vec![],
    };
    let (sessions, handle) = ToolSessions::spawn(SessionOptions {
        restart_backoff_min: Duration::from_millis(10),
        restart_backoff_max: Duration::from_millis(20),
        max_restarts_in_window: 2,
        ..SessionOptions::default()
    })
    .await
    .expect("spawn");

    let first = sessions
        .call(KEY, &spec, "noop", args(json!({})), CALL)
        .await;
    assert!(matches!(first, Err(Error::Spawn { .. })), "{first:?}");
    // Restarts happen on their own; after the third failure in the window it gives up.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match sessions
            .call(KEY, &spec, "noop", args(json!({})), CALL)
            .await
        {
            Err(Error::RestartLimit { failures, .. }) => {
                assert_eq!(failures, 3);
                break;
            }
            Err(Error::Spawn { .. }) if tokio::time::Instant::now() < deadline => {}
            other => panic!("expected Spawn and then RestartLimit, got {other:?}"),
        }
    }
    sessions.stop().await;
    handle.await.expect("supervisor ends");
}
