//! Real third-party MCP servers written in Python (installed by scripts/python-tools.sh):
//! mcp-server-time and mcp-server-git over stdio.

use std::collections::BTreeMap;

use crate::common::{CALL, CONNECT, args, python_read_paths, python_tool};
use serde_json::json;
use warden_mcp::{McpSession, ServerSpec};

/// The server confined with read access to its virtualenv and the Python installation
/// the virtualenv uses (which need not be under /usr), and write access to `writable`.
fn stdio(command: std::path::PathBuf, args: &[&str], writable: &[&std::path::Path]) -> ServerSpec {
    ServerSpec::Stdio {
        command: command.display().to_string(),
        args: args.iter().map(|arg| (*arg).to_owned()).collect(),
        env: BTreeMap::new(),
        secret_env: Default::default(),
        read_paths: python_read_paths(&command),
        write_paths: writable.iter().map(|path| path.to_path_buf()).collect(),
    }
}

#[tokio::test]
async fn mcp_server_time_tells_the_time_in_utc() {
    let spec = stdio(
        python_tool("mcp-server-time"),
        &["--local-timezone", "UTC"],
        &[],
    );
    let session = McpSession::connect(&spec, CONNECT, &crate::common::egress())
        .await
        .expect("connect");
    let tools = session.list_tools(CALL).await.expect("list tools");
    assert!(
        tools.iter().any(|tool| tool.name == "get_current_time"),
        "tools: {tools:?}"
    );

    let output = session
        .call("get_current_time", args(json!({"timezone": "UTC"})), CALL)
        .await
        .expect("get_current_time");
    assert!(!output.is_error, "{output:?}");
    let answer: serde_json::Value = serde_json::from_str(&output.text).expect("a JSON answer");
    assert_eq!(answer["timezone"], "UTC", "{answer}");
    let datetime = answer["datetime"].as_str().expect("a datetime");
    assert!(datetime.ends_with("+00:00"), "{datetime}");
    session.close().await;
}

#[tokio::test]
async fn mcp_server_git_reports_the_status_of_a_fresh_repository() {
    let repo = tempfile::tempdir().expect("tempdir");
    let init = std::process::Command::new("git")
        .arg("init")
        .arg("--quiet")
        .arg(repo.path())
        .status()
        .expect("run git init");
    assert!(init.success(), "git init failed");
    std::fs::write(repo.path().join("untracked.txt"), "hello\n").expect("write a file");
    let repo_path = repo.path().display().to_string();

    let spec = stdio(
        python_tool("mcp-server-git"),
        &["--repository", &repo_path],
        &[repo.path()],
    );
    let session = McpSession::connect(&spec, CONNECT, &crate::common::egress())
        .await
        .expect("connect");
    let tools = session.list_tools(CALL).await.expect("list tools");
    let status_tool = tools
        .iter()
        .find(|tool| tool.name == "git_status")
        .unwrap_or_else(|| panic!("no git_status in {tools:?}"));
    assert!(status_tool.read_only, "git_status is annotated read-only");

    let output = session
        .call("git_status", args(json!({"repo_path": repo_path})), CALL)
        .await
        .expect("git_status");
    assert!(!output.is_error, "{output:?}");
    assert!(output.text.contains("untracked.txt"), "{}", output.text);

    let outside = session
        .call("git_status", args(json!({"repo_path": "/"})), CALL)
        .await
        .expect("a refused path is still an answer");
    assert!(
        outside.is_error,
        "a path outside --repository is refused: {outside:?}"
    );
    session.close().await;
}
