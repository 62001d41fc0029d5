//! The text of a command's audit record: the resource it acts on and, for a journal step,
//! what was decided about each tool call.

use crate::budget::BudgetScope;
use crate::catalog::catalog_resource;
use crate::command::Command;
use crate::journal::{CallDecision, TaskEvent};
use crate::outcome::Outcome;
use crate::resource::{
    binding_resource, budget_resource, checkpoint_resource, config_resource, pause_resource,
    task_resource, tasks_resource, token_resource, workspace_resource,
};

/// The audit resource a command acts on. A submission names the workspace's tasks,
/// since the proposer's task id may never come to exist.
pub(super) fn resource_of(command: &Command) -> String {
    match command {
        Command::Bootstrap { token, .. }
        | Command::CreateToken { token, .. }
        | Command::RevokeToken { token } => token_resource(token),
        Command::SetRoles {
            scope, principal, ..
        } => binding_resource(scope, principal),
        Command::CreateWorkspace { workspace, .. } | Command::DeleteWorkspace { workspace } => {
            workspace_resource(workspace)
        }
        Command::AuthorizeMembershipChange { change } => format!("cluster/node/{}", change.node()),
        Command::PutPolicy { workspace, .. } => config_resource(workspace, "policy", "rules"),
        Command::DecideApproval {
            workspace, task, ..
        }
        | Command::ExpireApproval {
            workspace, task, ..
        }
        | Command::AnswerQuestion {
            workspace, task, ..
        }
        | Command::ExpireQuestion {
            workspace, task, ..
        } => task_resource(workspace, task),
        Command::PutProvider {
            workspace, name, ..
        }
        | Command::DeleteProvider { workspace, name } => {
            config_resource(workspace, "provider", name.as_str())
        }
        Command::RegisterMcpServer {
            workspace, name, ..
        }
        | Command::PinMcpTools {
            workspace, name, ..
        }
        | Command::DeleteMcpServer { workspace, name } => {
            config_resource(workspace, "mcp_server", name.as_str())
        }
        Command::DeleteAgent { workspace, name } => {
            config_resource(workspace, "agent", name.as_str())
        }
        Command::PutCatalogEntry { spec } => catalog_resource(&spec.name),
        Command::DeleteCatalogEntry { name } => catalog_resource(name),
        Command::CreateAgent { workspace, spec }
        | Command::UpdateAgent {
            workspace, spec, ..
        } => config_resource(workspace, "agent", spec.name.as_str()),
        Command::SubmitTask { workspace, .. } => tasks_resource(workspace),
        Command::AssignTask {
            workspace, task, ..
        }
        | Command::AppendJournal {
            workspace, task, ..
        }
        | Command::CancelTask {
            workspace, task, ..
        }
        | Command::ResolveTask {
            workspace, task, ..
        }
        | Command::TimeOutTask { workspace, task }
        | Command::MarkStalled {
            workspace, task, ..
        } => task_resource(workspace, task),
        Command::RecordRejection { resource, .. } => resource.clone(),
        Command::SetBudget {
            workspace, agent, ..
        } => budget_resource(workspace, &BudgetScope::of(agent.as_ref())),
        Command::SetPause {
            workspace, target, ..
        } => pause_resource(workspace, target),
        Command::AuditCheckpoint { checkpoint } => checkpoint_resource(checkpoint.node),
        Command::CreateBackup { node } => format!("cluster/node/{node}/backup"),
        Command::SetClusterProtocol { .. } => "cluster/protocol".to_owned(),
        Command::SetWorkspaceSettings { workspace, .. } => {
            format!("{}/settings", workspace_resource(workspace))
        }
        Command::PutWebhook {
            workspace, name, ..
        }
        | Command::DeleteWebhook { workspace, name } => {
            config_resource(workspace, "webhook", name.as_str())
        }
        Command::PutSchedule {
            workspace, spec, ..
        } => config_resource(workspace, "schedule", spec.name.as_str()),
        Command::DeleteSchedule { workspace, name }
        | Command::FireSchedule {
            workspace, name, ..
        } => config_resource(workspace, "schedule", name.as_str()),
        Command::RecordDeliveryAttempt {
            workspace,
            delivery,
            ..
        } => crate::resource::delivery_resource(workspace, delivery),
        Command::PutTrigger {
            workspace, spec, ..
        } => config_resource(workspace, "trigger", spec.name.as_str()),
        Command::ApplyWorkspace { workspace, .. } => workspace_resource(workspace),
        Command::DeleteTrigger { workspace, name }
        | Command::FireTrigger {
            workspace, name, ..
        } => config_resource(workspace, "trigger", name.as_str()),
        Command::Group { .. } => "cluster/log".to_owned(),
    }
}

