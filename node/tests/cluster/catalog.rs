//! The node boundary for stdio MCP servers (issue 12): a workspace operator cannot start
//! an arbitrary process, only a cluster catalog entry with the extra arguments it
//! allows; nothing starts before `apply()` authorized the registration; and the started
//! server is confined: it cannot read the master key or the node's data directory,
//! although it runs as the node's user (root here).

use std::path::{Path, PathBuf};

use crate::common::agents::ledger_tools;
use crate::common::{TestCluster, as_token, start};
use tonic::Code;
use warden_client::proto::{CatalogEntry, McpServer};
use warden_client::{Client, Consistency};

const WS: &str = "acme";

/// A cluster with workspace acme and an operator of it (not a cluster admin).
async fn with_operator() -> (TestCluster, Client, Client) {
    let cluster = start(1, &[]).await;
    let admin = cluster.client().expect("client");
    admin.create_workspace(WS).await.expect("create workspace");
    let token = admin
        .create_token("user/mallory", "operator in acme", 0)
        .await
        .expect("create mallory's token");
    admin
        .set_roles(Some(WS), "user/mallory", &["operator"])
        .await
        .expect("make mallory an operator in acme");
    let operator = as_token(&admin, &token.secret);
    (cluster, admin, operator)
}

/// The last audit record, as the admin reads it.
async fn last_audit(admin: &Client) -> warden_client::proto::AuditRecord {
    admin
        .tail_audit(warden_client::AuditTail::last(1), Consistency::Linearizable)
        .await
        .expect("tail the audit chain")
        .records
        .pop()
        .expect("an audit record")
}

fn status_of<T: std::fmt::Debug>(result: Result<T, warden_client::Error>) -> (Code, String) {
    let error = result.expect_err("refused");
    (error.code().unwrap_or(Code::Unknown), error.to_string())
}

#[tokio::test]
async fn an_operator_cannot_put_or_delete_catalog_entries_and_the_refusal_is_audited() {
    let (_cluster, admin, operator) = with_operator().await;
    let entry = CatalogEntry {
        name: "shell".into(),
        executable: "/bin/sh".into(),
        allowed_args: vec![".*".into()],
        ..CatalogEntry::default()
    };
    let (code, message) = status_of(operator.put_catalog_entry(entry.clone()).await);
    assert_eq!(code, Code::PermissionDenied, "{message}");
    let record = last_audit(&admin).await;
    assert_eq!(
        (
            record.action.as_str(),
            record.resource.as_str(),
            record.outcome.as_str()
        ),
        ("catalog.put", "catalog/shell", "rejected"),
        "{record:?}"
    );
    assert_eq!(record.principal, "user/mallory");
    let listed = operator
        .list_catalog_entries()
        .await
        .expect("an operator may read the catalog");
    assert!(listed.entries.is_empty(), "{listed:?}");

    admin
        .put_catalog_entry(entry)
        .await
        .expect("a cluster admin puts the entry");
    let (code, message) = status_of(operator.delete_catalog_entry("shell").await);
    assert_eq!(code, Code::PermissionDenied, "{message}");
    assert_eq!(last_audit(&admin).await.action, "catalog.delete");
    let shown = operator
        .get_catalog_entry("shell", Consistency::Linearizable)
        .await
        .expect("the entry is still there")
        .entry
        .expect("an entry");
    assert_eq!(
        (shown.version, shown.updated_by.as_str()),
        (1, "user/admin")
    );
}

/// Issue 12's attack: `mcp register --command sh --arg -c --arg 'id > F; head -c 8
/// <master key> >> F'` as an operator. On the code before the catalog this wrote F
/// (`uid=0(root)` and the key's first bytes) from the gRPC handler.
#[tokio::test]
async fn an_operator_registering_a_raw_command_is_refused_and_nothing_runs() {
    let (cluster, admin, operator) = with_operator().await;
    let loot = cluster.dir.path().join("loot");
    let script = format!(
        "id > {loot}; head -c 8 {key} >> {loot}",
        loot = loot.display(),
        key = cluster.master_key_path().display()
    );
    let (code, message) = status_of(
        operator
            .register_mcp_server(McpServer {
                workspace: WS.into(),
                name: "pwn".into(),
                command: "sh".into(),
                args: vec!["-c".into(), script],
                ..McpServer::default()
            })
            .await,
    );
    assert_eq!(code, Code::InvalidArgument, "{message}");
    assert!(message.contains("catalog entry"), "{message}");
    assert!(!loot.exists(), "the command ran: {loot:?} exists");
    let record = last_audit(&admin).await;
    assert_eq!(
        (record.action.as_str(), record.outcome.as_str()),
        ("mcp_server.register", "rejected"),
        "{record:?}"
    );
    let servers = admin.list_mcp_servers(WS).await.expect("list servers");
    assert!(servers.servers.is_empty(), "{servers:?}");
}

