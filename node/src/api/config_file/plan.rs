//! What applying a file changes: each record the file holds compared with the one the
//! workspace holds, by name, and the commands that make them alike, in an order in which
//! every change finds what it names (providers and servers before the agents that use
//! them, agents before their budgets, schedules and triggers; deletions the other way).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use warden_core::{
    AgentName, AgentSpec, BudgetScope, CatchUp, Command, ProviderKind, ProviderName, ScheduleName,
    ScheduleSpec, ServerName, ToolGrant, ToolName, TriggerName, TriggerSpec, WorkspaceId,
};

use super::document::{
    AgentDoc, BudgetDoc, Document, ProviderDoc, ScheduleDoc, ServerDoc, TriggerDoc,
};
use crate::schedules::plan::Calendar;

/// The name the workspace's own budget goes by in a diff.
pub const WORKSPACE_BUDGET: &str = "(workspace)";

/// The first name `names` holds twice, if one is.
fn twice<'a>(names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = BTreeSet::new();
    names.into_iter().find(|name| !seen.insert(*name))
}

/// Refuses a file that holds two records of one kind under one name.
pub fn unique_names(file: &Document) -> Result<(), String> {
    let found = [
        (
            "provider",
            twice(file.providers.iter().map(|item| item.name.as_str())),
        ),
        (
            "mcp_server",
            twice(file.mcp_servers.iter().map(|item| item.name.as_str())),
        ),
        (
            "agent",
            twice(file.agents.iter().map(|item| item.name.as_str())),
        ),
        (
            "budget",
            twice(
                file.budgets
                    .iter()
                    .map(|item| item.agent.as_deref().unwrap_or(WORKSPACE_BUDGET)),
            ),
        ),
        (
            "schedule",
            twice(file.schedules.iter().map(|item| item.name.as_str())),
        ),
        (
            "trigger",
            twice(file.triggers.iter().map(|item| item.name.as_str())),
        ),
    ];
    match found
        .into_iter()
        .find_map(|(kind, name)| Some((kind, name?)))
    {
        Some((kind, name)) => Err(format!("{kind} {name} is in the file twice")),
        None => Ok(()),
    }
}

/// One record the file changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: &'static str,
    pub name: String,
    pub action: ChangeAction,
    /// What differs, one line per field: `model: "a" -> "b"`.
    pub details: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeAction {
    Create,
    Update,
    Delete,
}

impl ChangeAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeAction::Create => "create",
            ChangeAction::Update => "update",
            ChangeAction::Delete => "delete",
        }
    }
}

/// A record to put, with what it is compared from.
pub struct Put<'a, T> {
    pub name: String,
    pub wanted: &'a T,
    pub current: Option<&'a T>,
}

/// What differs between two documents, kind by kind; `forced` names records to put again
/// whatever they hold (a secret given for them).
pub struct Diff<'a> {
    pub changes: Vec<Change>,
    pub providers: Vec<Put<'a, ProviderDoc>>,
    pub servers: Vec<Put<'a, ServerDoc>>,
    pub agents: Vec<Put<'a, AgentDoc>>,
    pub budgets: Vec<Put<'a, BudgetDoc>>,
    pub schedules: Vec<Put<'a, ScheduleDoc>>,
    pub triggers: Vec<Put<'a, TriggerDoc>>,
    pub policy: bool,
    pub deleted_providers: Vec<String>,
    pub deleted_servers: Vec<String>,
    pub deleted_agents: Vec<String>,
    pub deleted_budgets: Vec<Option<String>>,
    pub deleted_schedules: Vec<String>,
    pub deleted_triggers: Vec<String>,
}

/// Field by field, what differs between `before` and `after`, as they serialize.
fn details<T: Serialize>(before: Option<&T>, after: Option<&T>) -> Vec<String> {
    let fields = |value: Option<&T>| -> BTreeMap<String, serde_json::Value> {
        match value.map(serde_json::to_value) {
            Some(Ok(serde_json::Value::Object(map))) => map.into_iter().collect(),
            _ => BTreeMap::new(),
        }
    };
    let (old, new) = (fields(before), fields(after));
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let show = |value: Option<&serde_json::Value>| match value {
        None | Some(serde_json::Value::Null) => "-".to_owned(),
        Some(value) => {
            let text = value.to_string();
            warden_core::cut_text(&text, 120)
        }
    };
    keys.into_iter()
        .filter(|key| *key != "name" && old.get(*key) != new.get(*key))
        .map(|key| format!("{key}: {} -> {}", show(old.get(key)), show(new.get(key))))
        .collect()
}

