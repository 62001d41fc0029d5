//! The RocksDB key layout: column family names and how every key is built. No other
//! module knows what a key looks like; they ask this one.
//!
//! Column families:
//! - [`LOG_CF`]: Raft log entries keyed by their index as 8 big-endian bytes, so key order
//!   is index order.
//! - [`LOG_META_CF`]: the vote, the committed log id, the last purged log id and the
//!   persisted format's version.
//! - [`SM_CF`]: the state machine. Every key starts with a one-byte tag, so each kind of
//!   record occupies its own contiguous key range:
//!   - `0x00 name`: state-machine metadata (applied log id, last membership, audit head);
//!   - `0x10 workspace`: a workspace, by name;
//!   - `0x20 workspace 0x00 task-id(16 bytes, big-endian)`: a task; the tasks of one
//!     workspace sort by id, which is submission order;
//!   - `0x30 workspace 0x00 idempotency-key`: an idempotency record;
//!   - `0x40 index(8 bytes, big-endian)`: an audit record;
//!   - `0x41 node(8 bytes, big-endian) index(8 bytes, big-endian)`: a node's accepted audit
//!     checkpoint; one node's are a range in index order;
//!   - `0x18 node(8 bytes, big-endian)`: a node's audit keys and membership;
//!   - `0x11 workspace 0x00 name`: a provider; `0x12 ...`: an MCP server; `0x13 ...`: an agent;
//!   - `0x14 workspace`: the workspace's policy;
//!   - `0x15 workspace 0x00`: the workspace's budget; `0x15 workspace 0x00 agent`: an
//!     agent's, so a workspace's budgets are one range with its own first;
//!   - `0x16 workspace`: the workspace's pause switches;
//!   - `0x17 name`: a cluster catalog entry (a stdio MCP server workspaces may register);
//!   - `0x19 workspace`: the workspace's settings;
//!   - `0x1a workspace 0x00 name`: a webhook;
//!   - `0x1b workspace 0x00 log-index(8) seq(4)`: a webhook delivery, in event order;
//!   - `0x52 workspace 0x00 task-id(16)`: the waiting-approval index, an empty entry for
//!     every task whose call waits for an approval (the approvals inbox reads it instead
//!     of every active task); derived from the active-task index, so a snapshot or a
//!     backup installs it rebuilt, never as sent;
//!   - `0x53 node(8 bytes, big-endian) workspace 0x00 task-id(16)`: the owned-task index,
//!     an empty entry for every running task under the node that runs it (a node's
//!     reconciliation reads its own instead of every active task); derived from the
//!     active-task index like the waiting-approval index;
//!   - `0x54 due-ms(8 bytes, big-endian) workspace 0x00 task-id(16)`: the due index, an
//!     empty entry for every active task at the earliest time one of its timers
//!     (deadline, approval expiry, stall) may fire (0 while it waits for an answer, whose
//!     expiry is in its links); `0x55 workspace 0x00 agent 0x00 task-id(16)`: the
//!     unplaced index, an empty entry for every runnable task without an owner. The
//!     leader's controller reads both instead of every active task; both derived from the
//!     active-task index like the waiting-approval index;
//!   - `0x51 next-attempt-ms(8) workspace 0x00 log-index(8) seq(4)`: the pending-delivery
//!     index, an empty entry for every delivery not yet delivered or given up, earliest
//!     attempt first, which the leader's sender reads up to the present;
//!   - `0x50 workspace 0x00 task-id(16)`: the active-task index, an [`ActiveTask`] for every
//!     task not yet terminal, which placement, deadlines and stall detection scan instead
//!     of every task;
//!   - `0x60 workspace 0x00 task-id(16) seq(8 bytes, big-endian)`: a journal entry; one
//!     task's journal is a contiguous range in sequence order.
//!
//!   - `0x70 workspace 0x00 log-index(8) task-id(16) seq(8)`: the workspace event index,
//!     one empty value per journal entry, so a workspace's events are a range in log order.
//!
//!   Provider, server and agent names are `[a-z0-9-]`, so they never contain `0x00` either.
//!   Workspace names are `[a-z0-9-]` and idempotency keys are printable ASCII, so neither
//!   contains the `0x00` separator: `tasks of "a"` (`0x20 a 0x00`) can never be a prefix
//!   of a key of workspace `"a-b"`. No tag is `0xff`, so `[SM_START, SM_END)` spans the
//!   whole column family.
//! - [`SNAPSHOT_CF`]: the current snapshot (metadata and data in one value).
//!
//! [`ActiveTask`]: crate::ActiveTask

