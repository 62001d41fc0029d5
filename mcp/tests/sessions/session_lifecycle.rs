//! `McpSession`'s hold on its stdio server: closing or dropping the session ends the
//! process, a dead server is `Error::Closed`, and start-up failures are typed.

use std::{collections::BTreeMap, time::Duration};

use crate::common::{CALL, CONNECT, args, kill, ledger_spec, process_alive, wait_for};
use serde_json::json;
use warden_mcp::{Error, McpSession, ServerSpec};

#[tokio::test]
async fn closing_the_session_ends_the_server_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let session = McpSession::connect(
        &ledger_spec(&dir.path().join("ledger.jsonl")),
        CONNECT,
        &crate::common::egress(),
    )
    .await
    .expect("connect");
    let pid = session.process_id().expect("pid");
    assert!(process_alive(pid));
    session.close().await;
    wait_for(
        "the closed session's server to exit",
        Duration::from_secs(10),
        || !process_alive(pid),
    )
    .await;
}

#[tokio::test]
async fn dropping_the_session_ends_the_server_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let session = McpSession::connect(
        &ledger_spec(&dir.path().join("ledger.jsonl")),
        CONNECT,
        &crate::common::egress(),
    )
    .await
    .expect("connect");
    let pid = session.process_id().expect("pid");
    drop(session);
    wait_for(
        "the dropped session's server to exit",
        Duration::from_secs(10),
        || !process_alive(pid),
    )
    .await;
}

#[tokio::test]
async fn a_killed_server_makes_calls_fail_with_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let session = McpSession::connect(
        &ledger_spec(&dir.path().join("ledger.jsonl")),
        CONNECT,
        &crate::common::egress(),
    )
    .await
    .expect("connect");
    session
        .call("noop", args(json!({})), CALL)
        .await
        .expect("noop");
    let pid = session.process_id().expect("pid");
    kill(pid);
    wait_for("the killed server to die", Duration::from_secs(10), || {
        !process_alive(pid)
    })
    .await;
    match session.call("noop", args(json!({})), CALL).await {
        Err(Error::Closed { .. }) => {}
        other => panic!("expected Closed, got {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_command_is_a_spawn_error() {
    let spec = ServerSpec::Stdio {
        command: "/nonexistent/warden-test-server".to_owned(),
        args: vec![],
        env: BTreeMap::new(),
        secret_env: Default::default(),
        read_paths: vec![],
        write_paths: vec![],
    };
    match McpSession::connect(&spec, CONNECT, &crate::common::egress()).await {
        Err(Error::Spawn { server, .. }) => assert_eq!(server, "/nonexistent/warden-test-server"),
        Err(other) => panic!("expected Spawn, got {other:?}"),
        Ok(_) => panic!("expected Spawn, got a session"),
    }
}

#[tokio::test]
async fn a_server_that_exits_at_once_is_a_connect_error_carrying_its_stderr() {
    let spec = ServerSpec::Stdio {
        command: "sh".to_owned(),
        args: vec![
            "-c".to_owned(),
            "echo \"no config: $SECRET_FOR_TEST\" >&2; exit 3".to_owned(),
        ],
        env: BTreeMap::from([("SECRET_FOR_TEST".to_owned(), "given".to_owned())]),
        secret_env: Default::default(),
        read_paths: vec![],
        write_paths: vec![],
    };
    match McpSession::connect(&spec, CONNECT, &crate::common::egress()).await {
        Err(Error::Connect { stderr_tail, .. }) => {
            assert_eq!(stderr_tail, vec!["no config: given".to_owned()]);
        }
        Err(other) => panic!("expected Connect, got {other:?}"),
        Ok(_) => panic!("expected Connect, got a session"),
    }
}

#[tokio::test]
async fn a_stdio_server_gets_only_the_allowlisted_environment_and_its_own() {
    // This test process has CARGO_* variables; the server must not see them.
    assert!(std::env::var_os("CARGO_PKG_NAME").is_some() || std::env::var_os("CARGO").is_some());
    let spec = ServerSpec::Stdio {
        command: "sh".to_owned(),
        args: vec!["-c".to_owned(), "env >&2; exit 3".to_owned()],
        env: BTreeMap::from([("GIVEN".to_owned(), "1".to_owned())]),
        secret_env: Default::default(),
        read_paths: vec![],
        write_paths: vec![],
    };
    let Err(Error::Connect { stderr_tail, .. }) =
        McpSession::connect(&spec, CONNECT, &crate::common::egress()).await
    else {
        panic!("expected Connect");
    };
    let names: Vec<&str> = stderr_tail
        .iter()
        .filter_map(|line| line.split_once('=').map(|(name, _)| name))
        .collect();
    assert!(names.contains(&"GIVEN"), "{names:?}");
    for name in &names {
        assert!(
            *name == "GIVEN"
                || *name == "PWD"
                || *name == "SHLVL"
                || *name == "_"
                || warden_mcp::session::INHERITED_ENV.contains(name),
            "unexpected variable {name} in {names:?}"
        );
    }
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_connect_error_after_the_timeout() {
    let spec = ServerSpec::Stdio {
        command: "sleep".to_owned(),
        args: vec!["30".to_owned()],
        env: BTreeMap::new(),
        secret_env: Default::default(),
        read_paths: vec![],
        write_paths: vec![],
    };
    let started = tokio::time::Instant::now();
    match McpSession::connect(&spec, Duration::from_millis(300), &crate::common::egress()).await {
        Err(Error::Connect { reason, .. }) => assert!(reason.contains("no handshake"), "{reason}"),
        Err(other) => panic!("expected Connect, got {other:?}"),
        Ok(_) => panic!("expected Connect, got a session"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}
