//! `wardenctl` end to end against in-process doubles: exit codes, the error line, the
//! JSON Lines export, task waits and watches, and the agent configuration commands.

use std::process::Output;

use crate::common::{
    AgentServiceDouble, AuditServiceDouble, ExportBehavior, JournalDouble, SubmitReply,
    TaskServiceDouble, WatchBehavior, dead_address,
};
use warden_client::proto::{Agent, AgentLimits, ToolGrant, VerifyAuditResponse};

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
            ..VerifyAuditResponse::default()
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
        &["task", "submit", "missing", "--agent", "bot", "x"],
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
        &["task", "submit", "default", "--agent", "bot", "hello"],
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
    assert_eq!(records[2]["hash"], crate::common::record(3).hash);
    assert_eq!(records[2]["prev_hash"], crate::common::record(3).prev_hash);
    assert_eq!(healthy.requested_from_indexes(), [3]);
}

#[tokio::test]
async fn submit_without_an_agent_is_a_usage_error() {
    let tasks = TaskServiceDouble::new(SubmitReply::Accept);
    let server = tasks.serve().await;

    let output = wardenctl(&server.address, &["task", "submit", "default", "hello"]).await;

    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("--agent"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(tasks.calls(), 0);
}

#[tokio::test]
async fn wait_exits_0_when_settled_and_1_when_the_timeout_passes() {
    let settling = TaskServiceDouble::new(SubmitReply::Accept).settling();
    let running = TaskServiceDouble::new(SubmitReply::Accept);
    let settling_server = settling.serve().await;
    let running_server = running.serve().await;

    let settled = wardenctl(
        &settling_server.address,
        &["task", "wait", "default", "task-1", "--output", "json"],
    )
    .await;
    assert_eq!(settled.status.code(), Some(0), "{}", text(&settled.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&settled.stdout).expect("json");
    assert_eq!(answer["settled"], true);
    assert_eq!(answer["task"]["status"], "completed");

    let timed_out = wardenctl(
        &running_server.address,
        &[
            "task",
            "wait",
            "default",
            "task-1",
            "--wait-timeout",
            "300ms",
        ],
    )
    .await;
    let stderr = text(&timed_out.stderr);
    assert_eq!(timed_out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not settled within 300ms"), "{stderr}");
    assert!(text(&timed_out.stdout).contains("status           running"));
}

#[tokio::test]
async fn watch_prints_each_event_once_across_a_broken_stream() {
    let task = "01JQ4ZK8M2X3V5N7P9R1T3W5Y7";
    let journal = JournalDouble::new(
        task,
        6,
        WatchBehavior {
            break_first_after: Some(3),
            ..WatchBehavior::default()
        },
    );
    let server = journal.serve().await;

    let output = wardenctl(&server.address, &["task", "watch", "default", task]).await;

    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    for (seq, line) in lines.iter().enumerate() {
        assert!(
            line.starts_with(&format!("{seq:>4}  2025-03-01T12:00:00.00{seq}Z")),
            "{line}"
        );
    }
    assert!(
        lines[0].contains("submitted") && lines[0].ends_with("agent=bot"),
        "{stdout}"
    );
    assert!(lines[2].ends_with(r#"content="step 2" turn=2"#), "{stdout}");
    assert!(lines[5].contains("completed"), "{stdout}");
    assert_eq!(journal.requested_from_seqs(), [0, 3]);
}

#[tokio::test]
async fn watch_in_json_writes_one_object_per_line() {
    let task = "01JQ4ZK8M2X3V5N7P9R1T3W5Y7";
    let journal = JournalDouble::new(task, 4, WatchBehavior::default());
    let server = journal.serve().await;

    let output = wardenctl(
        &server.address,
        &[
            "task",
            "watch",
            "default",
            task,
            "--from-seq",
            "2",
            "--output",
            "json",
        ],
    )
    .await;

    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let events: Vec<serde_json::Value> = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is a JSON object"))
        .collect();
    let seqs: Vec<u64> = events
        .iter()
        .filter_map(|event| event["seq"].as_u64())
        .collect();
    assert_eq!(seqs, [2, 3]);
    assert_eq!(events[1]["status"], "completed");
    assert_eq!(events[1]["detail"]["result"], "done");
}

#[tokio::test]
async fn journal_shows_every_event_in_a_table() {
    let task = "01JQ4ZK8M2X3V5N7P9R1T3W5Y7";
    let journal = JournalDouble::new(task, 3, WatchBehavior::default());
    let server = journal.serve().await;

    let output = wardenctl(&server.address, &["task", "journal", "default", task]).await;

    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "SEQ  TIME                      EPOCH  KIND             DETAIL\n\
         0    2025-03-01T12:00:00.000Z  1      submitted        agent=bot\n\
         1    2025-03-01T12:00:00.001Z  1      model_responded  content=\"step 1\" turn=1\n\
         2    2025-03-01T12:00:00.002Z  1      completed        result=done\n"
    );
}

#[tokio::test]
async fn resolve_takes_exactly_one_decision() {
    let tasks = TaskServiceDouble::new(SubmitReply::Accept);
    let server = tasks.serve().await;

    for args in [
        &["task", "resolve", "default", "task-1"][..],
        &[
            "task", "resolve", "default", "task-1", "--retry", "--fail", "no",
        ],
    ] {
        let output = wardenctl(&server.address, args).await;
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
    assert_eq!(tasks.calls_to("ResolveTask"), 0);

    let output = wardenctl(
        &server.address,
        &["task", "resolve", "default", "task-1", "--skip-with", "{}"],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "task task-1 is running\n");
}

#[tokio::test]
async fn cancel_with_an_unknown_outcome_says_so() {
    let tasks = TaskServiceDouble::new(SubmitReply::Unavailable);
    let server = tasks.serve().await;

    let output = wardenctl(&server.address, &["task", "cancel", "default", "task-1"]).await;

    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: UNAVAILABLE: "), "{stderr}");
    assert!(stderr.contains("may have taken effect"), "{stderr}");
    assert_eq!(tasks.calls_to("CancelTask"), 1, "not sent again");
}

#[tokio::test]
async fn providers_mcp_servers_and_agents_are_created_and_listed() {
    let agents = AgentServiceDouble::new();
    let server = agents.serve().await;
    let address = server.address.as_str();

    let put = wardenctl(
        address,
        &[
            "provider",
            "put",
            "ws",
            "model",
            "--kind",
            "openai",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--model",
            "none",
            "--api-key-env",
            "KEY",
            "--request-timeout",
            "45s",
        ],
    )
    .await;
    assert_eq!(put.status.code(), Some(0), "{}", text(&put.stderr));
    assert_eq!(text(&put.stdout), "put provider model (version 1)\n");
    let provider = agents.provider("model").expect("stored");
    assert_eq!(
        (
            provider.kind.as_str(),
            provider.request_timeout_ms,
            provider.max_retries
        ),
        ("openai", 45_000, 2)
    );
    let listed = wardenctl(address, &["provider", "list", "ws"]).await;
    assert!(
        text(&listed.stdout).contains("45s"),
        "{}",
        text(&listed.stdout)
    );

    let registered = wardenctl(
        address,
        &[
            "mcp",
            "register",
            "ws",
            "files",
            "--catalog",
            "files-server",
            "--arg",
            "--root",
            "--arg",
            "/data",
            "--env",
            "LOG=debug",
        ],
    )
    .await;
    assert_eq!(
        registered.status.code(),
        Some(0),
        "{}",
        text(&registered.stderr)
    );
    let stored = agents.server("files").expect("stored");
    assert_eq!(stored.args, ["--root", "/data"]);
    assert_eq!(stored.env.get("LOG").map(String::as_str), Some("debug"));
    let listed = wardenctl(address, &["mcp", "list", "ws"]).await;
    let stdout = text(&listed.stdout);
    assert!(
        stdout.contains("stdio: catalog files-server --root /data"),
        "{stdout}"
    );
    assert!(
        stdout.contains("files   delete  no         yes         yes          cdcdcdcdcdcd  -\n"),
        "{stdout}"
    );
    let neither = wardenctl(address, &["mcp", "register", "ws", "other"]).await;
    assert_eq!(
        neither.status.code(),
        Some(2),
        "--catalog or --url is required"
    );

    let created = wardenctl(
        address,
        &[
            "agent",
            "create",
            "ws",
            "bot",
            "--provider",
            "model",
            "--instructions",
            "be brief",
            "--tool",
            "files/read",
            "--tool",
            "files/delete:no-retry",
            "--deadline",
            "10m",
            "--paused",
        ],
    )
    .await;
    assert_eq!(created.status.code(), Some(0), "{}", text(&created.stderr));
    let agent = agents.agent("bot").expect("stored");
    assert!(agent.paused);
    assert_eq!(agent.tools.len(), 2);
    assert_eq!(agent.tools[1].retry_safe, Some(false));
    let limits = agent.limits.expect("limits");
    assert_eq!(limits.deadline_ms, 600_000);
    assert_eq!(limits.max_steps, 0, "left to the server's default");

    let shown = wardenctl(address, &["--output", "json", "agent", "get", "ws", "bot"]).await;
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("json");
    assert_eq!(shown["tools"][1]["retry_safe"], false);
    assert_eq!(shown["tools"][0]["retry_safe"], serde_json::Value::Null);
}

#[tokio::test]
async fn agent_update_changes_only_the_options_given() {
    let agents = AgentServiceDouble::new().with_agent(Agent {
        workspace: "ws".into(),
        name: "bot".into(),
        instructions: "be brief".into(),
        provider: "model".into(),
        tools: vec![ToolGrant {
            server: "files".into(),
            tool: "read".into(),
            retry_safe: None,
        }],
        limits: Some(AgentLimits {
            max_steps: 32,
            token_budget: 200_000,
            deadline_ms: 1_800_000,
            stall_timeout_ms: 300_000,
        }),
        paused: true,
        version: 4,
    });
    let server = agents.serve().await;

    let output = wardenctl(
        &server.address,
        &[
            "agent",
            "update",
            "ws",
            "bot",
            "--expected-version",
            "4",
            "--max-steps",
            "5",
            "--resume",
        ],
    )
    .await;

    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "updated agent bot to version 5\n");
    let updates = agents.updates();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].expected_version, 4);
    let agent = agents.agent("bot").expect("stored");
    assert!(!agent.paused);
    assert_eq!(agent.instructions, "be brief");
    assert_eq!(agent.tools.len(), 1);
    let limits = agent.limits.expect("limits");
    assert_eq!((limits.max_steps, limits.token_budget), (5, 200_000));

    let stale = wardenctl(
        &server.address,
        &[
            "agent",
            "update",
            "ws",
            "bot",
            "--expected-version",
            "4",
            "--paused",
        ],
    )
    .await;
    let stderr = text(&stale.stderr);
    assert_eq!(stale.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: ABORTED: "), "{stderr}");
}

#[tokio::test]
async fn secrets_are_read_from_files_or_standard_input_and_never_printed() {
    let agents = AgentServiceDouble::new();
    let server = agents.serve().await;
    let address = server.address.as_str();
    let dir = std::env::temp_dir().join(format!("wardenctl-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a directory for the secret files");
    let key_file = dir.join("key");
    std::fs::write(&key_file, "sk-from-a-file\n").expect("write the key file");
    let token_file = dir.join("token");
    std::fs::write(&token_file, "token-from-a-file").expect("write the token file");

    let put = wardenctl(
        address,
        &[
            "--output",
            "json",
            "provider",
            "put",
            "ws",
            "filed",
            "--kind",
            "openai",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--model",
            "none",
            "--api-key-file",
            &key_file.display().to_string(),
        ],
    )
    .await;
    assert_eq!(put.status.code(), Some(0), "{}", text(&put.stderr));
    assert_eq!(
        agents.provider("filed").expect("stored").api_key,
        "sk-from-a-file",
        "sent without the trailing newline"
    );
    assert!(
        !text(&put.stdout).contains("sk-from"),
        "{}",
        text(&put.stdout)
    );

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_wardenctl"))
        .env_remove("WARDEN_ENDPOINTS")
        .args(["--endpoints", address, "provider", "put", "ws", "piped"])
        .args(["--kind", "anthropic", "--base-url", "http://127.0.0.1:9"])
        .args(["--model", "none", "--api-key-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run wardenctl");
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(b"sk-from-stdin\n")
            .await
            .expect("write the key");
    }
    let piped = child.wait_with_output().await.expect("wardenctl output");
    assert_eq!(piped.status.code(), Some(0), "{}", text(&piped.stderr));
    assert_eq!(
        agents.provider("piped").expect("stored").api_key,
        "sk-from-stdin"
    );

    let both = wardenctl(
        address,
        &[
            "provider",
            "put",
            "ws",
            "both",
            "--kind",
            "openai",
            "--base-url",
            "http://x",
            "--model",
            "none",
            "--api-key-env",
            "KEY",
            "--api-key-stdin",
        ],
    )
    .await;
    assert_eq!(both.status.code(), Some(2), "one source of the key at most");

    let registered = wardenctl(
        address,
        &[
            "mcp",
            "register",
            "ws",
            "files",
            "--catalog",
            "files-server",
            "--secret-env-file",
            &format!("API_TOKEN={}", token_file.display()),
        ],
    )
    .await;
    assert_eq!(
        registered.status.code(),
        Some(0),
        "{}",
        text(&registered.stderr)
    );
    let stored = agents.server("files").expect("stored");
    assert_eq!(
        stored.secret_env.get("API_TOKEN").map(String::as_str),
        Some("token-from-a-file")
    );
    assert!(stored.env.is_empty());
    for output in [&registered, &put, &piped] {
        let printed = format!("{}{}", text(&output.stdout), text(&output.stderr));
        assert!(!printed.contains("-from-"), "{printed}");
    }
    std::fs::remove_dir_all(&dir).expect("remove the secret files");
}
