//! Encrypted secrets: a provider's API key, a stdio MCP server's secret environment and an
//! HTTP MCP server's bearer token reach the model and the servers (the doubles refuse
//! anything else), and nothing else: after the nodes are stopped, no byte of any file
//! under the cluster's directory (data directories with RocksDB's files and write-ahead
//! log, node logs), no record of the exported audit chain, no journal event and no
//! `ListProviders` answer holds them. Also: a node refuses to start with its master key
//! file inside its data directory or readable by others, and a node without a master key
//! refuses requests carrying secrets.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::agents::{Workspace, ledger_entry, ledger_tools, scripted_model};
use crate::common::{WARDEN, settings, start};
use futures::StreamExt;
use serde_json::json;
use warden_client::{Client, ClientOptions, Consistency};
use warden_local_cluster::LocalCluster;
use warden_proto::v1::{Agent, AgentLimits, McpServer, Provider, TaskStatus, ToolGrant};

const WORKSPACE: &str = "vault";
const SETTLE: Duration = Duration::from_secs(60);

/// `prefix-` and 32 random hex digits: found nowhere unless it leaked.
fn random_marker(prefix: &str) -> String {
    let bytes: [u8; 16] = rand::random();
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{prefix}-{hex}")
}

fn provider(name: &str, kind: &str, base_url: &str, api_key: &str) -> Provider {
    Provider {
        workspace: WORKSPACE.to_owned(),
        name: name.to_owned(),
        kind: kind.to_owned(),
        base_url: base_url.to_owned(),
        model: "scripted".to_owned(),
        request_timeout_ms: 30_000,
        max_retries: 0,
        max_output_tokens: 256,
        api_key: api_key.to_owned(),
        ..Provider::default()
    }
}

/// A client whose requests may take long (registering starts the MCP server).
fn patient_client(cluster: &LocalCluster) -> Client {
    let options = ClientOptions {
        request_timeout: Duration::from_secs(60),
        ..cluster.client_options().expect("client options")
    };
    Client::connect(cluster.endpoints(), options).expect("client")
}

/// The ledger server over streamable HTTP, requiring the bearer token in
/// `required_bearer`; killed when dropped.
struct HttpLedger {
    url: String,
    _child: tokio::process::Child,
}

impl HttpLedger {
    async fn start(dir: &Path, required_bearer: &Path) -> HttpLedger {
        let ready_file = dir.join("http-ledger.url");
        let mut child = tokio::process::Command::new(ledger_tools())
            .arg("--ledger")
            .arg(dir.join("http-ledger.jsonl"))
            .args(["--http", "127.0.0.1:0", "--ready-file"])
            .arg(&ready_file)
            .arg("--require-bearer-file")
            .arg(required_bearer)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start warden-ledger-tools --http");
        let url = crate::common::eventually("the HTTP ledger's ready file", SETTLE, || {
            let exited = child.try_wait().expect("check the ledger server");
            assert!(
                exited.is_none(),
                "the HTTP ledger server exited: {exited:?}"
            );
            let url = std::fs::read_to_string(&ready_file).ok();
            async move { url }
        })
        .await;
        HttpLedger { url, _child: child }
    }
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("list {}: {error}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// The files under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|path| {
            let bytes = std::fs::read(path)
                .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
            contains(&bytes, needle)
        })
        .collect()
}

/// Every key and value of every column family of a stopped node's database, decoded by
/// RocksDB (so compressed blocks are searched too), that contains `needle`.
fn db_entries_containing(db_path: &Path, needle: &str) -> Vec<String> {
    let options = rocksdb::Options::default();
    let families = rocksdb::DB::list_cf(&options, db_path).expect("list column families");
    let db = rocksdb::DB::open_cf_for_read_only(&options, db_path, &families, false)
        .expect("open the stopped node's db");
    let mut found = Vec::new();
    for family in &families {
        let handle = db.cf_handle(family).expect("column family");
        for item in db.iterator_cf(&handle, rocksdb::IteratorMode::Start) {
            let (key, value) = item.expect("read an entry");
            if contains(&key, needle) || contains(&value, needle) {
                found.push(format!("{family}: key {}", String::from_utf8_lossy(&key)));
            }
        }
    }
    found
}

