//! Deleting providers, MCP servers, agents and workspaces through the public API: each
//! refusal names what still depends on the record; permitted deletes remove it; a deleted
//! workspace leaves no task, agent or role binding behind, its name starts clean, and the
//! audit chain keeps every record and still verifies.

use crate::common::{as_token, error_code, operator_token, start};
use tonic::Code;
use warden_client::Consistency;
use warden_proto::v1::{Agent, AgentLimits};

/// The message of a refused call, which must have `code`.
fn refused<T: std::fmt::Debug>(result: Result<T, warden_client::Error>, code: Code) -> String {
    match result {
        Ok(answer) => panic!("expected {code:?}, got {answer:?}"),
        Err(error) => {
            let message = error.to_string();
            assert_eq!(error_code(Err::<(), _>(error)), code, "{message}");
            message
        }
    }
}

#[tokio::test]
async fn deletes_are_refused_while_something_depends_on_the_record_and_leave_nothing_behind() {
    let cluster = start(1, &[]).await;
    let admin = cluster.client().expect("client");
    let ledger = cluster.tools_dir().join("ledgers").join("acme.jsonl");
    // The workspace's agent `writer` is granted the ledger; its model is the discard
    // port, never reached since nothing is submitted to it.
    crate::common::setup::workspace(
        &admin,
        "acme",
        "http://127.0.0.1:9/v1",
        &ledger,
        "writer",
        &["append"],
    )
    .await;
    admin
        .create_agent(Agent {
            workspace: "acme".into(),
            name: "idle".into(),
            provider: "model".into(),
            paused: true,
            limits: Some(AgentLimits::default()),
            ..Agent::default()
        })
        .await
        .expect("create the paused agent");
    // A paused agent's task is never placed: it stays unfinished until cancelled.
    let task = crate::common::setup::submit(&admin, "acme", "idle", "wait").await;
    let operator = as_token(&admin, &operator_token(&admin, "acme", "olga").await);

    let message = refused(
        admin.delete_provider("acme", "model").await,
        Code::FailedPrecondition,
    );
    assert!(
        message.contains("provider acme/model is used by agents idle, writer"),
        "{message}"
    );
    let message = refused(
        admin.delete_mcp_server("acme", "ledger").await,
        Code::FailedPrecondition,
    );
    assert!(
        message.contains("mcp server acme/ledger is granted to agent writer"),
        "{message}"
    );
    let message = refused(
        admin.delete_agent("acme", "idle").await,
        Code::FailedPrecondition,
    );
    assert!(
        message.contains(&format!(
            "agent acme/idle has 1 unfinished task ({})",
            task.id
        )),
        "{message}"
    );
    let message = refused(
        admin.delete_workspace("acme").await,
        Code::FailedPrecondition,
    );
    assert!(
        message.contains("workspace acme has 1 unfinished task"),
        "{message}"
    );
    // An operator configures the workspace but may not delete it.
    refused(
        operator.delete_workspace("acme").await,
        Code::PermissionDenied,
    );
    refused(
        admin.delete_agent("acme", "Not A Name").await,
        Code::InvalidArgument,
    );

    admin
        .cancel_task("acme", &task.id, "in the way of a delete")
        .await
        .expect("cancel the waiting task");
    let deleted = operator
        .delete_agent("acme", "idle")
        .await
        .expect("the operator deletes the idle agent")
        .agent
        .expect("the agent as it was");
    assert_eq!((deleted.name.as_str(), deleted.paused), ("idle", true));
    refused(operator.delete_agent("acme", "idle").await, Code::NotFound);
    operator
        .delete_agent("acme", "writer")
        .await
        .expect("delete writer");
    let server = operator
        .delete_mcp_server("acme", "ledger")
        .await
        .expect("delete the ledger server")
        .server
        .expect("the server as it was");
    assert_eq!(server.name, "ledger");
    operator
        .delete_provider("acme", "model")
        .await
        .expect("delete the provider");
    assert!(
        admin
            .list_agents("acme")
            .await
            .expect("agents")
            .agents
            .is_empty()
    );
    assert!(
        admin
            .list_mcp_servers("acme")
            .await
            .expect("servers")
            .servers
            .is_empty()
    );
    assert!(
        admin
            .list_providers("acme")
            .await
            .expect("providers")
            .providers
            .is_empty()
    );
    // The cancelled task stays until the workspace goes.
    admin
        .get_task("acme", &task.id, Consistency::Linearizable)
        .await
        .expect("the finished task of a deleted agent stays readable");

    let records_before = crate::common::audit_count(&admin).await;
    admin.delete_workspace("acme").await.expect("delete acme");
    let names: Vec<String> = admin
        .list_workspaces(Consistency::Linearizable)
        .await
        .expect("list workspaces")
        .workspaces
        .into_iter()
        .map(|workspace| workspace.name)
        .collect();
    assert!(!names.contains(&"acme".to_owned()), "{names:?}");

    // The name starts clean: no task, no configuration, and olga's binding is gone.
    admin
        .create_workspace("acme")
        .await
        .expect("create acme again");
    refused(
        admin
            .get_task("acme", &task.id, Consistency::Linearizable)
            .await,
        Code::NotFound,
    );
    assert!(
        admin
            .list_agents("acme")
            .await
            .expect("agents")
            .agents
            .is_empty()
    );
    let message = refused(operator.list_agents("acme").await, Code::NotFound);
    assert!(message.contains("workspace acme not found"), "{message}");

    // Every record stays, the deletes among them, and the chain verifies.
    let verification = admin
        .verify_audit(Consistency::Linearizable)
        .await
        .expect("verify");
    assert!(verification.ok, "{verification:?}");
    // The delete and the new workspace at least (nodes add signed checkpoints too).
    assert!(
        verification.record_count >= records_before + 2,
        "{verification:?}"
    );
    let actions: Vec<String> = admin
        .tail_audit(
            warden_client::AuditTail::last(200),
            Consistency::Linearizable,
        )
        .await
        .expect("tail")
        .records
        .into_iter()
        .map(|record| format!("{} {} {}", record.action, record.resource, record.outcome))
        .collect();
    for expected in [
        "agent.delete workspace/acme/agent/idle rejected",
        "agent.delete workspace/acme/agent/idle accepted",
        "mcp_server.delete workspace/acme/mcp_server/ledger accepted",
        "provider.delete workspace/acme/provider/model accepted",
        "workspace.delete workspace/acme accepted",
    ] {
        assert!(
            actions.iter().any(|action| action == expected),
            "{expected} in {actions:#?}"
        );
    }
}
