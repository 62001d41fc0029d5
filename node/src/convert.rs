//! The one place that converts between proto messages and domain types.

use warden_core::policy::OnExpiry;
use warden_core::{
    Agent, AuditRecord, Budget, BudgetScope, CatalogEntry, CatalogName, CatalogSpec, JournalEntry,
    Limits, McpServer, McpTransport, Pause, Provider, Switches, Task, TaskEvent, TaskLinks,
    TaskStatus, Workspace,
};
use warden_proto::v1;

use crate::cluster::Consistency;

/// A request's `consistency`; a value the API does not define is refused, not guessed.
pub fn consistency(value: i32) -> Result<Consistency, crate::error::Error> {
    match v1::ReadConsistency::try_from(value) {
        Ok(v1::ReadConsistency::Local) => Ok(Consistency::Local),
        Ok(v1::ReadConsistency::Linearizable) => Ok(Consistency::Linearizable),
        Err(_) => Err(crate::error::Error::InvalidArgument {
            field: "consistency",
            message: format!(
                "{value} is not a read consistency; expected 0 (linearizable) or 1 (local)"
            ),
        }),
    }
}

pub fn workspace(workspace: &Workspace) -> v1::Workspace {
    v1::Workspace {
        name: workspace.id.to_string(),
        created_at_ms: workspace.created_ms,
        created_by: workspace.created_by.to_string(),
    }
}

/// A workspace's settings, the defaults when it has none stored.
pub fn workspace_settings(
    workspace: &warden_core::WorkspaceId,
    settings: Option<&warden_core::WorkspaceSettings>,
) -> v1::WorkspaceSettings {
    v1::WorkspaceSettings {
        workspace: workspace.to_string(),
        trace_content: settings.is_some_and(|settings| settings.trace_content),
        updated_at_ms: settings.map_or(0, |settings| settings.updated_ms),
        updated_by: settings.map_or_else(String::new, |settings| settings.updated_by.to_string()),
    }
}

pub fn budget(budget: &Budget) -> v1::Budget {
    v1::Budget {
        workspace: budget.workspace.to_string(),
        agent: match &budget.scope {
            BudgetScope::Workspace => String::new(),
            BudgetScope::Agent(agent) => agent.to_string(),
        },
        tokens: budget.tokens,
        tool_calls: budget.tool_calls,
        tokens_used: budget.tokens_used,
        tool_calls_used: budget.tool_calls_used,
        counting_since_ms: budget.counting_since_ms,
        set_ms: budget.set_ms,
        set_by: budget.set_by.to_string(),
    }
}

/// What is paused in a workspace: the workspace itself, then its paused agents, then
/// its paused tools.
pub fn pauses(switches: Option<&Switches>, agents: &[Agent]) -> Vec<v1::Pause> {
    let paused = |target: &str, pause: &Pause| v1::Pause {
        target: target.to_owned(),
        by: pause.by.to_string(),
        reason: pause.reason.clone(),
        since_ms: pause.since_ms,
        ..Default::default()
    };
    let mut pauses = Vec::new();
    if let Some(switches) = switches
        && let Some(pause) = &switches.paused
    {
        pauses.push(v1::Pause {
            workspace: switches.workspace.to_string(),
            ..paused("workspace", pause)
        });
    }
    pauses.extend(
        agents
            .iter()
            .filter(|agent| agent.spec.paused)
            .map(|agent| v1::Pause {
                workspace: agent.workspace.to_string(),
                target: "agent".to_owned(),
                agent: agent.spec.name.to_string(),
                since_ms: agent.updated_ms,
                ..Default::default()
            }),
    );
    if let Some(switches) = switches {
        pauses.extend(switches.tools.iter().map(|tool| v1::Pause {
            workspace: switches.workspace.to_string(),
            server: tool.server.to_string(),
            tool: tool.tool.to_string(),
            ..paused("tool", &tool.pause)
        }));
    }
    pauses
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
        TaskStatus::WaitingForInput => v1::TaskStatus::WaitingForInput,
        TaskStatus::WaitingForChild => v1::TaskStatus::WaitingForChild,
    }
}

