//! Deleting providers, MCP servers, agents and workspaces: refused while something
//! depends on the record (naming what), removed otherwise; a deleted workspace leaves
//! nothing behind but its audit records.

use super::fixtures::*;
use crate::*;

fn provider(name: &str) -> Command {
    Command::DeleteProvider {
        workspace: ws("acme"),
        name: ProviderName::parse(name).expect("valid provider"),
    }
}

fn server(name: &str) -> Command {
    Command::DeleteMcpServer {
        workspace: ws("acme"),
        name: ServerName::parse(name).expect("valid server"),
    }
}

fn agent(name: &str) -> Command {
    Command::DeleteAgent {
        workspace: ws("acme"),
        name: AgentName::parse(name).expect("valid agent"),
    }
}

fn workspace() -> Command {
    Command::DeleteWorkspace {
        workspace: ws("acme"),
    }
}

#[test]
fn a_provider_or_server_an_agent_uses_is_kept_and_the_refusal_names_the_agent() {
    let mut h = Harness::new(Limits::default());
    let message = h.refused(provider("model"), Code::FailedPrecondition);
    assert!(
        message.contains("provider acme/model is used by agent bot"),
        "{message}"
    );
    let message = h.refused(server("tools"), Code::FailedPrecondition);
    assert!(
        message.contains("mcp server acme/tools is granted to agent bot"),
        "{message}"
    );
    assert_eq!(h.state.providers.len(), 1);
    assert_eq!(h.state.mcp_servers.len(), 1);
    let message = h.refused(provider("other"), Code::NotFound);
    assert!(
        message.contains("provider acme/other not found"),
        "{message}"
    );
    let message = h.refused(server("other"), Code::NotFound);
    assert!(
        message.contains("mcp server acme/other not found"),
        "{message}"
    );
}

#[test]
fn an_agent_with_an_unfinished_task_is_kept_and_goes_once_the_task_ends() {
    let mut h = Harness::new(Limits::default());
    let message = h.refused(agent("bot"), Code::FailedPrecondition);
    let task = TaskId::from_u128(7);
    assert!(
        message.contains(&format!("agent acme/bot has 1 unfinished task ({task})")),
        "{message}"
    );
    h.ok(h.lifecycle("cancel"));
    let Outcome::AgentDeleted(deleted) = h.ok(agent("bot")) else {
        panic!("the agent was not deleted")
    };
    assert_eq!(deleted.spec.name.as_str(), "bot");
    assert!(h.state.agents.is_empty());
    let record = h.state.audit.last().expect("audited");
    assert_eq!(
        (record.action.as_str(), record.resource.as_str()),
        ("agent.delete", "workspace/acme/agent/bot")
    );
    // The finished task and its journal stay; a new submission names a missing agent.
    assert_eq!(h.task().status, TaskStatus::Cancelled);
    assert!(!h.state.journal_of(&ws("acme"), &task).is_empty());
    let message = h.refused(submit("acme", 8, "k2", "again"), Code::NotFound);
    assert!(message.contains("bot"), "{message}");
    // With the agent gone, its provider and server may go too.
    assert!(matches!(
        h.ok(provider("model")),
        Outcome::ProviderDeleted(_)
    ));
    assert!(matches!(
        h.ok(server("tools")),
        Outcome::McpServerDeleted(_)
    ));
    assert!(h.state.providers.is_empty() && h.state.mcp_servers.is_empty());
    let record = h.state.audit.last().expect("audited");
    assert_eq!(record.resource, "workspace/acme/mcp_server/tools");
}

