//! `wardenctl` against a real cluster: the commands a person types, their table and
//! JSON output, exit codes and error lines, a task's life from submission to
//! cancellation, and membership removal.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{WARDEN, start};

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

/// Runs `wardenctl` against `endpoints`, presenting the token in `token_file` and
/// trusting the CA beside it (the test cluster's `tls/ca.pem`).
async fn wardenctl(token_file: &Path, endpoints: &[String], args: &[&str]) -> Output {
    let ca = token_file
        .with_file_name(warden_local_cluster::TLS_DIR)
        .join("ca.pem");
    tokio::process::Command::new(wardenctl_path())
        .arg("--endpoints")
        .arg(endpoints.join(","))
        .arg("--token-file")
        .arg(token_file)
        .arg("--ca")
        .arg(ca)
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
    // Under --output json the error is a JSON object on stderr; stdout stays empty.
    let refused = wardenctl(
        &token_file,
        &endpoints,
        &[
            "--output", "json", "task", "submit", "nowhere", "--agent", "bot", "x",
        ],
    )
    .await;
    assert_eq!(refused.status.code(), Some(2));
    assert!(refused.stdout.is_empty(), "{}", stdout(&refused));
    let error: serde_json::Value =
        serde_json::from_slice(&refused.stderr).expect("a JSON error on stderr");
    assert_eq!(error["error"]["code"], "NOT_FOUND", "{error}");
    assert!(error["error"]["message"].as_str().is_some(), "{error}");

    // Without a token the answer says how to give one; a token file that is not there is
    // an invalid invocation, not an unknown failure.
    let ca = token_file
        .with_file_name(warden_local_cluster::TLS_DIR)
        .join("ca.pem");
    let tokenless = std::process::Command::new(wardenctl_path())
        .arg("--endpoints")
        .arg(endpoints.join(","))
        .arg("--ca")
        .arg(&ca)
        .args(["workspace", "list"])
        .env_remove("WARDEN_TOKEN")
        .env_remove("WARDEN_TOKEN_FILE")
        .output()
        .expect("run wardenctl");
    let stderr = String::from_utf8_lossy(&tokenless.stderr);
    assert!(stderr.starts_with("error: UNAUTHENTICATED: "), "{stderr}");
    assert!(
        stderr.contains("--token-file")
            && stderr.contains("WARDEN_TOKEN_FILE")
            && stderr.contains("wardenctl sent no token"),
        "{stderr}"
    );
    // Without --ca wardenctl speaks plain text, which a TLS port cannot answer.
    let plain = std::process::Command::new(wardenctl_path())
        .arg("--endpoints")
        .arg(endpoints.join(","))
        .args(["--timeout", "5s", "workspace", "list"])
        .env_remove("WARDEN_CA_FILE")
        .output()
        .expect("run wardenctl without --ca");
    let stderr = String::from_utf8_lossy(&plain.stderr);
    assert_eq!(plain.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("pass --ca FILE or set WARDEN_CA_FILE"),
        "{stderr}"
    );
    let missing = wardenctl(
        &token_file.with_file_name("no-such-token"),
        &endpoints,
        &["workspace", "list"],
    )
    .await;
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.starts_with("error: INVALID_ARGUMENT: reading the token file "),
        "{stderr}"
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

/// Governance from the command line: tokens and roles, a policy set and tested, an
/// approval listed, refused for the wrong arguments hash and granted by an approver.
#[tokio::test]
async fn wardenctl_governs_tool_calls() {
    let cluster = start(1, &[]).await;
    let admin_token = cluster.admin_token_path();
    let endpoints = cluster.endpoints();
    let dir = cluster.dir.path();
    let run = |token: PathBuf, args: Vec<String>| {
        let endpoints = endpoints.clone();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            wardenctl(&token, &endpoints, &args).await
        }
    };
    let args = |text: &str| -> Vec<String> { text.split(' ').map(str::to_owned).collect() };

    let model = crate::common::agents::scripted_model(serde_json::json!({
        "steps": [{"tool_calls": [{"name": "ledger__put",
                                   "arguments": {"key": "payroll/bob", "value": "+1"}}]}],
        "final": "paid",
    }))
    .await;
    let ledger = cluster.tools_dir().join("ledger.jsonl");
    let client = cluster.client().expect("client");
    client.create_workspace("gov").await.expect("workspace");
    let workspace = crate::common::agents::Workspace::new(client.clone(), "gov");
    workspace
        .put_provider(crate::common::agents::ProviderSpec {
            name: "model",
            kind: "openai",
            base_url: model.base_url(),
            request_timeout_ms: 30_000,
            max_retries: 0,
        })
        .await;
    workspace
        .register_stdio(
            "ledger",
            crate::common::agents::ledger_entry(&cluster.tools_dir()),
            &["--ledger", &ledger.display().to_string()],
        )
        .await;
    workspace
        .create_agent("clerk", "model", &[("ledger", "put")], Default::default())
        .await;

    let rules = dir.join("rules.json");
    std::fs::write(
        &rules,
        r#"{"rules": [
  {"id": "allow-ledger", "priority": 0, "subject": "any", "target": {"server": "ledger"},
   "conditions": [], "effect": "allow", "description": ""},
  {"id": "payroll", "priority": 10, "subject": "any",
   "target": {"tool": {"server": "ledger", "tool": "put"}},
   "conditions": [{"path": "$.key", "test": {"prefix": "payroll/"}}],
   "effect": {"require_approval": {"approvers": [{"role": "approver"}], "quorum": 1,
              "expiry_ms": 600000, "on_expiry": "deny"}},
   "description": ""}]}"#,
    )
    .expect("rules file");
    let set = run(
        admin_token.clone(),
        args(&format!(
            "policy set gov {} --expected-version 0",
            rules.display()
        )),
    )
    .await;
    assert!(stdout(&set).contains("version 1"), "{set:?}");
    let stale = run(
        admin_token.clone(),
        args(&format!(
            "policy set gov {} --expected-version 0",
            rules.display()
        )),
    )
    .await;
    assert_eq!(stale.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&stale.stderr).starts_with("error: ABORTED"));

    let mut probe =
        args("policy test gov --agent clerk --server ledger --tool put --output json --args");
    probe.push(r#"{"key":"payroll/bob","value":"+1"}"#.to_owned());
    let decided = json(&run(admin_token.clone(), probe.clone()).await);
    assert_eq!(decided["effect"], "require_approval");
    assert_eq!(decided["rule"], "payroll");
    let hash = decided["arguments_hash"].as_str().expect("hash").to_owned();
    *probe.last_mut().expect("args") = r#"{"key":"ledger/x","value":"1"}"#.to_owned();
    let allowed = json(&run(admin_token.clone(), probe.clone()).await);
    assert_eq!(
        (allowed["effect"].as_str(), allowed["rule"].as_str()),
        (Some("allow"), Some("allow-ledger"))
    );
    assert_eq!(allowed["policy_version"], 1);
    // The probe decides as apply() does: a tool the agent holds no grant for is denied
    // before the policy is asked, whatever the policy says.
    let tool = probe
        .iter()
        .position(|arg| arg == "put")
        .expect("--tool put");
    probe[tool] = "get".to_owned();
    let ungranted = json(&run(admin_token.clone(), probe).await);
    assert_eq!(ungranted["effect"], "deny");
    assert!(
        ungranted["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("no grant for ledger/get")),
        "{ungranted}"
    );

    // An approver with a token of their own.
    let approver_token = dir.join("approver.token");
    let created = run(
        admin_token.clone(),
        args(&format!(
            "token create user/ann --ttl 1h --out {}",
            approver_token.display()
        )),
    )
    .await;
    assert!(created.status.success(), "{created:?}");
    let bound = run(
        admin_token.clone(),
        args("role set user/ann approver --workspace gov"),
    )
    .await;
    assert!(bound.status.success(), "{bound:?}");
    let whoami = json(&run(approver_token.clone(), args("whoami --output json")).await);
    assert_eq!(whoami["principal"], "user/ann");

    let task = workspace.submit("clerk", "pay bob").await;
    let listed = crate::common::eventually(
        "the approval request",
        std::time::Duration::from_secs(30),
        || {
            let token = admin_token.clone();
            async move {
                let listed = json(&run(token, args("approval list gov --output json")).await);
                listed.as_array().filter(|list| !list.is_empty()).cloned()
            }
        },
    )
    .await;
    assert_eq!(listed[0]["task_id"], task.id.as_str());
    assert_eq!(
        listed[0]["arguments_hash"],
        hash.as_str(),
        "policy test shows the hash approvals name"
    );
    let call = listed[0]["call_id"].as_str().expect("call").to_owned();

    let wrong = run(
        approver_token.clone(),
        args(&format!(
            "approval approve gov {} --call {call} --hash {} --reason ok",
            task.id,
            "0".repeat(64)
        )),
    )
    .await;
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("FAILED_PRECONDITION"),
        "{wrong:?}"
    );
    // A short hash that the waiting call's does not begin with is refused before the
    // call; the 12 digits `approval list` shows approve.
    let mismatched = run(
        approver_token.clone(),
        args(&format!(
            "approval approve gov {} --call {call} --hash {} --reason ok",
            task.id,
            "0".repeat(12)
        )),
    )
    .await;
    assert_eq!(mismatched.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&mismatched.stderr).contains("does not begin with"),
        "{mismatched:?}"
    );
    let listed_table = run(admin_token.clone(), args("approval list gov")).await;
    let short = &hash[..12];
    assert!(stdout(&listed_table).contains(short), "{listed_table:?}");
    let shown = json(
        &run(
            admin_token.clone(),
            args(&format!("task show gov {} --output json", task.id)),
        )
        .await,
    );
    assert_eq!(
        shown["id"],
        task.id.as_str(),
        "task show is task get: {shown}"
    );
    let approved = run(
        approver_token,
        args(&format!(
            "approval approve gov {} --call {call} --hash {short} --reason ok",
            task.id
        )),
    )
    .await;
    assert!(approved.status.success(), "{approved:?}");
    let done = workspace
        .wait_settled(&task.id, std::time::Duration::from_secs(30))
        .await
        .expect("settles");
    assert_eq!(done.status(), warden_proto::v1::TaskStatus::Completed);
    assert_eq!(warden_mcp::read_ledger(&ledger).expect("ledger").len(), 1);
    // Placed again after the approval, on its only node, which never died: no failover.
    let text = crate::common::scrape(&cluster, 1).await;
    assert_eq!(
        crate::common::metric_value(&text, "warden_task_failovers_total", &[]).unwrap_or(0.0),
        0.0,
        "{text}"
    );
    // The model's responses reported their token use.
    for direction in ["direction=\"input\"", "direction=\"output\""] {
        assert!(
            crate::common::metric_value(&text, "warden_model_tokens_total", &[direction])
                .unwrap_or(0.0)
                > 0.0,
            "{text}"
        );
    }
}