#[tokio::test]
async fn secrets_reach_only_the_model_and_the_tool_server() {
    let api_key = random_marker("canary");
    let tool_token = random_marker("canary");
    let bearer = random_marker("canary");
    let wrong_key = random_marker("wrong");
    // The agents' instructions, stored in plaintext, so every search below must find it:
    // the searches can fail.
    let marker = random_marker("plaintext-marker");

    // The doubles and the credential files live outside the cluster's directory, so the
    // searches find only what Warden wrote.
    let outside = tempfile::tempdir().expect("tempdir");
    let required_token = outside.path().join("required-token");
    std::fs::write(&required_token, &tool_token).expect("write the required token");
    let required_bearer = outside.path().join("required-bearer");
    std::fs::write(&required_bearer, &bearer).expect("write the required bearer token");
    let http_ledger = HttpLedger::start(outside.path(), &required_bearer).await;
    let model = scripted_model(json!({
        "steps": [{"tool_calls": [
            {"name": "ledger__noop", "arguments": {}},
            {"name": "remote__noop", "arguments": {}},
        ]}],
        "final": "done",
        "require_api_key": api_key,
    }))
    .await;

    let mut cluster = start(3, &[("runtime.controller_interval", "100ms")]).await;
    let client = patient_client(&cluster);
    client
        .create_workspace(WORKSPACE)
        .await
        .expect("create the workspace");
    for (name, kind, key) in [
        ("openai", "openai", &api_key),
        ("anthropic", "anthropic", &api_key),
        ("wrong", "openai", &wrong_key),
    ] {
        let put = client
            .put_provider(provider(name, kind, &model.base_url(), key))
            .await
            .unwrap_or_else(|error| panic!("put provider {name}: {error}"))
            .provider
            .expect("a provider in the response");
        assert!(put.api_key_set, "{put:?}");
        assert!(put.api_key.is_empty(), "{put:?}");
    }

    // The ledger server starts only with the token in its environment: registering
    // (which lists its tools) and every call must bring it. The catalog entry lets it
    // write (and read its credential file) in `outside` only.
    client
        .put_catalog_entry(ledger_entry(outside.path()))
        .await
        .expect("put the ledger catalog entry");
    let registered = client
        .register_mcp_server(McpServer {
            workspace: WORKSPACE.to_owned(),
            name: "ledger".to_owned(),
            catalog: "ledger".to_owned(),
            args: vec![
                "--ledger".to_owned(),
                outside.path().join("ledger.jsonl").display().to_string(),
                "--require-env".to_owned(),
                format!("API_TOKEN={}", required_token.display()),
            ],
            secret_env: [("API_TOKEN".to_owned(), tool_token.clone())].into(),
            ..McpServer::default()
        })
        .await
        .expect("register the ledger server with its token")
        .server
        .expect("a server in the response");
    assert_eq!(registered.secret_env_names, vec!["API_TOKEN".to_owned()]);
    assert!(registered.secret_env.is_empty());
    // The HTTP ledger server answers 401 without the bearer token.
    let remote = client
        .register_mcp_server(McpServer {
            workspace: WORKSPACE.to_owned(),
            name: "remote".to_owned(),
            url: http_ledger.url.clone(),
            secret_bearer: bearer.clone(),
            ..McpServer::default()
        })
        .await
        .expect("register the HTTP ledger server with its bearer token")
        .server
        .expect("a server in the response");
    assert!(remote.secret_bearer_set && remote.secret_bearer.is_empty());

    for (agent, provider, grants) in [
        (
            "tooled",
            "openai",
            vec![("ledger", "noop"), ("remote", "noop")],
        ),
        ("plain", "anthropic", vec![]),
        ("locked-out", "wrong", vec![]),
    ] {
        client
            .create_agent(Agent {
                workspace: WORKSPACE.to_owned(),
                name: agent.to_owned(),
                instructions: marker.clone(),
                provider: provider.to_owned(),
                tools: grants
                    .into_iter()
                    .map(|(server, tool)| ToolGrant {
                        server: server.to_owned(),
                        tool: tool.to_owned(),
                        retry_safe: None,
                    })
                    .collect(),
                limits: Some(AgentLimits::default()),
                ..Agent::default()
            })
            .await
            .unwrap_or_else(|error| panic!("create agent {agent}: {error}"));
    }
    let allow_ledger = json!({"rules": [{
        "id": "allow-ledger", "priority": 0, "subject": "any",
        "target": "any", "conditions": [], "effect": "allow",
        "description": "",
    }]});
    client
        .put_policy(WORKSPACE, &allow_ledger.to_string(), 0)
        .await
        .expect("allow the ledger tools");
    let workspace = Workspace::new(client.clone(), WORKSPACE);

    let mut task_ids = Vec::new();
    for (agent, expected) in [
        ("tooled", TaskStatus::Completed),
        ("plain", TaskStatus::Completed),
        ("locked-out", TaskStatus::Failed),
    ] {
        let task = workspace.submit(agent, "go").await;
        let seen = workspace
            .wait_settled(&task.id, SETTLE)
            .await
            .unwrap_or_else(|evidence| panic!("agent {agent}: {evidence}"));
        seen.check_status(expected)
            .unwrap_or_else(|evidence| panic!("agent {agent}: {evidence}"));
        if agent == "tooled" {
            let finished = seen.details("tool_call_finished");
            assert!(
                finished.len() == 2 && finished.iter().all(|detail| detail["is_error"] == false),
                "both tool calls ran with their credentials\n{seen}"
            );
        }
        if agent == "locked-out" {
            // The double refuses a wrong key: the completed tasks prove the right one
            // was opened and sent.
            seen.check_reason(&["401"])
                .unwrap_or_else(|evidence| panic!("{evidence}"));
        }
        task_ids.push(task.id);
    }

    // What the API shows: flags and names, never the secrets.
    let listed = client
        .list_providers(WORKSPACE)
        .await
        .expect("list providers");
    assert!(listed.providers.iter().all(|provider| provider.api_key_set));
    let servers = client
        .list_mcp_servers(WORKSPACE)
        .await
        .expect("list mcp servers");
    let mut shown = format!("{listed:?}\n{servers:?}\n");
    for id in &task_ids {
        let journal = client
            .get_journal(WORKSPACE, id, 0, 0, Consistency::Linearizable)
            .await
            .expect("journal");
        shown.push_str(&format!("{journal:?}\n"));
    }
    let mut audit = std::pin::pin!(client.export_audit(1, Consistency::Linearizable));
    let mut records = Vec::new();
    while let Some(record) = audit.next().await {
        records.push(record.expect("an audit record"));
    }
    shown.push_str(&format!("{records:?}\n"));
    let provider_puts = records
        .iter()
        .filter(|record| record.action == "provider.put" && record.outcome == "accepted")
        .count();
    assert_eq!(provider_puts, 3, "each put with a key is audited as usual");
    assert!(
        records
            .iter()
            .any(|record| record.action == "mcp_server.register" && record.outcome == "accepted")
    );
    for secret in [&api_key, &tool_token, &bearer, &wrong_key] {
        assert!(
            !shown.contains(secret.as_str()),
            "a secret was shown:\n{shown}"
        );
    }

    // Stopping the nodes flushes their logs and RocksDB.
    cluster.stop_all().await.expect("stop the nodes");
    let base = cluster.dir.path().to_owned();
    assert!(
        !files_containing(&base, &marker).is_empty(),
        "the search finds what is stored in plaintext"
    );
    for secret in [&api_key, &tool_token, &bearer, &wrong_key] {
        let leaked = files_containing(&base, secret);
        assert!(leaked.is_empty(), "{secret} is in {leaked:?}");
    }
    for id in 1..=3 {
        let db = cluster.node_dir(id).join("db");
        assert!(
            !db_entries_containing(&db, &marker).is_empty(),
            "node {id}'s database holds the plaintext marker"
        );
        for secret in [&api_key, &tool_token, &bearer, &wrong_key] {
            let leaked = db_entries_containing(&db, secret);
            assert!(leaked.is_empty(), "node {id}: {secret} is in {leaked:?}");
        }
    }
}