#[test]
fn operators_delete_configuration_and_only_cluster_admins_delete_workspaces() {
    let mut h = Harness::new(Limits::default());
    h.ok(h.lifecycle("cancel"));
    let approver = h.user("user/approver", &[Role::Approver, Role::Viewer]);
    let Outcome::Rejected(rejection) = h.run_as(&approver, agent("bot")) else {
        panic!("an approver deleted an agent")
    };
    assert_eq!(rejection.code, Code::PermissionDenied, "{rejection}");
    let admin = h.user("user/admin", &[Role::Admin]);
    let Outcome::Rejected(rejection) = h.run_as(&admin, workspace()) else {
        panic!("a workspace admin deleted the workspace")
    };
    assert_eq!(rejection.code, Code::PermissionDenied, "{rejection}");
    assert!(h.state.workspaces.contains_key(&ws("acme")));
    assert!(matches!(
        h.run_as(&admin, agent("bot")),
        Outcome::AgentDeleted(_)
    ));
    let operator = h.user("user/op", &[Role::Operator]);
    assert!(matches!(
        h.run_as(&operator, provider("model")),
        Outcome::ProviderDeleted(_)
    ));
}

#[test]
fn a_workspace_with_an_unfinished_task_is_kept() {
    let mut h = Harness::new(Limits::default());
    let message = h.refused(workspace(), Code::FailedPrecondition);
    assert!(
        message.contains("workspace acme has 1 unfinished task"),
        "{message}"
    );
    assert!(h.state.workspaces.contains_key(&ws("acme")));
}

#[test]
fn a_deleted_workspace_leaves_only_its_audit_records_and_its_name_starts_clean() {
    let mut h = Harness::new(Limits::default());
    h.user("user/op", &[Role::Operator]);
    h.ok(Command::SetBudget {
        workspace: ws("acme"),
        agent: None,
        tokens: Some(1_000),
        tool_calls: None,
        reset: false,
    });
    h.ok(Command::SetPause {
        workspace: ws("acme"),
        target: PauseTarget::Workspace,
        paused: true,
        reason: "incident".to_owned(),
    });
    h.ok(h.lifecycle("cancel"));
    // Another workspace is untouched.
    for command in setup("beta") {
        h.ok(command);
    }
    let audited = h.state.audit.len();
    let Outcome::WorkspaceDeleted(deleted) = h.ok(workspace()) else {
        panic!("the workspace was not deleted")
    };
    assert_eq!(deleted.id, ws("acme"));
    let state = &h.state;
    let acme = ws("acme");
    assert!(!state.workspaces.contains_key(&acme));
    assert!(state.tasks.keys().all(|(owner, _)| *owner != acme));
    assert!(state.journal.keys().all(|(owner, _, _)| *owner != acme));
    assert!(state.idempotency.keys().all(|(owner, _)| *owner != acme));
    assert!(state.agents.keys().all(|(owner, _)| *owner != acme));
    assert!(state.providers.keys().all(|(owner, _)| *owner != acme));
    assert!(state.mcp_servers.keys().all(|(owner, _)| *owner != acme));
    assert!(state.budgets.keys().all(|(owner, _)| *owner != acme));
    assert!(!state.policies.contains_key(&acme) && !state.switches.contains_key(&acme));
    let scope = Scope::Workspace(acme.clone());
    assert!(state.bindings.keys().all(|(bound, _)| *bound != scope));
    assert_eq!(state.audit.len(), audited + 1, "every record stays");
    assert_eq!(
        state.audit.last().map(|r| r.action.as_str()),
        Some("workspace.delete")
    );
    assert_eq!(state.agents.len(), 1, "beta's agent stays");
    assert!(state.workspaces.contains_key(&ws("beta")));
    // The name starts clean: no old binding grants anything in the new workspace.
    h.ok(create("acme"));
    assert!(!h.state.policies.contains_key(&acme));
    assert!(h.state.bindings.keys().all(|(bound, _)| *bound != scope));
    let message = h.refused(workspace_of("gone"), Code::NotFound);
    assert!(message.contains("workspace gone not found"), "{message}");
}

fn workspace_of(name: &str) -> Command {
    Command::DeleteWorkspace {
        workspace: ws(name),
    }
}