/// A task with its links: its question, parent, children and the child it waits on.
pub fn task_with_links(task: &Task, links: Option<&TaskLinks>) -> v1::Task {
    let mut out = self::task(task);
    let Some(links) = links else {
        return out;
    };
    out.question = links.question().map(|question| v1::TaskQuestion {
        call_id: question.call_id.clone(),
        seq: question.seq,
        question: question.question.clone(),
        asked_at_ms: question.asked_ms,
        expires_at_ms: question.expires_at_ms,
        on_expiry: match question.on_expiry {
            OnExpiry::Deny => "deny",
            OnExpiry::Fail => "fail",
        }
        .to_owned(),
    });
    out.parent = links.parent.as_ref().map(|parent| v1::TaskParent {
        task_id: parent.task.to_string(),
        call_id: parent.call_id.clone(),
        lineage: parent.lineage.iter().map(ToString::to_string).collect(),
    });
    out.children = links.children.iter().map(ToString::to_string).collect();
    out.waiting_for_task = links
        .waiting_child()
        .map(|(_, child)| child.to_string())
        .unwrap_or_default();
    out
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
        agent: task.agent.to_string(),
        owner: task.owner.map_or(0, |owner| owner.0),
        epoch: task.epoch,
        turns: task.turns,
        tokens_used: task.tokens_used,
        journal_len: task.journal_len,
        stalled: task.stalled,
        result: task.result.clone().unwrap_or_default(),
        reason: task.reason.clone().unwrap_or_default(),
        deadline_at_ms: task.deadline_at_ms,
        limits: Some(limits(&task.limits)),
        question: None,
        parent: None,
        children: Vec::new(),
        waiting_for_task: String::new(),
    }
}

pub fn limits(limits: &Limits) -> v1::AgentLimits {
    v1::AgentLimits {
        max_steps: limits.max_steps,
        token_budget: limits.token_budget,
        deadline_ms: limits.deadline_ms,
        stall_timeout_ms: limits.stall_timeout_ms,
    }
}

/// Limits from the API: unset (zero) fields take the defaults.
pub fn limits_from(proto: Option<&v1::AgentLimits>) -> Limits {
    let defaults = Limits::default();
    let Some(proto) = proto else {
        return defaults;
    };
    let or = |value: u64, default: u64| if value == 0 { default } else { value };
    Limits {
        max_steps: if proto.max_steps == 0 {
            defaults.max_steps
        } else {
            proto.max_steps
        },
        token_budget: or(proto.token_budget, defaults.token_budget),
        deadline_ms: or(proto.deadline_ms, defaults.deadline_ms),
        stall_timeout_ms: or(proto.stall_timeout_ms, defaults.stall_timeout_ms),
    }
}

/// A journal entry as an API event: its fields as a JSON object in `detail_json`.
pub fn task_event(task_id: &str, entry: &JournalEntry) -> v1::TaskEvent {
    let detail = match serde_json::to_value(&entry.event) {
        // Serde writes an enum variant as {"Variant": {fields}}: keep the fields.
        Ok(serde_json::Value::Object(mut outer)) if outer.len() == 1 => outer
            .values_mut()
            .next()
            .map(std::mem::take)
            .unwrap_or_default(),
        Ok(other) => other,
        Err(_) => serde_json::Value::Null,
    };
    let status = match &entry.event {
        TaskEvent::Completed { .. } => Some(TaskStatus::Completed),
        TaskEvent::Failed { .. } => Some(TaskStatus::Failed),
        TaskEvent::Cancelled { .. } => Some(TaskStatus::Cancelled),
        TaskEvent::TimedOut { .. } => Some(TaskStatus::TimedOut),
        TaskEvent::NeedsAttention { .. } => Some(TaskStatus::NeedsAttention),
        TaskEvent::QuestionAsked { .. } => Some(TaskStatus::WaitingForInput),
        TaskEvent::Delegated { .. } => Some(TaskStatus::WaitingForChild),
        TaskEvent::Assigned { .. } => Some(TaskStatus::Running),
        TaskEvent::Submitted { .. } => Some(TaskStatus::Pending),
        _ => None,
    };
    v1::TaskEvent {
        task_id: task_id.to_owned(),
        seq: entry.seq,
        log_index: entry.log_index,
        time_ms: entry.time_ms,
        epoch: entry.epoch,
        kind: entry.event.kind().to_owned(),
        detail_json: detail.to_string(),
        status: status
            .map_or(v1::TaskStatus::Unspecified, task_status)
            .into(),
    }
}

