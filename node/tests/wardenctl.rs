//! `wardenctl` against a real cluster: the commands a person types, their table and
//! JSON output, exit codes and error lines, a task's life from submission to
//! cancellation, and membership removal.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{WARDEN, start};

/// `wardenctl` is built beside `warden` (scripts/test builds every binary first).
fn wardenctl_path() -> PathBuf {
    let path = PathBuf::from(WARDEN).with_file_name("wardenctl");
    assert!(
        path.exists(),
        "{} is missing: build the workspace's binaries first",
        path.display()
    );
    path
}

/// Runs `wardenctl` against `endpoints`, presenting the token in `token_file`.
async fn wardenctl(token_file: &Path, endpoints: &[String], args: &[&str]) -> Output {
    tokio::process::Command::new(wardenctl_path())
        .arg("--endpoints")
        .arg(endpoints.join(","))
        .arg("--token-file")
        .arg(token_file)
        .env_remove("WARDEN_TOKEN")
        .args(args)
        .output()
        .await
        .expect("run wardenctl")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("json output")
}

#[tokio::test]
async fn wardenctl_drives_a_cluster() {
    let cluster = start(3, &[]).await;
    let endpoints = cluster.endpoints();
    let token_file = cluster.admin_token_path();

    let status = json(
        &wardenctl(
            &token_file,
            &endpoints,
            &["--output", "json", "cluster", "status"],
        )
        .await,
    );
    let members = status["members"].as_array().expect("members");
    assert_eq!(members.len(), 3);
    assert!(
        members.iter().all(|member| member["role"] == "voter"),
        "{status}"
    );
    assert!(status["leader_id"].as_u64().is_some(), "{status}");

    let created = wardenctl(&token_file, &endpoints, &["workspace", "create", "ops"]).await;
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    // A provider nothing calls (the discard port) and a paused agent: its tasks stay
    // pending.
    let provider = wardenctl(
        &token_file,
        &endpoints,
        &[
            "provider",
            "put",
            "ops",
            "model",
            "--kind",
            "openai",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--model",
            "none",
        ],
    )
    .await;
    assert!(
        provider.status.success(),
        "{}",
        String::from_utf8_lossy(&provider.stderr)
    );
    let agent = wardenctl(
        &token_file,
        &endpoints,
        &[
            "agent",
            "create",
            "ops",
            "bot",
            "--provider",
            "model",
            "--instructions",
            "be brief",
            "--paused",
        ],
    )
    .await;
    assert!(
        agent.status.success(),
        "{}",
        String::from_utf8_lossy(&agent.stderr)
    );
    let agent = json(
        &wardenctl(
            &token_file,
            &endpoints,
            &["--output", "json", "agent", "get", "ops", "bot"],
        )
        .await,
    );
    assert_eq!(agent["paused"], true, "{agent}");
    assert_eq!(agent["provider"], "model", "{agent}");

    let submitted = wardenctl(
        &token_file,
        &endpoints,
        &["task", "submit", "ops", "--agent", "bot", "hi"],
    )
    .await;
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    let task_id = stdout(&submitted).trim().to_owned();
    assert_eq!(task_id.len(), 26, "prints the task id: {task_id:?}");

    let task = json(
        &wardenctl(
            &token_file,
            &endpoints,
            &["--output", "json", "task", "get", "ops", &task_id],
        )
        .await,
    );
    assert_eq!(task["id"], task_id.as_str(), "{task}");
    assert_eq!(task["status"], "pending");
    assert_eq!(task["input"], "hi");
    assert_eq!(task["agent"], "bot");

    // Pending for the paused agent: waiting times out with exit status 1.
    let waited = wardenctl(
        &token_file,
        &endpoints,
        &["task", "wait", "ops", &task_id, "--wait-timeout", "500ms"],
    )
    .await;
    assert_eq!(
        waited.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&waited.stderr)
    );
    let cancelled = wardenctl(
        &token_file,
        &endpoints,
        &["task", "cancel", "ops", &task_id, "--reason", "not needed"],
    )
    .await;
    assert!(
        cancelled.status.success(),
        "{}",
        String::from_utf8_lossy(&cancelled.stderr)
    );
    let waited = wardenctl(&token_file, &endpoints, &["task", "wait", "ops", &task_id]).await;
    assert_eq!(waited.status.code(), Some(0), "{}", stdout(&waited));
    // The watch replays the journal and ends by itself after the cancellation.
    let watched = wardenctl(&token_file, &endpoints, &["task", "watch", "ops", &task_id]).await;
    let lines = stdout(&watched);
    assert!(watched.status.success(), "{lines}");
    let kinds: Vec<&str> = lines
        .lines()
        .filter_map(|line| line.split_whitespace().nth(3))
        .collect();
    assert_eq!(kinds.first(), Some(&"submitted"), "{lines}");
    assert_eq!(kinds.last(), Some(&"cancelled"), "{lines}");
    let listed = json(
        &wardenctl(
            &token_file,
            &endpoints,
            &[
                "--output",
                "json",
                "task",
                "list",
                "ops",
                "--status",
                "cancelled",
            ],
        )
        .await,
    );
    let listed_ids: Vec<&str> = listed["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|task| task["id"].as_str())
        .collect();
    assert_eq!(listed_ids, [task_id.as_str()], "{listed}");
    let again = wardenctl(
        &token_file,
        &endpoints,
        &["task", "cancel", "ops", &task_id],
    )
    .await;
    assert_eq!(again.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&again.stderr).starts_with("error: FAILED_PRECONDITION: "),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    let refused = wardenctl(
        &token_file,
        &endpoints,
        &["task", "submit", "nowhere", "--agent", "bot", "x"],
    )
    .await;
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.starts_with("error: NOT_FOUND: "), "{stderr}");
    assert_eq!(
        stderr.matches("not found").count(),
        1,
        "the message is said once: {stderr}"
    );

    let verified = wardenctl(&token_file, &endpoints, &["audit", "verify"]).await;
    assert_eq!(verified.status.code(), Some(0), "{}", stdout(&verified));

    let removed = wardenctl(&token_file, &endpoints, &["cluster", "remove-node", "3"]).await;
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    let status = json(
        &wardenctl(
            &token_file,
            &endpoints[..2],
            &["--output", "json", "cluster", "status"],
        )
        .await,
    );
    let ids: Vec<u64> = status["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["node_id"].as_u64())
        .collect();
    assert_eq!(ids, vec![1, 2], "{status}");
    let unknown = wardenctl(
        &token_file,
        &endpoints[..2],
        &["cluster", "remove-node", "7"],
    )
    .await;
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("NOT_FOUND"));

    // The cluster keeps taking writes with two voters.
    let submitted = wardenctl(
        &token_file,
        &endpoints[..2],
        &["task", "submit", "ops", "--agent", "bot", "after"],
    )
    .await;
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
}