use warden_core::{
    AgentName, BudgetScope, CatalogName, IdempotencyKey, NodeId, Principal, ProviderName, Scope,
    ServerName, TaskId, TokenId, WorkspaceId,
};

pub const LOG_CF: &str = "log";
pub const LOG_META_CF: &str = "log_meta";
pub const SM_CF: &str = "sm";
pub const SNAPSHOT_CF: &str = "snapshot";

/// Every column family the database is opened with.
pub const ALL_CFS: [&str; 4] = [LOG_CF, LOG_META_CF, SM_CF, SNAPSHOT_CF];

// ---- log and log_meta ----

/// The key of the log entry at `index`.
pub fn log_entry(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// The index a log key encodes, or `None` if the key is not a log key.
pub fn log_entry_index(key: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = key.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// An exclusive upper bound above every log key, including the one of `u64::MAX`.
pub fn log_end() -> Vec<u8> {
    vec![0xff; 9]
}

/// The exclusive end of the log keys up to and including `index`.
pub fn log_end_after(index: u64) -> Vec<u8> {
    match index.checked_add(1) {
        Some(next) => log_entry(next).to_vec(),
        None => log_end(),
    }
}

pub const VOTE: &[u8] = b"vote";
pub const COMMITTED: &[u8] = b"committed";
pub const LAST_PURGED: &[u8] = b"last_purged";
/// The persisted format's version (`format.rs`).
pub const FORMAT: &[u8] = b"format";

// ---- sm ----

const TAG_META: u8 = 0x00;
const TAG_WORKSPACE: u8 = 0x10;
const TAG_TASK: u8 = 0x20;
const TAG_IDEMPOTENCY: u8 = 0x30;
const TAG_AUDIT: u8 = 0x40;
const TAG_CHECKPOINT: u8 = 0x41;
const TAG_NODE: u8 = 0x18;
const TAG_PROVIDER: u8 = 0x11;
const TAG_MCP_SERVER: u8 = 0x12;
const TAG_AGENT: u8 = 0x13;
const TAG_POLICY: u8 = 0x14;
const TAG_BUDGET: u8 = 0x15;
const TAG_SWITCHES: u8 = 0x16;
const TAG_CATALOG: u8 = 0x17;
const TAG_SETTINGS: u8 = 0x19;
const TAG_ACTIVE: u8 = 0x50;
const TAG_JOURNAL: u8 = 0x60;
const TAG_WORKSPACE_EVENT: u8 = 0x70;
const TAG_TOKEN: u8 = 0x80;
const TAG_BINDING: u8 = 0x81;
const TAG_WEBHOOK: u8 = 0x1a;
const TAG_DELIVERY: u8 = 0x1b;
const TAG_TASK_LINKS: u8 = 0x1c;
const TAG_SCHEDULE: u8 = 0x1d;
const TAG_TRIGGER: u8 = 0x1e;
const TAG_TASK_AUTHOR: u8 = 0x1f;
const TAG_PENDING_DELIVERY: u8 = 0x51;
const TAG_WAITING: u8 = 0x52;
const TAG_OWNED: u8 = 0x53;
const TAG_DUE: u8 = 0x54;
const TAG_UNPLACED: u8 = 0x55;
const SEPARATOR: u8 = 0x00;

/// The inclusive start and exclusive end of the whole state-machine key space.
pub const SM_START: &[u8] = &[];
pub const SM_END: &[u8] = &[0xff];

pub const APPLIED: &[u8] = b"\x00applied";
pub const MEMBERSHIP: &[u8] = b"\x00membership";
pub const AUDIT_HEAD: &[u8] = b"\x00audit_head";
pub const BOOTSTRAPPED: &[u8] = b"\x00bootstrapped";
pub const AUDIT_SETTINGS: &[u8] = b"\x00audit_settings";
/// The protocol the cluster runs (`warden_core::version`); absent until first raised.
pub const CLUSTER_PROTOCOL: &[u8] = b"\x00cluster_protocol";

/// Every tag a state-machine key starts with.
const ALL_TAGS: [u8; 31] = [
    TAG_META,
    TAG_WORKSPACE,
    TAG_TASK,
    TAG_IDEMPOTENCY,
    TAG_AUDIT,
    TAG_CHECKPOINT,
    TAG_NODE,
    TAG_PROVIDER,
    TAG_MCP_SERVER,
    TAG_AGENT,
    TAG_POLICY,
    TAG_BUDGET,
    TAG_SWITCHES,
    TAG_CATALOG,
    TAG_SETTINGS,
    TAG_ACTIVE,
    TAG_JOURNAL,
    TAG_WORKSPACE_EVENT,
    TAG_TOKEN,
    TAG_BINDING,
    TAG_WEBHOOK,
    TAG_DELIVERY,
    TAG_TASK_LINKS,
    TAG_SCHEDULE,
    TAG_TRIGGER,
    TAG_TASK_AUTHOR,
    TAG_PENDING_DELIVERY,
    TAG_WAITING,
    TAG_OWNED,
    TAG_DUE,
    TAG_UNPLACED,
];

/// Whether `key` lies inside the state-machine key space (a snapshot image is checked
/// against this before it replaces the state).
pub fn is_sm_key(key: &[u8]) -> bool {
    key.first().is_some_and(|tag| ALL_TAGS.contains(tag))
}

pub fn workspace(id: &WorkspaceId) -> Vec<u8> {
    tagged(TAG_WORKSPACE, id.as_str().as_bytes())
}

/// The `[start, end)` range holding every workspace, in name order.
pub fn workspaces() -> (Vec<u8>, Vec<u8>) {
    (vec![TAG_WORKSPACE], vec![TAG_WORKSPACE + 1])
}

pub fn task(workspace: &WorkspaceId, id: &TaskId) -> Vec<u8> {
    let mut key = tasks_prefix(workspace);
    key.extend_from_slice(&id.to_bytes());
    key
}

/// The `[start, end)` range of the tasks of `workspace` that come after `after` (all of
/// them when `None`), in id order.
pub fn tasks_after(workspace: &WorkspaceId, after: Option<&TaskId>) -> (Vec<u8>, Vec<u8>) {
    let prefix = tasks_prefix(workspace);
    let start = match after {
        // The smallest key greater than the task's own key.
        Some(id) => {
            let mut key = task(workspace, id);
            key.push(0x00);
            key
        }
        None => prefix.clone(),
    };
    (start, prefix_end(prefix))
}

/// A task's links (parent, children, what it waits for), beside the task.
pub fn task_links(workspace: &WorkspaceId, id: &TaskId) -> Vec<u8> {
    let mut key = task_links_prefix(workspace);
    key.extend_from_slice(&id.to_bytes());
    key
}

fn task_links_prefix(workspace: &WorkspaceId) -> Vec<u8> {
    let mut key = tagged(TAG_TASK_LINKS, workspace.as_str().as_bytes());
    key.push(SEPARATOR);
    key
}

/// Who put the schedule or trigger that submitted a task.
pub fn task_author(workspace: &WorkspaceId, id: &TaskId) -> Vec<u8> {
    let mut key = task_author_prefix(workspace);
    key.extend_from_slice(&id.to_bytes());
    key
}

fn task_author_prefix(workspace: &WorkspaceId) -> Vec<u8> {
    let mut key = tagged(TAG_TASK_AUTHOR, workspace.as_str().as_bytes());
    key.push(SEPARATOR);
    key
}

pub fn idempotency(workspace: &WorkspaceId, key: &IdempotencyKey) -> Vec<u8> {
    let mut out = tagged(TAG_IDEMPOTENCY, workspace.as_str().as_bytes());
    out.push(SEPARATOR);
    out.extend_from_slice(key.as_str().as_bytes());
    out
}

/// The key of the audit record at 1-based chain position `index`.
pub fn audit_record(index: u64) -> Vec<u8> {
    tagged(TAG_AUDIT, &index.to_be_bytes())
}

/// The `[start, end)` range of audit records from `from_index` on, in index order.
pub fn audit_records_from(from_index: u64) -> (Vec<u8>, Vec<u8>) {
    (audit_record(from_index), vec![TAG_AUDIT + 1])
}

/// The chain position an audit key encodes, or `None` if it is not an audit key.
pub fn audit_record_index(key: &[u8]) -> Option<u64> {
    match key.split_first() {
        Some((&TAG_AUDIT, rest)) => Some(u64::from_be_bytes(rest.try_into().ok()?)),
        _ => None,
    }
}

/// The key of node `node`'s checkpoint of record `index`.
pub fn checkpoint(node: NodeId, index: u64) -> Vec<u8> {
    let mut key = tagged(TAG_CHECKPOINT, &node.0.to_be_bytes());
    key.extend_from_slice(&index.to_be_bytes());
    key
}

/// The `[start, end)` range of every checkpoint, by node then index.
pub fn checkpoints() -> (Vec<u8>, Vec<u8>) {
    (vec![TAG_CHECKPOINT], vec![TAG_CHECKPOINT + 1])
}

/// The `[start, end)` range of node `node`'s checkpoints, in index order.
pub fn checkpoints_of(node: NodeId) -> (Vec<u8>, Vec<u8>) {
    let prefix = tagged(TAG_CHECKPOINT, &node.0.to_be_bytes());
    (prefix.clone(), prefix_end(prefix))
}

pub fn node(node: NodeId) -> Vec<u8> {
    tagged(TAG_NODE, &node.0.to_be_bytes())
}

/// The `[start, end)` range of every node record, in id order.
pub fn nodes() -> (Vec<u8>, Vec<u8>) {
    (vec![TAG_NODE], vec![TAG_NODE + 1])
}

fn named(tag: u8, workspace: &WorkspaceId, name: &str) -> Vec<u8> {
    let mut key = tagged(tag, workspace.as_str().as_bytes());
    key.push(SEPARATOR);
    key.extend_from_slice(name.as_bytes());
    key
}

/// The `[start, end)` range of the records with `tag` in `workspace`, in name order.
fn named_range(tag: u8, workspace: &WorkspaceId) -> (Vec<u8>, Vec<u8>) {
    let mut prefix = tagged(tag, workspace.as_str().as_bytes());
    prefix.push(SEPARATOR);
    (prefix.clone(), prefix_end(prefix))
}

pub fn provider(workspace: &WorkspaceId, name: &ProviderName) -> Vec<u8> {
    named(TAG_PROVIDER, workspace, name.as_str())
}

pub fn providers(workspace: &WorkspaceId) -> (Vec<u8>, Vec<u8>) {
    named_range(TAG_PROVIDER, workspace)
}

pub fn mcp_server(workspace: &WorkspaceId, name: &ServerName) -> Vec<u8> {
    named(TAG_MCP_SERVER, workspace, name.as_str())
}

pub fn mcp_servers(workspace: &WorkspaceId) -> (Vec<u8>, Vec<u8>) {
    named_range(TAG_MCP_SERVER, workspace)
}

pub fn agent(workspace: &WorkspaceId, name: &AgentName) -> Vec<u8> {
    named(TAG_AGENT, workspace, name.as_str())
}

pub fn agents(workspace: &WorkspaceId) -> (Vec<u8>, Vec<u8>) {
    named_range(TAG_AGENT, workspace)
}

pub fn policy(workspace: &WorkspaceId) -> Vec<u8> {
    tagged(TAG_POLICY, workspace.as_str().as_bytes())
}

pub fn budget(workspace: &WorkspaceId, scope: &BudgetScope) -> Vec<u8> {
    match scope {
        BudgetScope::Workspace => named(TAG_BUDGET, workspace, ""),
        BudgetScope::Agent(agent) => named(TAG_BUDGET, workspace, agent.as_str()),
    }
}

/// The `[start, end)` range of a workspace's budgets: its own, then its agents' in name
/// order.
pub fn budgets(workspace: &WorkspaceId) -> (Vec<u8>, Vec<u8>) {
    named_range(TAG_BUDGET, workspace)
}

pub fn switches(workspace: &WorkspaceId) -> Vec<u8> {
    tagged(TAG_SWITCHES, workspace.as_str().as_bytes())
}

pub fn settings(workspace: &WorkspaceId) -> Vec<u8> {
    tagged(TAG_SETTINGS, workspace.as_str().as_bytes())
}

pub fn active_task(workspace: &WorkspaceId, id: &TaskId) -> Vec<u8> {
    let mut key = tagged(TAG_ACTIVE, workspace.as_str().as_bytes());
    key.push(SEPARATOR);
    key.extend_from_slice(&id.to_bytes());
    key
}

/// The `[start, end)` range of the whole active-task index, across workspaces.
pub fn active_tasks() -> (Vec<u8>, Vec<u8>) {
    (vec![TAG_ACTIVE], vec![TAG_ACTIVE + 1])
}

/// The `[start, end)` range of `workspace`'s entries in the active-task index.
pub fn active_tasks_of(workspace: &WorkspaceId) -> (Vec<u8>, Vec<u8>) {
    let mut prefix = tagged(TAG_ACTIVE, workspace.as_str().as_bytes());
    prefix.push(SEPARATOR);
    (prefix.clone(), prefix_end(prefix))
}

/// Every `[start, end)` range holding records of `workspace`: what deleting it removes.
/// The audit chain and the cluster's records (tokens, nodes, the catalog) are not under it.
pub fn workspace_contents(workspace: &WorkspaceId) -> Vec<(Vec<u8>, Vec<u8>)> {
    let exactly = |key: Vec<u8>| {
        let mut end = key.clone();
        end.push(0x00);
        (key, end)
    };
    let under = |prefix: Vec<u8>| (prefix.clone(), prefix_end(prefix));
    let mut idempotency = tagged(TAG_IDEMPOTENCY, workspace.as_str().as_bytes());
    idempotency.push(SEPARATOR);
    let mut journal = tagged(TAG_JOURNAL, workspace.as_str().as_bytes());
    journal.push(SEPARATOR);
    vec![
        exactly(self::workspace(workspace)),
        under(tasks_prefix(workspace)),
        under(task_links_prefix(workspace)),
        under(task_author_prefix(workspace)),
        schedules(workspace),
        triggers(workspace),
        under(idempotency),
        providers(workspace),
        mcp_servers(workspace),
        agents(workspace),
        exactly(policy(workspace)),
        budgets(workspace),
        exactly(switches(workspace)),
        exactly(settings(workspace)),
        active_tasks_of(workspace),
        under(journal),
        under(workspace_events_prefix(workspace)),
        role_bindings(&Scope::Workspace(workspace.clone())),
    ]
    .into_iter()
    .chain(webhooks::webhook_contents(workspace))
    .chain([waiting::waiting_approvals_of(workspace)])
    .collect()
}

/// The workspace and task an active-task key names.
pub fn active_task_ids(key: &[u8]) -> Option<(WorkspaceId, TaskId)> {
    workspace_and_task(key.strip_prefix(&[TAG_ACTIVE])?)
}

/// The workspace and task of a key's `workspace 0x00 task-id(16)` tail.
fn workspace_and_task(rest: &[u8]) -> Option<(WorkspaceId, TaskId)> {
    let split = rest.len().checked_sub(17)?;
    let (name, id) = rest.split_at(split);
    let id = id.strip_prefix(&[SEPARATOR])?;
    let workspace = WorkspaceId::parse(std::str::from_utf8(name).ok()?).ok()?;
    let id: [u8; 16] = id.try_into().ok()?;
    Some((workspace, TaskId::from_u128(u128::from_be_bytes(id))))
}

pub fn journal_entry(workspace: &WorkspaceId, task: &TaskId, seq: u64) -> Vec<u8> {
    let mut key = journal_prefix(workspace, task);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The `[start, end)` range of a task's journal from `from_seq` on.
pub fn journal_from(workspace: &WorkspaceId, task: &TaskId, from_seq: u64) -> (Vec<u8>, Vec<u8>) {
    let start = journal_entry(workspace, task, from_seq);
    (start, prefix_end(journal_prefix(workspace, task)))
}

fn journal_prefix(workspace: &WorkspaceId, task: &TaskId) -> Vec<u8> {
    let mut key = tagged(TAG_JOURNAL, workspace.as_str().as_bytes());
    key.push(SEPARATOR);
    key.extend_from_slice(&task.to_bytes());
    key
}

pub fn workspace_event(
    workspace: &WorkspaceId,
    log_index: u64,
    task: &TaskId,
    seq: u64,
) -> Vec<u8> {
    let mut key = workspace_events_prefix(workspace);
    key.extend_from_slice(&log_index.to_be_bytes());
    key.extend_from_slice(&task.to_bytes());
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The `[start, end)` range of a workspace's events from log index `from_index` on.
pub fn workspace_events_from(workspace: &WorkspaceId, from_index: u64) -> (Vec<u8>, Vec<u8>) {
    let prefix = workspace_events_prefix(workspace);
    let mut start = prefix.clone();
    start.extend_from_slice(&from_index.to_be_bytes());
    (start, prefix_end(prefix))
}

/// The log index, task and sequence a workspace event key names.
pub fn workspace_event_ids(workspace: &WorkspaceId, key: &[u8]) -> Option<(u64, TaskId, u64)> {
    let rest = key.strip_prefix(workspace_events_prefix(workspace).as_slice())?;
    if rest.len() != 32 {
        return None;
    }
    let index = u64::from_be_bytes(rest[..8].try_into().ok()?);
    let task = TaskId::from_u128(u128::from_be_bytes(rest[8..24].try_into().ok()?));
    let seq = u64::from_be_bytes(rest[24..].try_into().ok()?);
    Some((index, task, seq))
}

fn workspace_events_prefix(workspace: &WorkspaceId) -> Vec<u8> {
    let mut key = tagged(TAG_WORKSPACE_EVENT, workspace.as_str().as_bytes());
    key.push(SEPARATOR);
    key
}

pub fn catalog_entry(name: &CatalogName) -> Vec<u8> {
    tagged(TAG_CATALOG, name.as_str().as_bytes())
}

/// The `[start, end)` range of every catalog entry, in name order.
pub fn catalog_entries() -> (Vec<u8>, Vec<u8>) {
    (vec![TAG_CATALOG], vec![TAG_CATALOG + 1])
}

pub fn token(id: &TokenId) -> Vec<u8> {
    tagged(TAG_TOKEN, &id.0)
}

/// The `[start, end)` range of every token, in id order.
pub fn tokens() -> (Vec<u8>, Vec<u8>) {
    (vec![TAG_TOKEN], vec![TAG_TOKEN + 1])
}

pub fn role_binding(scope: &Scope, principal: &Principal) -> Vec<u8> {
    let mut key = bindings_prefix(scope);
    key.extend_from_slice(principal.as_str().as_bytes());
    key
}

/// The `[start, end)` range of the role bindings of `scope`, in principal order.
pub fn role_bindings(scope: &Scope) -> (Vec<u8>, Vec<u8>) {
    let prefix = bindings_prefix(scope);
    (prefix.clone(), prefix_end(prefix))
}

/// Cluster bindings under `0x00`, a workspace's under `0x01` name `0x00`.
fn bindings_prefix(scope: &Scope) -> Vec<u8> {
    match scope {
        Scope::Cluster => vec![TAG_BINDING, 0x00],
        Scope::Workspace(workspace) => {
            let mut key = vec![TAG_BINDING, 0x01];
            key.extend_from_slice(workspace.as_str().as_bytes());
            key.push(SEPARATOR);
            key
        }
    }
}

// ---- snapshot ----

pub const CURRENT_SNAPSHOT: &[u8] = b"current";

fn tagged(tag: u8, rest: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + rest.len() + 17);
    key.push(tag);
    key.extend_from_slice(rest);
    key
}

fn tasks_prefix(workspace: &WorkspaceId) -> Vec<u8> {
    let mut key = tagged(TAG_TASK, workspace.as_str().as_bytes());
    key.push(SEPARATOR);
    key
}

/// The exclusive end of the keys starting with `prefix`: the prefix with its last byte
/// below 0xff raised by one (trailing 0xff bytes dropped, as in a carry).
fn prefix_end(mut prefix: Vec<u8>) -> Vec<u8> {
    while prefix.last() == Some(&0xff) {
        prefix.pop();
    }
    if let Some(last) = prefix.last_mut() {
        *last += 1;
    }
    prefix
}

mod controller;
pub use controller::{
    due_by, due_task, due_task_ids, is_controller_index, unplaced_after, unplaced_task,
    unplaced_task_ids, unplaced_tasks,
};

mod owned;
pub use owned::{is_owned_task, owned_task, owned_task_ids, owned_tasks, owned_tasks_of};

mod waiting;
pub use waiting::{
    is_waiting_approval, waiting_approval, waiting_approval_task, waiting_approvals,
    waiting_approvals_of,
};
/// A workspace's schedule.
pub fn schedule(workspace: &WorkspaceId, name: &warden_core::ScheduleName) -> Vec<u8> {
    named(TAG_SCHEDULE, workspace, name.as_str())
}

/// The `[start, end)` range of a workspace's schedules, in name order.
pub fn schedules(workspace: &WorkspaceId) -> (Vec<u8>, Vec<u8>) {
    named_range(TAG_SCHEDULE, workspace)
}

/// The `[start, end)` range of every workspace's schedules.
pub fn all_schedules() -> (Vec<u8>, Vec<u8>) {
    (vec![TAG_SCHEDULE], vec![TAG_SCHEDULE + 1])
}

/// A workspace's webhook trigger.
pub fn trigger(workspace: &WorkspaceId, name: &warden_core::TriggerName) -> Vec<u8> {
    named(TAG_TRIGGER, workspace, name.as_str())
}

/// The `[start, end)` range of a workspace's webhook triggers, in name order.
pub fn triggers(workspace: &WorkspaceId) -> (Vec<u8>, Vec<u8>) {
    named_range(TAG_TRIGGER, workspace)
}

mod webhooks;
pub use webhooks::{
    deliveries_before, delivery, pending_deliveries, pending_delivery, pending_delivery_ids,
    webhook, webhooks,
};

#[cfg(test)]
mod tests;