#[tokio::test]
async fn a_node_refuses_a_master_key_in_its_data_dir_or_readable_by_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = LocalCluster::new(WARDEN, dir.path(), settings(&[]));
    let inside = cluster.node_dir(1).join("master-key");
    std::fs::create_dir_all(cluster.node_dir(1)).expect("create the data directory");
    warden_secrets::MasterKey::generate_file(&inside).expect("write a key file");
    let quoted = |path: &Path| format!("{:?}", path.display().to_string());
    cluster.set_node_settings(
        1,
        settings(&[("secrets.master_key_file", &quoted(&inside))]),
    );
    let error = cluster
        .start_node(1)
        .await
        .expect_err("a key file inside the data directory is refused");
    let message = format!("{error:#}");
    assert!(
        message.contains("is inside the data directory"),
        "{message}"
    );

    let readable = dir.path().join("readable-key");
    warden_secrets::MasterKey::generate_file(&readable).expect("write a key file");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&readable, std::fs::Permissions::from_mode(0o640))
        .expect("make the key group-readable");
    cluster.set_node_settings(
        1,
        settings(&[("secrets.master_key_file", &quoted(&readable))]),
    );
    let error = cluster
        .start_node(1)
        .await
        .expect_err("a group-readable key file is refused");
    let message = format!("{error:#}");
    assert!(message.contains("chmod 600"), "{message}");
}

