//! The ledger tool server over streamable HTTP: started with `--http 127.0.0.1:0`, reached
//! at the address it prints.

use crate::common::{CALL, CONNECT, HttpLedgerServer, args};
use serde_json::json;
use warden_mcp::{McpSession, ServerSpec, read_ledger};

#[tokio::test]
async fn serves_the_tools_at_the_printed_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("ledger.jsonl");
    let ready_file = dir.path().join("ready");
    let server = HttpLedgerServer::start(&ledger, &ready_file).await;
    assert!(
        server.url.starts_with("http://127.0.0.1:"),
        "{}",
        server.url
    );
    assert!(server.url.ends_with("/mcp"), "{}", server.url);
    assert_eq!(
        std::fs::read_to_string(&ready_file).expect("ready file"),
        server.url
    );

    let spec = ServerSpec::Http {
        url: server.url.clone(),
        bearer_token: None,
    };
    let session = McpSession::connect(&spec, CONNECT, &crate::common::egress())
        .await
        .expect("connect over http");
    assert_eq!(session.process_id(), None);
    let names: Vec<String> = session
        .list_tools(CALL)
        .await
        .expect("list tools")
        .into_iter()
        .map(|tool| tool.name)
        .collect();
    assert_eq!(names, vec!["append", "put", "get", "noop"]);

    let appended = session
        .call("append", args(json!({"entry": "over http"})), CALL)
        .await
        .expect("append");
    assert_eq!(appended.text, "appended over http");
    session
        .call("put", args(json!({"key": "k", "value": "v"})), CALL)
        .await
        .expect("put");
    let got = session
        .call("get", args(json!({"key": "k"})), CALL)
        .await
        .expect("get");
    assert_eq!((got.text.as_str(), got.is_error), ("v", false));
    session
        .call("noop", args(json!({})), CALL)
        .await
        .expect("noop");

    let entries = read_ledger(&ledger).expect("read ledger");
    let tools: Vec<&str> = entries.iter().map(|entry| entry.tool.as_str()).collect();
    assert_eq!(tools, vec!["append", "put", "get"]);
    let server_pid = server.child.id().expect("server pid");
    assert!(entries.iter().all(|entry| entry.pid == server_pid));
    session.close().await;
}

#[tokio::test]
async fn sigterm_ends_the_server_while_a_client_is_connected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server =
        HttpLedgerServer::start(&dir.path().join("ledger.jsonl"), &dir.path().join("ready")).await;
    let spec = ServerSpec::Http {
        url: server.url.clone(),
        bearer_token: None,
    };
    let session = McpSession::connect(&spec, CONNECT, &crate::common::egress())
        .await
        .expect("connect over http");
    session
        .call("noop", args(json!({})), CALL)
        .await
        .expect("noop");

    let pid = server.child.id().expect("server pid");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid fits i32"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("send SIGTERM");
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), server.child.wait())
        .await
        .expect("the server exits on SIGTERM despite the open session")
        .expect("wait for the server");
    assert!(status.success(), "{status}");
    drop(session);
}
