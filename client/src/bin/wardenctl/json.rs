//! The one place that turns proto messages into JSON for `--output json` and audit
//! exports (proto types do not derive serde). Enums become lowercase words, timestamps
//! stay milliseconds, unset optional numbers become null.

use serde_json::{Value, json};
use warden_client::proto::{
    AuditRecord, ClusterStatusResponse, Member, Task, VerifyAuditResponse, Workspace,
};

use crate::output::{role_name, task_status_name};

pub fn task(task: &Task) -> Value {
    json!({
        "id": task.id,
        "workspace": task.workspace,
        "idempotency_key": task.idempotency_key,
        "input": task.input,
        "input_hash": task.input_hash,
        "status": task_status_name(task.status),
        "submitted_at_ms": task.submitted_at_ms,
        "submitted_by": task.submitted_by,
        "log_index": task.log_index,
    })
}

pub fn workspace(workspace: &Workspace) -> Value {
    json!({
        "name": workspace.name,
        "created_at_ms": workspace.created_at_ms,
        "created_by": workspace.created_by,
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
    })
}

pub fn cluster_status(status: &ClusterStatusResponse) -> Value {
    json!({
        "node_id": status.node_id,
        "state": status.state,
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
        });
        assert_eq!(value["role"], "learner");
        assert_eq!(value["matched_index"], Value::Null);
        assert_eq!(value["lag"], 3);

        let value = task(&Task {
            status: TaskStatus::Pending as i32,
            ..Task::default()
        });
        assert_eq!(value["status"], "pending");
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