pub fn provider(provider: &Provider) -> v1::Provider {
    v1::Provider {
        workspace: provider.workspace.to_string(),
        name: provider.name.to_string(),
        kind: provider.kind.as_str().to_owned(),
        base_url: provider.base_url.clone(),
        model: provider.model.clone(),
        api_key_env: provider.api_key_env.clone().unwrap_or_default(),
        request_timeout_ms: provider.request_timeout_ms,
        max_retries: provider.max_retries,
        max_output_tokens: provider.max_output_tokens,
        version: provider.version,
        // Input only: a stored key is never returned, not even sealed.
        api_key: String::new(),
        api_key_set: provider.api_key.is_some(),
    }
}

pub fn catalog_entry(entry: &CatalogEntry) -> v1::CatalogEntry {
    let spec = &entry.spec;
    v1::CatalogEntry {
        name: spec.name.to_string(),
        description: spec.description.clone(),
        executable: spec.executable.clone(),
        args: spec.args.clone(),
        allowed_args: spec.allowed_args.clone(),
        allowed_env: spec.allowed_env.clone(),
        read_paths: spec.read_paths.clone(),
        write_paths: spec.write_paths.clone(),
        version: entry.version,
        updated_ms: entry.updated_ms,
        updated_by: entry.updated_by.to_string(),
    }
}

/// The spec a cluster admin sent; the name is parsed by the caller.
pub fn catalog_spec(entry: v1::CatalogEntry, name: CatalogName) -> CatalogSpec {
    CatalogSpec {
        name,
        description: entry.description,
        executable: entry.executable,
        args: entry.args,
        allowed_args: entry.allowed_args,
        allowed_env: entry.allowed_env,
        read_paths: entry.read_paths,
        write_paths: entry.write_paths,
    }
}

pub fn mcp_server(server: &McpServer) -> v1::McpServer {
    let (catalog, args, env, url) = match &server.transport {
        McpTransport::Stdio {
            catalog, args, env, ..
        } => (
            catalog.to_string(),
            args.clone(),
            env.iter().cloned().collect(),
            String::new(),
        ),
        McpTransport::Http { url, .. } => {
            (String::new(), Vec::new(), Default::default(), url.clone())
        }
    };
    // Credentials are input only: the response names them, never returns them.
    let (secret_env_names, secret_bearer_set) = match &server.transport {
        McpTransport::Stdio { secret_env, .. } => (
            secret_env.iter().map(|(name, _)| name.clone()).collect(),
            false,
        ),
        McpTransport::Http { bearer, .. } => (Vec::new(), bearer.is_some()),
    };
    v1::McpServer {
        workspace: server.workspace.to_string(),
        name: server.name.to_string(),
        command: String::new(),
        catalog,
        pinned: server.pinned,
        args,
        url,
        env,
        secret_env: Default::default(),
        secret_env_names,
        secret_bearer: String::new(),
        secret_bearer_set,
        version: server.version,
        tools: server
            .tools
            .iter()
            .map(|tool| v1::McpTool {
                name: tool.name.to_string(),
                description: tool.description.clone(),
                input_schema_json: tool.input_schema.clone(),
                read_only: tool.read_only,
                idempotent: tool.idempotent,
                destructive: tool.destructive,
                definition_hash: tool.definition_hash().to_hex(),
                drifted_hash: server
                    .drift(&tool.name)
                    .map(|offered| offered.to_hex())
                    .unwrap_or_default(),
            })
            .collect(),
    }
}

pub fn agent(agent: &Agent) -> v1::Agent {
    let spec = &agent.spec;
    v1::Agent {
        workspace: agent.workspace.to_string(),
        name: spec.name.to_string(),
        instructions: spec.instructions.clone(),
        provider: spec.provider.to_string(),
        tools: spec
            .tools
            .iter()
            .map(|grant| v1::ToolGrant {
                server: grant.server.to_string(),
                tool: grant.tool.to_string(),
                retry_safe: grant.retry_safe,
            })
            .collect(),
        limits: Some(limits(&spec.limits)),
        paused: spec.paused,
        version: agent.version,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_read_consistency_is_refused_naming_the_field() {
        assert_eq!(consistency(0).ok(), Some(Consistency::Linearizable));
        assert_eq!(consistency(1).ok(), Some(Consistency::Local));
        match consistency(7) {
            Err(crate::error::Error::InvalidArgument { field, message }) => {
                assert_eq!(field, "consistency");
                assert!(message.contains('7'), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}