/// Compares one kind: the records of `wanted` to put (new or different, or `forced`),
/// and the names of `current` ones the file no longer holds.
fn compare<'a, T: Serialize + PartialEq>(
    kind: &'static str,
    wanted: &'a [T],
    current: &'a [T],
    name_of: impl Fn(&T) -> String,
    same: impl Fn(&T, &T) -> bool,
    forced: &BTreeSet<String>,
    changes: &mut Vec<Change>,
) -> (Vec<Put<'a, T>>, Vec<String>) {
    let existing: BTreeMap<String, &T> = current.iter().map(|item| (name_of(item), item)).collect();
    let mut puts = Vec::new();
    for item in wanted {
        let name = name_of(item);
        let before = existing.get(&name).copied();
        let forced = forced.contains(&format!("{kind}/{name}"));
        match before {
            Some(before) if same(before, item) && !forced => {}
            _ => {
                let mut lines = details(before, Some(item));
                if forced {
                    lines.push("secret: replaced".to_owned());
                }
                changes.push(Change {
                    kind,
                    name: name.clone(),
                    action: match before {
                        None => ChangeAction::Create,
                        Some(_) => ChangeAction::Update,
                    },
                    details: lines,
                });
                puts.push(Put {
                    name,
                    wanted: item,
                    current: before,
                });
            }
        }
    }
    let kept: BTreeSet<String> = wanted.iter().map(&name_of).collect();
    let mut deleted = Vec::new();
    for (name, item) in existing {
        if !kept.contains(&name) {
            changes.push(Change {
                kind,
                name: name.clone(),
                action: ChangeAction::Delete,
                details: details(Some(item), None),
            });
            deleted.push(name);
        }
    }
    (puts, deleted)
}

/// The differences between the workspace's configuration (`current`) and the file's.
pub fn diff<'a>(file: &'a Document, current: &'a Document, forced: &BTreeSet<String>) -> Diff<'a> {
    let mut changes = Vec::new();
    let (providers, deleted_providers) = compare(
        "provider",
        &file.providers,
        &current.providers,
        |item| item.name.clone(),
        |a, b| a == b,
        forced,
        &mut changes,
    );
    // A file that pins nothing takes whatever the server offers: its pins do not count.
    let (servers, deleted_servers) = compare(
        "mcp_server",
        &file.mcp_servers,
        &current.mcp_servers,
        |item| item.name.clone(),
        |current, wanted| match &wanted.pinned {
            Some(_) => current == wanted,
            None => {
                ServerDoc {
                    pinned: None,
                    ..current.clone()
                } == *wanted
            }
        },
        forced,
        &mut changes,
    );
    let (agents, deleted_agents) = compare(
        "agent",
        &file.agents,
        &current.agents,
        |item| item.name.clone(),
        |a, b| a == b,
        forced,
        &mut changes,
    );
    let policy = match (&file.policy, &current.policy) {
        (Some(wanted), current) if Some(wanted) != current.as_ref() => {
            changes.push(Change {
                kind: "policy",
                name: "rules".to_owned(),
                action: match current {
                    None => ChangeAction::Create,
                    Some(_) => ChangeAction::Update,
                },
                details: vec![format!(
                    "rules: {} -> {}",
                    current.as_ref().map_or(0, |policy| policy.rules.len()),
                    wanted.rules.len()
                )],
            });
            true
        }
        _ => false,
    };
    let budget_name =
        |item: &BudgetDoc| item.agent.clone().unwrap_or_else(|| "workspace".to_owned());
    let (budgets, deleted_budget_names) = compare(
        "budget",
        &file.budgets,
        &current.budgets,
        budget_name,
        |a, b| a == b,
        forced,
        &mut changes,
    );
    let deleted_budgets = deleted_budget_names
        .into_iter()
        .map(|name| {
            current
                .budgets
                .iter()
                .find(|item| budget_name(item) == name)
                .and_then(|item| item.agent.clone())
        })
        .collect();
    let (schedules, deleted_schedules) = compare(
        "schedule",
        &file.schedules,
        &current.schedules,
        |item| item.name.clone(),
        |a, b| a == b,
        forced,
        &mut changes,
    );
    let (triggers, deleted_triggers) = compare(
        "trigger",
        &file.triggers,
        &current.triggers,
        |item| item.name.clone(),
        |a, b| a == b,
        forced,
        &mut changes,
    );
    Diff {
        changes,
        providers,
        servers,
        agents,
        budgets,
        schedules,
        triggers,
        policy,
        deleted_providers,
        deleted_servers,
        deleted_agents,
        deleted_budgets,
        deleted_schedules,
        deleted_triggers,
    }
}

/// Why an item of the file cannot be read: `<kind> <name>: <field>: <problem>`.
pub fn invalid(kind: &str, name: &str, problem: impl std::fmt::Display) -> String {
    format!("{kind} {name}: {problem}")
}

pub fn provider_kind(doc: &ProviderDoc) -> Result<ProviderKind, String> {
    match doc.kind.as_str() {
        "openai" => Ok(ProviderKind::OpenAi),
        "anthropic" => Ok(ProviderKind::Anthropic),
        other => Err(invalid(
            "provider",
            &doc.name,
            format!("kind {other:?} must be openai or anthropic"),
        )),
    }
}

