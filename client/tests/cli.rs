//! `wardenctl` end to end against in-process doubles: exit codes, the error line, and
//! the JSON Lines export.

mod common;

use std::process::Output;

use common::{AuditServiceDouble, ExportBehavior, SubmitReply, TaskServiceDouble, dead_address};
use warden_client::proto::VerifyAuditResponse;

async fn wardenctl(endpoints: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_wardenctl"))
        .env_remove("WARDEN_ENDPOINTS")
        .arg("--endpoints")
        .arg(endpoints)
        .args(args)
        .output()
        .await
        .expect("run wardenctl")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn failed_verification_exits_with_1_and_names_the_bad_record() {
    let audit =
        AuditServiceDouble::new(0, ExportBehavior::default()).with_verify(VerifyAuditResponse {
            ok: false,
            record_count: 9,
            head_hash: "ab".repeat(32),
            first_bad_index: Some(4),
            problem: "hash does not match".into(),
            node_id: 3,
            applied_index: 40,
        });
    let server = audit.serve().await;

    let output = wardenctl(&server.address, &["audit", "verify"]).await;

    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("FAILED"), "{stdout}");
    assert!(stdout.contains("first bad index  4"), "{stdout}");
    assert!(stdout.contains("hash does not match"), "{stdout}");
    assert!(stdout.contains(&"ab".repeat(32)), "{stdout}");
}

#[tokio::test]
async fn successful_verification_exits_with_0() {
    let audit =
        AuditServiceDouble::new(0, ExportBehavior::default()).with_verify(VerifyAuditResponse {
            ok: true,
            record_count: 9,
            node_id: 3,
            ..VerifyAuditResponse::default()
        });
    let server = audit.serve().await;

    let output = wardenctl(&server.address, &["audit", "verify", "--output", "json"]).await;

    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON document");
    assert_eq!(report["ok"], true);
    assert_eq!(report["record_count"], 9);
    assert_eq!(report["first_bad_index"], serde_json::Value::Null);
}

#[tokio::test]
async fn server_errors_exit_with_2_and_the_grpc_code() {
    let tasks = TaskServiceDouble::new(SubmitReply::NotFound);
    let server = tasks.serve().await;

    let output = wardenctl(
        &server.address,
        &["task", "submit", "--workspace", "missing", "--input", "x"],
    )
    .await;

    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: NOT_FOUND: "), "{stderr}");
    assert!(stderr.contains("workspace does not exist"), "{stderr}");
    assert_eq!(tasks.calls(), 1);
}

#[tokio::test]
async fn unreachable_cluster_exits_with_2_and_unavailable() {
    let refusing = dead_address().await;

    let output = wardenctl(&refusing, &["cluster", "status"]).await;

    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: UNAVAILABLE: "), "{stderr}");
    assert!(stderr.contains(&refusing), "{stderr}");
}

#[tokio::test]
async fn submit_prints_the_task_id() {
    let tasks = TaskServiceDouble::new(SubmitReply::Accept);
    let server = tasks.serve().await;

    let output = wardenctl(
        &server.address,
        &[
            "task",
            "submit",
            "--workspace",
            "default",
            "--input",
            "hello",
        ],
    )
    .await;

    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "task-1\n");
}

#[tokio::test]
async fn export_writes_one_json_line_per_record_across_a_resume() {
    let breaking = AuditServiceDouble::new(
        6,
        ExportBehavior {
            break_after: Some(2),
            ..ExportBehavior::default()
        },
    );
    let healthy = AuditServiceDouble::new(6, ExportBehavior::default());
    let first = breaking.serve().await;
    let second = healthy.serve().await;
    let endpoints = format!("{},{}", first.address, second.address);

    let output = wardenctl(&endpoints, &["audit", "export", "--from", "1"]).await;

    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let records: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is a JSON object"))
        .collect();
    let indexes: Vec<u64> = records
        .iter()
        .map(|record| record["index"].as_u64().expect("an index"))
        .collect();
    assert_eq!(indexes, [1, 2, 3, 4, 5, 6]);
    assert_eq!(records[2]["hash"], common::record(3).hash);
    assert_eq!(records[2]["prev_hash"], common::record(3).prev_hash);
    assert_eq!(healthy.requested_from_indexes(), [3]);
}