/// What an accepted governance command did, for its audit record: what a task command
/// decided about tool calls (policy decisions with their rules, approval requests and
/// decisions, blocked tools), a budget set, a pause set or lifted, a workspace's settings.
pub(super) fn governance_detail(outcome: &Outcome) -> String {
    let (task, entries) = match outcome {
        Outcome::TaskUpdated { task, entries } => (task, entries),
        Outcome::BudgetSet {
            workspace,
            scope,
            budget,
        } => return super::budget::detail(workspace, scope, budget.as_ref()),
        Outcome::PauseSet {
            workspace,
            target,
            paused,
            reason,
        } => return super::pause::detail(workspace, target, *paused, reason),
        Outcome::MembershipChangeAuthorized(change) => return change.to_string(),
        Outcome::CheckpointRecorded(checkpoint) => return checkpoint.detail(),
        Outcome::ClusterProtocolSet { from, to } => return format!("protocol {from} -> {to}"),
        Outcome::WorkspaceSettingsSet(settings) => {
            let on = if settings.trace_content { "on" } else { "off" };
            return format!("trace content {on}");
        }
        Outcome::WebhookPut(webhook) => return super::webhook::put_detail(webhook),
        Outcome::DeliveryRecorded(delivery) => return super::webhook::attempt_detail(delivery),
        Outcome::ScheduleFired { detail, .. }
        | Outcome::TriggerFired { detail, .. }
        | Outcome::WorkspaceApplied { detail, .. } => {
            return detail.clone();
        }
        _ => return String::new(),
    };
    let notes: Vec<String> = entries
        .iter()
        .filter_map(|entry| governance_note(&entry.event))
        .collect();
    if notes.is_empty() {
        return String::new();
    }
    format!(
        "agent {} for {}: {}",
        task.agent,
        task.submitted_by,
        notes.join("; ")
    )
}

fn governance_note(event: &TaskEvent) -> Option<String> {
    let rule_of = |rule: &Option<String>| {
        rule.as_deref()
            .map_or_else(|| "no rule".to_owned(), |rule| format!("rule {rule}"))
    };
    Some(match event {
        TaskEvent::ToolCallDecided {
            call_id,
            arguments_hash,
            decision,
            policy_version,
        } => match decision {
            CallDecision::Allowed { rule, .. } => format!(
                "call {call_id} allowed by rule {rule} of policy version {policy_version} (arguments {arguments_hash})"
            ),
            CallDecision::Denied { rule, reason } => format!(
                "call {call_id} denied by {} of policy version {policy_version} (arguments {arguments_hash}): {reason}",
                rule_of(rule)
            ),
            CallDecision::ApprovalRequired { rule, .. } => format!(
                "call {call_id} requires approval by rule {rule} of policy version {policy_version} (arguments {arguments_hash})"
            ),
        },
        TaskEvent::DecisionChanged {
            call_id,
            arguments_hash,
            decision,
            policy_version,
        } => {
            let (rule, reason) = match decision {
                CallDecision::Denied { rule, reason } => (rule_of(rule), reason.as_str()),
                CallDecision::Allowed { rule, reason }
                | CallDecision::ApprovalRequired { rule, reason, .. } => {
                    (format!("rule {rule}"), reason.as_str())
                }
            };
            format!(
                "call {call_id} denied when it was to start, by {rule} of policy version {policy_version} (arguments {arguments_hash}): {reason}"
            )
        }
        TaskEvent::ApprovalDecided {
            call_id,
            by,
            approved,
            approvals,
            quorum,
            granted,
            ..
        } => format!(
            "call {call_id} {} by {by} ({approvals}/{quorum}{})",
            if *approved { "approved" } else { "denied" },
            if *granted { ", granted" } else { "" }
        ),
        TaskEvent::ApprovalExpired { call_id, .. } => {
            format!("approval request for call {call_id} expired")
        }
        TaskEvent::QuestionAsked {
            call_id,
            expires_at_ms,
            ..
        } => format!("call {call_id} asks a person (expires at {expires_at_ms} ms)"),
        TaskEvent::QuestionAnswered { call_id, by, .. } => {
            format!("question of call {call_id} answered by {by}")
        }
        TaskEvent::QuestionExpired { call_id, .. } => {
            format!("question of call {call_id} expired unanswered")
        }
        TaskEvent::Delegated {
            call_id,
            agent,
            child,
        } => format!("call {call_id} delegated to agent {agent} as task {child}"),
        TaskEvent::ToolDefinitionChanged {
            call_id,
            server,
            tool,
            pinned_hash,
            offered_hash,
        } => format!(
            "call {call_id} blocked: {server}/{tool} offered as {offered_hash}, pinned as {pinned_hash}"
        ),
        _ => return None,
    })
}