pub fn provider_name(name: &str) -> Result<ProviderName, String> {
    ProviderName::parse(name).map_err(|error| invalid("provider", name, error))
}

pub fn server_name(name: &str) -> Result<ServerName, String> {
    ServerName::parse(name).map_err(|error| invalid("mcp_server", name, error))
}

pub fn agent_spec(doc: &AgentDoc, paused: bool) -> Result<AgentSpec, String> {
    let bad = |problem: String| invalid("agent", &doc.name, problem);
    let mut tools = Vec::with_capacity(doc.tools.len());
    for grant in &doc.tools {
        tools.push(ToolGrant {
            server: ServerName::parse(&grant.server).map_err(|e| bad(format!("tools: {e}")))?,
            tool: ToolName::parse(&grant.tool).map_err(|e| bad(format!("tools: {e}")))?,
            retry_safe: grant.retry_safe,
        });
    }
    Ok(AgentSpec {
        name: AgentName::parse(&doc.name).map_err(|e| bad(e.to_string()))?,
        instructions: doc.instructions.clone(),
        provider: ProviderName::parse(&doc.provider).map_err(|e| bad(format!("provider: {e}")))?,
        tools,
        limits: doc.limits.into(),
        paused,
    })
}

pub fn budget_agent(doc_agent: Option<&String>) -> Result<BudgetScope, String> {
    match doc_agent {
        None => Ok(BudgetScope::Workspace),
        Some(name) => AgentName::parse(name)
            .map(BudgetScope::Agent)
            .map_err(|error| invalid("budget", name, error)),
    }
}

pub fn schedule_spec(doc: &ScheduleDoc) -> Result<ScheduleSpec, String> {
    let bad = |problem: String| invalid("schedule", &doc.name, problem);
    Calendar::parse(&doc.cron, &doc.timezone).map_err(bad)?;
    Ok(ScheduleSpec {
        name: ScheduleName::parse(&doc.name).map_err(|e| bad(e.to_string()))?,
        cron: doc.cron.trim().to_owned(),
        timezone: doc.timezone.clone(),
        agent: AgentName::parse(&doc.agent).map_err(|e| bad(format!("agent: {e}")))?,
        input: doc.input.clone(),
        catch_up: CatchUp::parse(&doc.catch_up).map_err(|e| bad(format!("catch_up: {e}")))?,
        paused: doc.paused,
    })
}

pub fn trigger_spec(doc: &TriggerDoc) -> Result<TriggerSpec, String> {
    let bad = |problem: String| invalid("trigger", &doc.name, problem);
    Ok(TriggerSpec {
        name: TriggerName::parse(&doc.name).map_err(|e| bad(e.to_string()))?,
        agent: AgentName::parse(&doc.agent).map_err(|e| bad(format!("agent: {e}")))?,
        input: doc.input.clone(),
        paused: doc.paused,
    })
}

/// The deletions of a diff as commands, in the order they can be applied: what names an
/// agent before the puts; budgets, agents, then what agents name after them.
pub fn deletions(
    diff: &Diff<'_>,
    workspace: &WorkspaceId,
) -> Result<(Vec<Command>, Vec<Command>), String> {
    let mut early = Vec::new();
    for name in &diff.deleted_triggers {
        early.push(Command::DeleteTrigger {
            workspace: workspace.clone(),
            name: TriggerName::parse(name).map_err(|e| invalid("trigger", name, e))?,
        });
    }
    for name in &diff.deleted_schedules {
        early.push(Command::DeleteSchedule {
            workspace: workspace.clone(),
            name: ScheduleName::parse(name).map_err(|e| invalid("schedule", name, e))?,
        });
    }
    // Budgets after the puts (an agent created again may find its old budget) and before
    // the agents they limit are deleted.
    let mut late = Vec::new();
    for agent in &diff.deleted_budgets {
        late.push(Command::SetBudget {
            workspace: workspace.clone(),
            agent: match agent {
                None => None,
                Some(name) => Some(AgentName::parse(name).map_err(|e| invalid("budget", name, e))?),
            },
            tokens: None,
            tool_calls: None,
            reset: false,
        });
    }
    for name in &diff.deleted_agents {
        late.push(Command::DeleteAgent {
            workspace: workspace.clone(),
            name: AgentName::parse(name).map_err(|e| invalid("agent", name, e))?,
        });
    }
    for name in &diff.deleted_servers {
        late.push(Command::DeleteMcpServer {
            workspace: workspace.clone(),
            name: server_name(name)?,
        });
    }
    for name in &diff.deleted_providers {
        late.push(Command::DeleteProvider {
            workspace: workspace.clone(),
            name: provider_name(name)?,
        });
    }
    Ok((early, late))
}
