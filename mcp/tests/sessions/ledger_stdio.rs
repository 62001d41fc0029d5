//! The ledger tool server over stdio: its tools, their annotations, and what each call
//! writes to the ledger.

use std::collections::BTreeMap;

use crate::common::{CALL, CONNECT, args, ledger_spec, ledger_spec_with};
use serde_json::json;
use warden_mcp::{Error, McpSession, read_ledger};

#[tokio::test]
async fn lists_the_four_tools_with_honest_annotations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let session = McpSession::connect(
        &ledger_spec(&dir.path().join("ledger.jsonl")),
        CONNECT,
        &crate::common::egress(),
    )
    .await
    .expect("connect");
    let tools = session.list_tools(CALL).await.expect("list tools");

    let hints: BTreeMap<&str, (bool, bool, bool)> = tools
        .iter()
        .map(|tool| {
            (
                tool.name.as_str(),
                (tool.read_only, tool.idempotent, tool.destructive),
            )
        })
        .collect();
    // (read_only, idempotent, destructive)
    assert_eq!(
        hints,
        BTreeMap::from([
            ("append", (false, false, true)),
            ("get", (true, true, false)),
            ("noop", (true, true, false)),
            ("put", (false, true, false)),
        ])
    );
    let append = tools
        .iter()
        .find(|tool| tool.name == "append")
        .expect("append");
    assert_eq!(append.input_schema["required"], json!(["entry"]));
    assert_eq!(
        append.input_schema["properties"]["delay_ms"]["type"],
        "integer"
    );
    assert!(!append.description.is_empty());
    session.close().await;
}

#[tokio::test]
async fn every_tool_answers_and_all_but_noop_are_recorded_in_the_ledger() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("ledger.jsonl");
    let session = McpSession::connect(&ledger_spec(&ledger), CONNECT, &crate::common::egress())
        .await
        .expect("connect");

    let appended = session
        .call("append", args(json!({"entry": "one"})), CALL)
        .await
        .expect("append");
    assert_eq!(
        (appended.text.as_str(), appended.is_error),
        ("appended one", false)
    );
    let put = session
        .call("put", args(json!({"key": "k", "value": "v"})), CALL)
        .await
        .expect("put");
    assert_eq!((put.text.as_str(), put.is_error), ("ok", false));
    let got = session
        .call("get", args(json!({"key": "k"})), CALL)
        .await
        .expect("get");
    assert_eq!((got.text.as_str(), got.is_error), ("v", false));
    let missing = session
        .call("get", args(json!({"key": "absent"})), CALL)
        .await
        .expect("get of a missing key still completes");
    assert!(
        missing.is_error,
        "a missing key is an error result: {missing:?}"
    );
    assert!(missing.text.contains("absent"), "{missing:?}");
    let noop = session
        .call("noop", args(json!({})), CALL)
        .await
        .expect("noop");
    assert_eq!((noop.text.as_str(), noop.is_error), ("ok", false));

    let entries = read_ledger(&ledger).expect("read ledger");
    let tools: Vec<&str> = entries.iter().map(|entry| entry.tool.as_str()).collect();
    assert_eq!(tools, vec!["append", "put", "get", "get"]);
    let seqs: Vec<u64> = entries.iter().map(|entry| entry.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    assert_eq!(entries[0].arguments, args(json!({"entry": "one"})));
    assert_eq!(
        entries[1].arguments,
        args(json!({"key": "k", "value": "v"}))
    );
    let pid = session.process_id().expect("a stdio server has a pid");
    assert!(
        entries
            .iter()
            .all(|entry| entry.pid == pid && entry.time_ms > 0)
    );
    let kv = std::fs::read_to_string(dir.path().join("ledger.jsonl.kv")).expect("kv file");
    assert_eq!(kv.lines().count(), 1);
    session.close().await;
}

#[tokio::test]
async fn noop_leaves_the_ledger_empty() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("ledger.jsonl");
    let session = McpSession::connect(&ledger_spec(&ledger), CONNECT, &crate::common::egress())
        .await
        .expect("connect");
    for _ in 0..3 {
        session
            .call("noop", args(json!({})), CALL)
            .await
            .expect("noop");
    }
    assert_eq!(read_ledger(&ledger).expect("read ledger"), vec![]);
    session.close().await;
}

#[tokio::test]
async fn unknown_tools_and_bad_arguments_are_typed_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("ledger.jsonl");
    let session = McpSession::connect(&ledger_spec(&ledger), CONNECT, &crate::common::egress())
        .await
        .expect("connect");
    match session
        .call("delete_everything", args(json!({})), CALL)
        .await
    {
        Err(Error::UnknownTool { tool, .. }) => assert_eq!(tool, "delete_everything"),
        other => panic!("expected UnknownTool, got {other:?}"),
    }
    match session
        .call("append", args(json!({"text": "x"})), CALL)
        .await
    {
        Err(Error::Protocol { reason, .. }) => assert!(reason.contains("entry"), "{reason}"),
        other => panic!("expected a protocol error, got {other:?}"),
    }
    assert_eq!(read_ledger(&ledger).expect("read ledger"), vec![]);
    session.close().await;
}

#[tokio::test]
async fn describe_append_replaces_the_description_of_append() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = ledger_spec_with(
        &dir.path().join("ledger.jsonl"),
        &[
            "--describe-append",
            "appends, and also mails the ledger to everyone",
        ],
    );
    let session = McpSession::connect(&spec, CONNECT, &crate::common::egress())
        .await
        .expect("connect");
    let tools = session.list_tools(CALL).await.expect("list tools");
    let append = tools
        .iter()
        .find(|tool| tool.name == "append")
        .expect("append");
    assert_eq!(
        append.description,
        "appends, and also mails the ledger to everyone"
    );
    session.close().await;
}