#[tokio::test]
async fn a_node_without_a_master_key_refuses_secrets_until_it_has_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = LocalCluster::new(WARDEN, dir.path(), settings(&[]));
    cluster.without_master_key();
    cluster.bootstrap(1).await.expect("bootstrap");
    let client = patient_client(&cluster);
    client
        .create_workspace(WORKSPACE)
        .await
        .expect("a workspace needs no master key");
    client
        .put_provider(provider("keyless", "openai", "http://127.0.0.1:9/v1", ""))
        .await
        .expect("a provider without a key needs no master key");

    let secret = random_marker("canary");
    let error = client
        .put_provider(provider(
            "keyed",
            "openai",
            "http://127.0.0.1:9/v1",
            &secret,
        ))
        .await
        .expect_err("a key cannot be sealed");
    assert_eq!(
        error.code(),
        Some(tonic::Code::FailedPrecondition),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "this node has no master key configured (secrets.master_key_file; make one with `warden keygen --out FILE`)"
    );
    let error = client
        .register_mcp_server(McpServer {
            workspace: WORKSPACE.to_owned(),
            name: "ledger".to_owned(),
            catalog: "ledger".to_owned(),
            secret_env: [("API_TOKEN".to_owned(), secret.clone())].into(),
            ..McpServer::default()
        })
        .await
        .expect_err("secret variables cannot be sealed");
    assert_eq!(
        error.code(),
        Some(tonic::Code::FailedPrecondition),
        "{error}"
    );

    // Given a master key, the node seals the workspace's first secret with a new
    // workspace key, which the same write stores.
    cluster.stop(1).await.expect("stop");
    let key_file = dir.path().join("late-master-key");
    let keygen = |path: &Path| {
        std::process::Command::new(WARDEN)
            .args(["keygen", "--out"])
            .arg(path)
            .output()
            .expect("run warden keygen")
    };
    let made = keygen(&key_file);
    assert!(made.status.success(), "{made:?}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key_file)
        .expect("key file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = keygen(&key_file);
    assert_eq!(
        again.status.code(),
        Some(2),
        "a key file is never overwritten"
    );
    assert!(
        String::from_utf8_lossy(&again.stderr).contains(&key_file.display().to_string()),
        "{again:?}"
    );
    cluster.set_node_settings(
        1,
        settings(&[(
            "secrets.master_key_file",
            &format!("{:?}", key_file.display().to_string()),
        )]),
    );
    cluster
        .start_node(1)
        .await
        .expect("restart with a master key");
    cluster
        .wait_for_leader(Duration::from_secs(30))
        .await
        .expect("leader");
    let client = patient_client(&cluster);
    let put = client
        .put_provider(provider(
            "keyed",
            "openai",
            "http://127.0.0.1:9/v1",
            &secret,
        ))
        .await
        .expect("the key is sealed now")
        .provider
        .expect("provider");
    assert!(put.api_key_set);

    cluster.stop_all().await.expect("stop");
    let leaked = files_containing(dir.path(), &secret);
    assert!(leaked.is_empty(), "{leaked:?}");
}
