//! Configuration as code across two real clusters: a workspace exported from one
//! cluster, applied to a fresh one (with the secrets it needs) and exported again gives
//! the same file; applying it again changes nothing; a dry run changes nothing; a stale
//! file is refused; a file with one bad change changes nothing at all.

use std::collections::HashMap;

use warden_client::BudgetLimits;
use warden_client::{Client, Consistency};
use warden_proto::v1::{AgentLimits, Provider, Schedule, Trigger};

use crate::common::agents::{Workspace, ledger_entry, scripted_model};
use crate::common::allow_every_call;

const WS: &str = "configured";

fn code(error: &warden_client::Error) -> Option<tonic::Code> {
    error.code()
}

async fn export(client: &Client) -> String {
    client
        .export_workspace(WS, Consistency::Linearizable)
        .await
        .expect("export")
        .document
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_exported_and_applied_to_a_fresh_cluster_exports_the_same() {
    let source = crate::common::start(3, &[]).await;
    let admin = source.client().expect("client");
    let tools = source.tools_dir();
    admin.create_workspace(WS).await.expect("workspace");
    allow_every_call(&admin, WS).await;
    let model = scripted_model(serde_json::json!({"steps": [], "final": "done"})).await;
    admin
        .put_provider(Provider {
            workspace: WS.into(),
            name: "model".into(),
            kind: "openai".into(),
            base_url: model.base_url(),
            model: "scripted".into(),
            api_key: "sk-source-key".into(),
            request_timeout_ms: 30_000,
            max_output_tokens: 512,
            ..Provider::default()
        })
        .await
        .expect("provider");
    let workspace = Workspace::new(admin.clone(), WS);
    let ledger_path = tools.join("ledger.jsonl").display().to_string();
    workspace
        .register_stdio("ledger", ledger_entry(&tools), &["--ledger", &ledger_path])
        .await;
    workspace
        .create_agent(
            "clerk",
            "model",
            &[("ledger", "put")],
            AgentLimits::default(),
        )
        .await;
    admin
        .set_budget(
            WS,
            Some("clerk"),
            BudgetLimits {
                tokens: Some(50_000),
                ..BudgetLimits::default()
            },
            false,
        )
        .await
        .expect("budget");
    admin
        .put_schedule(
            Schedule {
                workspace: WS.into(),
                name: "nightly".into(),
                cron: "0 2 * * *".into(),
                timezone: "Europe/Paris".into(),
                agent: "clerk".into(),
                input: "close the books".into(),
                paused: true,
                ..Schedule::default()
            },
            0,
        )
        .await
        .expect("schedule");
    admin
        .put_trigger(
            Trigger {
                workspace: WS.into(),
                name: "alerts".into(),
                agent: "clerk".into(),
                input: "Look at {{body}}".into(),
                ..Trigger::default()
            },
            0,
            "the source cluster's trigger secret",
        )
        .await
        .expect("trigger");
    let exported = export(&admin).await;
    for expected in [
        "api_key: sealed",
        "pinned:",
        "name: clerk",
        "policy:",
        "tokens: 50000",
        "timezone: Europe/Paris",
        "name: alerts",
        "revision: sha256:",
    ] {
        assert!(exported.contains(expected), "{expected} in:\n{exported}");
    }
    assert!(!exported.contains("sk-source-key"), "{exported}");

    // A fresh cluster, with the same catalog entry (the catalog is the cluster's, not
    // the workspace's).
    let target = crate::common::start(3, &[]).await;
    let fresh = target.client().expect("client");
    fresh.create_workspace(WS).await.expect("workspace");
    fresh
        .put_catalog_entry(ledger_entry(&tools))
        .await
        .expect("catalog entry");
    // Without the secrets it needs, nothing is applied, and the refusal says which.
    let error = fresh
        .apply_workspace(exported.clone(), false, HashMap::new())
        .await
        .expect_err("refused");
    assert_eq!(
        code(&error),
        Some(tonic::Code::FailedPrecondition),
        "{error}"
    );
    assert!(error.to_string().contains("provider/model"), "{error}");
    // A secret that names nothing the file holds is refused.
    let error = fresh
        .apply_workspace(
            exported.clone(),
            true,
            HashMap::from([("provider/other".to_owned(), "x".to_owned())]),
        )
        .await
        .expect_err("refused");
    assert_eq!(code(&error), Some(tonic::Code::InvalidArgument), "{error}");
    let secrets = HashMap::from([
        ("provider/model".to_owned(), "sk-target-key".to_owned()),
        (
            "trigger/alerts".to_owned(),
            "the target cluster's trigger secret".to_owned(),
        ),
    ]);
    let empty = export(&fresh).await;
    let dry = fresh
        .apply_workspace(exported.clone(), true, secrets.clone())
        .await
        .expect("dry run");
    assert!(!dry.applied);
    assert_eq!(dry.changes.len(), 7, "{:?}", dry.changes);
    assert_eq!(export(&fresh).await, empty, "a dry run changes nothing");
    let applied = fresh
        .apply_workspace(exported.clone(), false, secrets)
        .await
        .expect("apply");
    assert!(applied.applied);
    let kinds: Vec<(String, String)> = applied
        .changes
        .iter()
        .map(|change| (change.kind.clone(), change.action.clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("provider", "create"),
            ("mcp_server", "create"),
            ("agent", "create"),
            ("policy", "create"),
            ("budget", "create"),
            ("schedule", "create"),
            ("trigger", "create"),
        ]
        .map(|(kind, action)| (kind.to_owned(), action.to_owned()))
    );
    let again = export(&fresh).await;
    assert_eq!(again, exported, "export, apply, export gives the same file");
    // The same file again: nothing to change.
    let unchanged = fresh
        .apply_workspace(exported.clone(), false, HashMap::new())
        .await
        .expect("apply again");
    assert!(unchanged.changes.is_empty(), "{:?}", unchanged.changes);
    // One accepted workspace.apply record on the fresh cluster.
    let records = fresh
        .tail_audit(
            warden_client::AuditTail {
                limit: 100,
                action: "workspace.apply".to_owned(),
                ..warden_client::AuditTail::default()
            },
            Consistency::Linearizable,
        )
        .await
        .expect("audit")
        .records;
    let accepted: Vec<_> = records
        .iter()
        .filter(|record| record.outcome == "accepted")
        .collect();
    assert_eq!(accepted.len(), 1, "{records:?}");
    assert!(
        accepted[0].detail.starts_with("8 changes:"),
        "{}",
        accepted[0].detail
    );

    // An edit: the diff names the field; a dry run changes nothing.
    let edited = again.replace("Follow the script.", "Follow the script carefully.");
    let dry = fresh
        .apply_workspace(edited.clone(), true, HashMap::new())
        .await
        .expect("dry run");
    assert_eq!(dry.changes.len(), 1, "{:?}", dry.changes);
    assert_eq!(dry.changes[0].kind, "agent");
    assert!(
        dry.changes[0].details[0].starts_with("instructions: "),
        "{:?}",
        dry.changes[0].details
    );
    assert_eq!(export(&fresh).await, again);
    // A stored key does not follow the provider to another URL: the file must give it
    // again, or nothing is applied (a configurer could otherwise send the key to a host of
    // theirs without ever knowing it).
    let moved = again.replace(&model.base_url(), "http://127.0.0.1:9/v1");
    assert_ne!(moved, again);
    let error = fresh
        .apply_workspace(moved, false, HashMap::new())
        .await
        .expect_err("refused");
    assert_eq!(
        code(&error),
        Some(tonic::Code::FailedPrecondition),
        "{error}"
    );
    assert!(error.to_string().contains("provider/model"), "{error}");
    assert_eq!(export(&fresh).await, again);
    // Two records of one kind under one name: refused, naming it.
    let doubled = again.replace(
        "schedules:\n",
        "schedules:\n- name: nightly\n  cron: 0 3 * * *\n  timezone: UTC\n  agent: clerk\n",
    );
    assert_ne!(doubled, again);
    let error = fresh
        .apply_workspace(doubled, true, HashMap::new())
        .await
        .expect_err("refused");
    assert_eq!(code(&error), Some(tonic::Code::InvalidArgument), "{error}");
    assert!(
        error
            .to_string()
            .contains("schedule nightly is in the file twice"),
        "{error}"
    );
    // One good change and one bad one (a schedule for an agent that does not exist):
    // nothing at all.
    let broken = edited.replace(
        "agent: clerk\n  input: close the books",
        "agent: ghost\n  input: close the books",
    );
    assert_ne!(broken, edited, "the schedule's agent was replaced");
    let error = fresh
        .apply_workspace(broken, false, HashMap::new())
        .await
        .expect_err("refused");
    assert_eq!(code(&error), Some(tonic::Code::NotFound), "{error}");
    assert!(error.to_string().contains("schedule.put"), "{error}");
    assert_eq!(export(&fresh).await, again, "all or nothing");
    // Someone changes the workspace after the export: the file is stale.
    fresh
        .set_budget(
            WS,
            Some("clerk"),
            BudgetLimits {
                tokens: Some(60_000),
                ..BudgetLimits::default()
            },
            false,
        )
        .await
        .expect("budget");
    let error = fresh
        .apply_workspace(edited, false, HashMap::new())
        .await
        .expect_err("stale");
    assert_eq!(
        code(&error),
        Some(tonic::Code::FailedPrecondition),
        "{error}"
    );
    assert!(error.to_string().contains("stale"), "{error}");
    drop(model);
}