#[tokio::test]
async fn registration_is_refused_for_a_missing_entry_or_what_the_entry_does_not_allow() {
    let (cluster, admin, operator) = with_operator().await;
    let tools = cluster.tools_dir();
    admin
        .put_catalog_entry(crate::common::agents::ledger_entry(&tools))
        .await
        .expect("put the ledger entry");
    let ledger = tools.join("ledger.jsonl").display().to_string();
    let register = |catalog: &str, args: &[&str], env: &[(&str, &str)]| McpServer {
        workspace: WS.into(),
        name: "ledger".into(),
        catalog: catalog.into(),
        args: args.iter().map(|arg| (*arg).to_owned()).collect(),
        env: env
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect(),
        ..McpServer::default()
    };

    let (code, message) = status_of(
        operator
            .register_mcp_server(register("nope", &[], &[]))
            .await,
    );
    assert_eq!(code, Code::NotFound, "{message}");
    assert!(
        message.contains("catalog entry nope not found"),
        "{message}"
    );

    // A write path outside the entry's directory, and an argument it does not know.
    for (args, refused) in [
        (vec!["--ledger", "/etc/cron.d/x"], "\"/etc/cron.d/x\""),
        (
            vec!["--ledger", ledger.as_str(), "--http", "0.0.0.0:80"],
            "\"--http\"",
        ),
    ] {
        let (code, message) = status_of(
            operator
                .register_mcp_server(register("ledger", &args, &[]))
                .await,
        );
        assert_eq!(code, Code::PermissionDenied, "{message}");
        assert!(
            message.contains(&format!("does not allow argument {refused}")),
            "{message}"
        );
    }
    let (code, message) = status_of(
        operator
            .register_mcp_server(register(
                "ledger",
                &["--ledger", &ledger],
                &[("LD_PRELOAD", "/tmp/x.so")],
            ))
            .await,
    );
    assert_eq!(code, Code::PermissionDenied, "{message}");
    assert!(message.contains("LD_PRELOAD"), "{message}");
    assert!(
        admin
            .list_mcp_servers(WS)
            .await
            .expect("list")
            .servers
            .is_empty()
    );

    // What the entry allows registers and pins.
    let server = operator
        .register_mcp_server(register("ledger", &["--ledger", &ledger], &[]))
        .await
        .expect("register by the entry")
        .server
        .expect("a server");
    assert!(server.pinned, "{server:?}");
    assert!(server.tools.iter().any(|tool| tool.name == "append"));
}

/// What the probe could read, written by itself into its output directory.
struct Probe {
    out: PathBuf,
}

impl Probe {
    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.out.join(name))
            .unwrap_or_else(|error| panic!("the probe wrote no {name}: {error}"))
    }
}

/// A catalog entry (a cluster admin may add a shell) whose child tries to read the
/// master key and list the node's data directory, records what it got in `out`, then
/// becomes the ledger server so that registration completes.
fn probe_entry(cluster: &TestCluster, out: &Path) -> CatalogEntry {
    let key = cluster.master_key_path();
    let data = cluster.node_dir(1);
    std::fs::write(out.join("canary"), "granted\n").expect("write the canary");
    let script = format!(
        "id > {out}/id.txt; \
         cat {key} > {out}/key.txt 2> {out}/key.err; \
         ls {data} > {out}/ls.txt 2> {out}/ls.err; \
         cat {data}/db/CURRENT > {out}/db.txt 2> {out}/db.err; \
         echo scratch > \"$TMPDIR/x\" && cat \"$TMPDIR/x\" > {out}/scratch.txt; \
         cat {out}/canary > {out}/canary.txt; \
         exec {ledger} --ledger {out}/ledger.jsonl",
        out = out.display(),
        key = key.display(),
        data = data.display(),
        ledger = ledger_tools().display(),
    );
    CatalogEntry {
        name: "probe".into(),
        description: "a test double: reports what a confined child can read".into(),
        executable: "/bin/sh".into(),
        args: vec!["-c".into(), script],
        read_paths: vec![ledger_tools().display().to_string()],
        write_paths: vec![out.display().to_string()],
        ..CatalogEntry::default()
    }
}

