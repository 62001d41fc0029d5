//! The one place that turns proto messages into JSON for `--output json` and audit
//! exports (proto types do not derive serde). Enums become lowercase words, timestamps
//! stay milliseconds, unset optional numbers become null.

use serde_json::{Value, json};
use warden_client::proto::{
    Agent, AgentLimits, AuditRecord, CatalogEntry, ClusterStatusResponse, Delivery, McpServer,
    McpTool, Member, Provider, Task, TaskEvent, ToolGrant, VerifyAuditResponse, Webhook, Workspace,
    WorkspaceSettings,
};

use crate::output::{role_name, task_status_name};

pub fn task(task: &Task) -> Value {
    json!({
        "id": task.id,
        "workspace": task.workspace,
        "agent": task.agent,
        "idempotency_key": task.idempotency_key,
        "input": task.input,
        "input_hash": task.input_hash,
        "status": task_status_name(task.status),
        "stalled": task.stalled,
        "submitted_at_ms": task.submitted_at_ms,
        "submitted_by": task.submitted_by,
        "log_index": task.log_index,
        "owner": task.owner,
        "epoch": task.epoch,
        "turns": task.turns,
        "tokens_used": task.tokens_used,
        "journal_len": task.journal_len,
        "result": task.result,
        "reason": task.reason,
        "deadline_at_ms": task.deadline_at_ms,
        "limits": task.limits.as_ref().map(limits),
        "question": task.question.as_ref().map(|question| json!({
            "call_id": question.call_id,
            "seq": question.seq,
            "question": question.question,
            "asked_at_ms": question.asked_at_ms,
            "expires_at_ms": question.expires_at_ms,
            "on_expiry": question.on_expiry,
        })),
        "parent": task.parent.as_ref().map(|parent| json!({
            "task_id": parent.task_id,
            "call_id": parent.call_id,
            "lineage": parent.lineage,
        })),
        "children": task.children,
        "waiting_for_task": task.waiting_for_task,
    })
}

/// A journal event; `detail` is the parsed `detail_json` (its text when it is not JSON).
pub fn task_event(event: &TaskEvent) -> Value {
    let detail = serde_json::from_str::<Value>(&event.detail_json)
        .unwrap_or_else(|_| Value::String(event.detail_json.clone()));
    json!({
        "task_id": event.task_id,
        "seq": event.seq,
        "log_index": event.log_index,
        "time_ms": event.time_ms,
        "epoch": event.epoch,
        "kind": event.kind,
        "status": task_status_name(event.status),
        "detail": detail,
    })
}

pub fn limits(limits: &AgentLimits) -> Value {
    json!({
        "max_steps": limits.max_steps,
        "token_budget": limits.token_budget,
        "deadline_ms": limits.deadline_ms,
        "stall_timeout_ms": limits.stall_timeout_ms,
    })
}

pub fn provider(provider: &Provider) -> Value {
    json!({
        "workspace": provider.workspace,
        "name": provider.name,
        "kind": provider.kind,
        "base_url": provider.base_url,
        "model": provider.model,
        "api_key_env": provider.api_key_env,
        "api_key_set": provider.api_key_set,
        "request_timeout_ms": provider.request_timeout_ms,
        "max_retries": provider.max_retries,
        "max_output_tokens": provider.max_output_tokens,
        "version": provider.version,
    })
}

pub fn mcp_server(server: &McpServer) -> Value {
    json!({
        "workspace": server.workspace,
        "name": server.name,
        "catalog": server.catalog,
        "args": server.args,
        "env": server.env,
        "secret_env_names": server.secret_env_names,
        "secret_bearer_set": server.secret_bearer_set,
        "url": server.url,
        "pinned": server.pinned,
        "tools": server.tools.iter().map(mcp_tool).collect::<Vec<_>>(),
        "version": server.version,
    })
}

pub fn catalog_entry(entry: &CatalogEntry) -> Value {
    json!({
        "name": entry.name,
        "description": entry.description,
        "executable": entry.executable,
        "args": entry.args,
        "allowed_args": entry.allowed_args,
        "allowed_env": entry.allowed_env,
        "read_paths": entry.read_paths,
        "write_paths": entry.write_paths,
        "version": entry.version,
        "updated_ms": entry.updated_ms,
        "updated_by": entry.updated_by,
    })
}

/// A pinned tool; the input schema is parsed (kept as text when it is not JSON).
pub fn mcp_tool(tool: &McpTool) -> Value {
    let input_schema = serde_json::from_str::<Value>(&tool.input_schema_json)
        .unwrap_or_else(|_| Value::String(tool.input_schema_json.clone()));
    json!({
        "name": tool.name,
        "description": tool.description,
        "input_schema": input_schema,
        "read_only": tool.read_only,
        "idempotent": tool.idempotent,
        "destructive": tool.destructive,
        "definition_hash": tool.definition_hash,
    })
}

pub fn agent(agent: &Agent) -> Value {
    json!({
        "workspace": agent.workspace,
        "name": agent.name,
        "provider": agent.provider,
        "instructions": agent.instructions,
        "tools": agent.tools.iter().map(tool_grant).collect::<Vec<_>>(),
        "limits": agent.limits.as_ref().map(limits),
        "paused": agent.paused,
        "version": agent.version,
    })
}

