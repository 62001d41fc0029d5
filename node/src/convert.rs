//! The one place that converts between proto messages and domain types.

use warden_core::{AuditRecord, Task, TaskStatus, Workspace};
use warden_proto::v1;

use crate::cluster::Consistency;

pub fn consistency(value: i32) -> Consistency {
    match v1::ReadConsistency::try_from(value) {
        Ok(v1::ReadConsistency::Local) => Consistency::Local,
        // Unknown values take the safe default.
        Ok(v1::ReadConsistency::Linearizable) | Err(_) => Consistency::Linearizable,
    }
}

pub fn workspace(workspace: &Workspace) -> v1::Workspace {
    v1::Workspace {
        name: workspace.id.to_string(),
        created_at_ms: workspace.created_ms,
        created_by: workspace.created_by.to_string(),
    }
}

pub fn task_status(status: TaskStatus) -> v1::TaskStatus {
    match status {
        TaskStatus::Pending => v1::TaskStatus::Pending,
        TaskStatus::Running => v1::TaskStatus::Running,
        TaskStatus::WaitingApproval => v1::TaskStatus::WaitingApproval,
        TaskStatus::NeedsAttention => v1::TaskStatus::NeedsAttention,
        TaskStatus::Completed => v1::TaskStatus::Completed,
        TaskStatus::Failed => v1::TaskStatus::Failed,
        TaskStatus::Cancelled => v1::TaskStatus::Cancelled,
        TaskStatus::TimedOut => v1::TaskStatus::TimedOut,
    }
}

pub fn task(task: &Task) -> v1::Task {
    v1::Task {
        id: task.id.to_string(),
        workspace: task.workspace.to_string(),
        idempotency_key: task.idempotency_key.to_string(),
        input: task.input.clone(),
        input_hash: task.input_hash.to_hex(),
        status: task_status(task.status).into(),
        submitted_at_ms: task.submitted_ms,
        submitted_by: task.submitted_by.to_string(),
        log_index: task.log_index,
    }
}

pub fn audit_record(record: &AuditRecord) -> v1::AuditRecord {
    v1::AuditRecord {
        index: record.index,
        log_index: record.log_index,
        time_ms: record.time_ms,
        principal: record.principal.clone(),
        action: record.action.clone(),
        resource: record.resource.clone(),
        outcome: record.outcome.clone(),
        detail: record.detail.clone(),
        payload_hash: record.payload_hash.to_hex(),
        prev_hash: record.prev_hash.to_hex(),
        hash: record.hash.to_hex(),
    }
}

/// A caller-supplied value made safe to put in an audit resource name: at most 64
/// characters, anything outside `[A-Za-z0-9._-]` shown as `?`.
pub fn sanitized(value: &str) -> String {
    value
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '?'
            }
        })
        .collect()
}