#[tokio::test]
async fn a_confined_server_cannot_read_the_master_key_or_the_data_directory() {
    let (cluster, admin, operator) = with_operator().await;
    let out = cluster.tools_dir();
    admin
        .put_catalog_entry(probe_entry(&cluster, &out))
        .await
        .expect("put the probe entry");
    let server = operator
        .register_mcp_server(McpServer {
            workspace: WS.into(),
            name: "probe".into(),
            catalog: "probe".into(),
            ..McpServer::default()
        })
        .await
        .expect("register the probe")
        .server
        .expect("a server");
    assert!(server.pinned, "{server:?}");
    let probe = Probe { out };

    // It ran as the node's user, and could use what it was granted: the restriction
    // below is Landlock's, not the uid's.
    println!("the probe ran as {}", probe.read("id.txt").trim());
    assert_eq!(probe.read("canary.txt"), "granted\n");
    assert_eq!(probe.read("scratch.txt"), "scratch\n");
    for (what, output, errors) in [
        ("the master key", "key.txt", "key.err"),
        ("the data directory", "ls.txt", "ls.err"),
        ("the database", "db.txt", "db.err"),
    ] {
        assert_eq!(probe.read(output), "", "the probe read {what}");
        let errors = probe.read(errors);
        assert!(errors.contains("Permission denied"), "{what}: {errors}");
    }
}

#[tokio::test]
async fn an_entry_granting_the_data_directory_is_not_started_and_stays_unpinned() {
    let (cluster, admin, operator) = with_operator().await;
    // The cluster's base directory holds every node's data directory and the key.
    let base = cluster.dir.path().to_owned();
    let mut entry = crate::common::agents::ledger_entry(&cluster.tools_dir());
    entry.read_paths = vec![base.display().to_string()];
    admin.put_catalog_entry(entry).await.expect("put the entry");
    let ledger = cluster.tools_dir().join("ledger.jsonl");
    let (code, message) = status_of(
        operator
            .register_mcp_server(McpServer {
                workspace: WS.into(),
                name: "ledger".into(),
                catalog: "ledger".into(),
                args: vec!["--ledger".into(), ledger.display().to_string()],
                ..McpServer::default()
            })
            .await,
    );
    assert_eq!(code, Code::FailedPrecondition, "{message}");
    assert!(message.contains("mcp server ledger"), "{message}");
    assert!(message.contains(&base.display().to_string()), "{message}");
    assert!(
        message.contains("on node 1"),
        "names the node that tried: {message}"
    );
    assert!(!ledger.exists(), "the server ran");
    let listed = admin.list_mcp_servers(WS).await.expect("list servers");
    let [server] = &listed.servers[..] else {
        panic!("one registered server: {listed:?}");
    };
    assert!(!server.pinned && server.tools.is_empty(), "{server:?}");
}

/// A server whose catalog entry was deleted stays registered, but its calls fail closed,
/// naming the entry, and its program is not started.
#[tokio::test]
async fn calls_to_a_server_whose_entry_was_deleted_fail_naming_the_entry() {
    let cluster = start(1, &[("runtime.controller_interval", "100ms")]).await;
    let ledger = cluster.tools_dir().join("ledger.jsonl");
    let model = crate::common::agents::scripted_model(serde_json::json!({
        "steps": [{"tool_calls": [{"name": "ledger__put",
                                   "arguments": {"key": "k", "value": "v"}}]}],
        "final": "done",
    }))
    .await;
    let admin = cluster.client().expect("client");
    crate::common::setup::workspace(&admin, WS, &model.base_url(), &ledger, "clerk", &["put"])
        .await;
    let deleted = admin
        .delete_catalog_entry("ledger")
        .await
        .expect("delete the entry")
        .entry
        .expect("the deleted entry");
    assert_eq!(deleted.name, "ledger");

    let task = crate::common::setup::submit(&admin, WS, "clerk", "put once").await;
    let events =
        crate::common::eventually("the task to end", crate::common::setup::WAIT, || async {
            let task = crate::common::setup::task(&admin, WS, &task.id).await?;
            let status = warden_client::proto::TaskStatus::try_from(task.status).ok()?;
            if status != warden_client::proto::TaskStatus::Completed {
                return None;
            }
            crate::common::setup::journal(&admin, WS, &task.id).await
        })
        .await;
    let finished: Vec<&str> = events
        .iter()
        .filter(|event| event.kind == "tool_call_finished")
        .map(|event| event.detail_json.as_str())
        .collect();
    assert_eq!(
        finished.len(),
        1,
        "{}",
        crate::common::setup::describe(&events)
    );
    assert!(
        finished[0].contains("catalog entry ledger does not exist"),
        "{}",
        finished[0]
    );
    assert!(
        warden_mcp::read_ledger(&ledger)
            .unwrap_or_default()
            .is_empty(),
        "the server ran a call"
    );
}