/// A tool grant; `retry_safe` is null when the tool's own annotations decide.
pub fn tool_grant(grant: &ToolGrant) -> Value {
    json!({
        "server": grant.server,
        "tool": grant.tool,
        "retry_safe": grant.retry_safe,
    })
}

pub fn workspace(workspace: &Workspace) -> Value {
    json!({
        "name": workspace.name,
        "created_at_ms": workspace.created_at_ms,
        "created_by": workspace.created_by,
    })
}

pub fn workspace_settings(settings: &WorkspaceSettings) -> Value {
    json!({
        "workspace": settings.workspace,
        "trace_content": settings.trace_content,
        "updated_at_ms": settings.updated_at_ms,
        "updated_by": settings.updated_by,
    })
}

pub fn webhook(webhook: &Webhook) -> Value {
    json!({
        "workspace": webhook.workspace,
        "name": webhook.name,
        "url": webhook.url,
        "events": webhook.events,
        "version": webhook.version,
        "updated_at_ms": webhook.updated_at_ms,
        "updated_by": webhook.updated_by,
    })
}

pub fn delivery(delivery: &Delivery) -> Value {
    json!({
        "id": delivery.id,
        "webhook": delivery.webhook,
        "event": delivery.event,
        "task_id": delivery.task_id,
        "call_id": delivery.call_id,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "created_at_ms": delivery.created_at_ms,
        "last_attempt_at_ms": delivery.last_attempt_at_ms,
        "last_error": delivery.last_error,
        "next_attempt_at_ms": delivery.next_attempt_at_ms,
        "status": delivery.status,
    })
}

pub fn audit_record(record: &AuditRecord) -> Value {
    json!({
        "index": record.index,
        "log_index": record.log_index,
        "time_ms": record.time_ms,
        "principal": record.principal,
        "action": record.action,
        "resource": record.resource,
        "outcome": record.outcome,
        "detail": record.detail,
        "payload_hash": record.payload_hash,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
    })
}

pub fn member(member: &Member) -> Value {
    json!({
        "node_id": member.node_id,
        "address": member.address,
        "role": role_name(member.role),
        "matched_index": member.matched_index,
        "lag": member.lag,
        "version": member.version,
        "protocol": member.protocol,
        "heard_ms_ago": member.heard_ms_ago,
        "capacity": member.capacity,
        "lease_holds": member.lease_holds,
        "owned_tasks": member.owned_tasks,
    })
}

pub fn cluster_status(status: &ClusterStatusResponse) -> Value {
    json!({
        "node_id": status.node_id,
        "state": status.state,
        "version": status.version,
        "protocol": status.protocol,
        "cluster_protocol": status.cluster_protocol,
        "leader_id": status.leader_id,
        "term": status.term,
        "last_log_index": status.last_log_index,
        "committed_index": status.committed_index,
        "applied_index": status.applied_index,
        "snapshot_index": status.snapshot_index,
        "purged_index": status.purged_index,
        "members": status.members.iter().map(member).collect::<Vec<_>>(),
    })
}

pub fn verify(report: &VerifyAuditResponse) -> Value {
    json!({
        "ok": report.ok,
        "node_id": report.node_id,
        "applied_index": report.applied_index,
        "record_count": report.record_count,
        "head_hash": report.head_hash,
        "first_bad_index": report.first_bad_index,
        "problem": report.problem,
        "checkpoint_count": report.checkpoint_count,
        "checkpoint_covered": report.checkpoint_covered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_client::proto::{MemberRole, TaskStatus};

    #[test]
    fn enums_are_words_and_unset_numbers_null() {
        let value = member(&Member {
            node_id: 2,
            address: "h:1".into(),
            role: MemberRole::Learner as i32,
            matched_index: None,
            lag: Some(3),
            protocol: Some(2),
            version: None,
            ..Member::default()
        });
        assert_eq!(value["role"], "learner");
        assert_eq!(value["matched_index"], Value::Null);
        assert_eq!(value["lag"], 3);
        assert_eq!(value["protocol"], 2);
        assert_eq!(value["version"], Value::Null);

        let value = task(&Task {
            status: TaskStatus::Pending as i32,
            ..Task::default()
        });
        assert_eq!(value["status"], "pending");
        assert_eq!(value["limits"], Value::Null);
    }

    #[test]
    fn event_detail_is_parsed_json() {
        let value = task_event(&TaskEvent {
            seq: 3,
            kind: "assigned".into(),
            detail_json: r#"{"node":2,"epoch":1}"#.into(),
            status: TaskStatus::Running as i32,
            ..TaskEvent::default()
        });
        assert_eq!(value["detail"]["node"], 2);
        assert_eq!(value["status"], "running");
        let value = task_event(&TaskEvent {
            detail_json: "not json".into(),
            ..TaskEvent::default()
        });
        assert_eq!(value["detail"], "not json");
    }

    #[test]
    fn audit_records_keep_every_field() {
        let value = audit_record(&AuditRecord {
            index: 7,
            hash: "ab".repeat(32),
            prev_hash: "0".repeat(64),
            ..AuditRecord::default()
        });
        let object = value.as_object().expect("an object");
        assert_eq!(object.len(), 11, "one key per proto field");
        assert_eq!(value["hash"], "ab".repeat(32));
        assert_eq!(value["index"], 7);
    }
}