#[tokio::test]
async fn wardenctl_sets_settings_and_deletes_configuration_and_workspaces() {
    let cluster = start(1, &[]).await;
    let endpoints = cluster.endpoints();
    let token_file = cluster.admin_token_path();
    let run = |args: &'static [&'static str]| wardenctl(&token_file, &endpoints, args);
    let succeeded = |output: &Output| {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    succeeded(&run(&["workspace", "create", "scratch"]).await);
    succeeded(
        &run(&[
            "provider",
            "put",
            "scratch",
            "model",
            "--kind",
            "openai",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--model",
            "none",
        ])
        .await,
    );
    succeeded(
        &run(&[
            "agent",
            "create",
            "scratch",
            "bot",
            "--provider",
            "model",
            "--paused",
        ])
        .await,
    );
    let submitted = run(&["task", "submit", "scratch", "--agent", "bot", "x"]).await;
    succeeded(&submitted);
    let task = stdout(&submitted).trim().to_owned();

    let refused = run(&["provider", "delete", "scratch", "model"]).await;
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.starts_with("error: FAILED_PRECONDITION: ")
            && stderr.contains("provider scratch/model is used by agent bot"),
        "{stderr}"
    );
    let refused = run(&["agent", "delete", "scratch", "bot"]).await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!("1 unfinished task ({task})")),
        "{stderr}"
    );

    // Settings: the defaults until a workspace admin sets them; an unknown value is an
    // error, not a default.
    let settings = stdout(&run(&["workspace", "settings", "scratch"]).await);
    assert!(settings.contains("trace content:  off"), "{settings}");
    assert!(settings.contains("never (defaults)"), "{settings}");
    let set = run(&["workspace", "set", "scratch", "--trace-content", "on"]).await;
    succeeded(&set);
    assert!(
        stdout(&set).contains("trace content:  on"),
        "{}",
        stdout(&set)
    );
    let settings = json(&run(&["--output", "json", "workspace", "settings", "scratch"]).await);
    assert_eq!(settings["trace_content"], true, "{settings}");
    assert_eq!(settings["updated_by"], "user/admin", "{settings}");
    let unknown = run(&["workspace", "set", "scratch", "--trace-content", "maybe"]).await;
    assert_eq!(unknown.status.code(), Some(2));

    // Without --yes nothing is deleted, and the error says how to confirm.
    let unconfirmed = run(&["workspace", "delete", "scratch"]).await;
    assert!(!unconfirmed.status.success());
    let stderr = String::from_utf8_lossy(&unconfirmed.stderr);
    assert!(stderr.contains("repeat with --yes"), "{stderr}");
    assert!(stdout(&run(&["workspace", "list"]).await).contains("scratch"));

    let cancel = ["task", "cancel", "scratch", task.as_str()];
    succeeded(&wardenctl(&token_file, &endpoints, &cancel).await);
    let deleted = run(&["agent", "delete", "scratch", "bot"]).await;
    succeeded(&deleted);
    assert_eq!(stdout(&deleted), "deleted agent scratch/bot\n");
    let provider =
        json(&run(&["--output", "json", "provider", "delete", "scratch", "model"]).await);
    assert_eq!(provider["name"], "model", "{provider}");
    let workspace = run(&["workspace", "delete", "scratch", "--yes"]).await;
    succeeded(&workspace);
    assert_eq!(stdout(&workspace), "deleted workspace scratch\n");
    assert!(!stdout(&run(&["workspace", "list"]).await).contains("scratch"));
}

#[tokio::test]
async fn wardenctl_backs_up_into_a_new_file_that_warden_restore_accepts() {
    let cluster = start(1, &[]).await;
    let endpoints = cluster.endpoints();
    let token_file = cluster.admin_token_path();
    let dir = tempfile::tempdir().expect("a directory");
    let file = dir.path().join("cluster.backup");
    let path = file.display().to_string();
    let taken = wardenctl(&token_file, &endpoints, &["backup", "create", &path]).await;
    assert!(
        taken.status.success(),
        "{}",
        String::from_utf8_lossy(&taken.stderr)
    );
    assert!(
        stdout(&taken).starts_with(&format!("wrote {path} (")),
        "{}",
        stdout(&taken)
    );
    assert!(!dir.path().join("cluster.backup.partial").exists());
    // An existing file is never overwritten.
    let again = wardenctl(&token_file, &endpoints, &["backup", "create", &path]).await;
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));

    let restored = std::process::Command::new(crate::common::WARDEN)
        .arg("restore")
        .arg(&file)
        .arg("--data-dir")
        .arg(dir.path().join("node"))
        .args(["--advertise", "127.0.0.1:7999"])
        .output()
        .expect("run warden restore");
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert!(dir.path().join("node/db").is_dir());
}
