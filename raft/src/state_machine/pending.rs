//! The writes of one `apply()` call before they reach RocksDB, readable by the later
//! entries of the same call.

use std::collections::BTreeMap;

use rocksdb::WriteBatch;
use serde::Serialize;
use serde::de::DeserializeOwned;
use warden_core::{Applied, AuditHead, Delivery, DeliveryState, Write};

use crate::active::ActiveTask;
use crate::codec;
use crate::derived;
use crate::error::Error;
use crate::keys;
use crate::storage::Storage;
use crate::types::{LogId, StoredMembership};

mod read;

/// The writes of the entries applied so far in one `apply()` call, keyed and encoded
/// as they will be stored, in front of the database: a later entry of the same batch
/// reads an earlier one's writes here.
pub(super) struct Pending<'a> {
    storage: &'a Storage,
    /// Encoded values to put, or `None` for a delete.
    puts: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// `[start, end)` ranges deleted whole; a later put inside one lands in `puts` and
    /// is written after the range deletes.
    cleared: Vec<(Vec<u8>, Vec<u8>)>,
}

impl<'a> Pending<'a> {
    pub(super) fn new(storage: &'a Storage) -> Pending<'a> {
        Pending {
            storage,
            puts: BTreeMap::new(),
            cleared: Vec::new(),
        }
    }

    pub(super) fn get<T: DeserializeOwned>(
        &self,
        key: Vec<u8>,
        what: impl Fn() -> String,
    ) -> Result<Option<T>, Error> {
        match self.puts.get(&key) {
            Some(Some(bytes)) => codec::decode(what, bytes).map(Some),
            Some(None) => Ok(None),
            None if self.is_cleared(&key) => Ok(None),
            None => self.storage.get(keys::SM_CF, &key, what),
        }
    }

    fn is_cleared(&self, key: &[u8]) -> bool {
        self.cleared
            .iter()
            .any(|(start, end)| start.as_slice() <= key && key < end.as_slice())
    }

    /// The raw values in `[start, end)` as the batch so far leaves them, in key order.
    pub(super) fn scan(
        &self,
        start: &[u8],
        end: &[u8],
    ) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, Error> {
        let cf = self.storage.cf(keys::SM_CF)?;
        let mut options = rocksdb::ReadOptions::default();
        options.set_iterate_lower_bound(start);
        options.set_iterate_upper_bound(end);
        let mut values = BTreeMap::new();
        let db = self.storage.db();
        for item in db.iterator_cf_opt(cf, options, rocksdb::IteratorMode::Start) {
            let (key, value) = item.map_err(|source| Error::Read {
                what: "state machine range".into(),
                source,
            })?;
            if !self.is_cleared(&key) {
                values.insert(key.into_vec(), value.into_vec());
            }
        }
        for (key, value) in self.puts.range(start.to_vec()..end.to_vec()) {
            match value {
                Some(value) => values.insert(key.clone(), value.clone()),
                None => values.remove(key),
            };
        }
        Ok(values)
    }

    /// Deletes every key in `[start, end)`, staged ones included.
    fn delete_range(&mut self, (start, end): (Vec<u8>, Vec<u8>)) {
        let staged: Vec<Vec<u8>> = self
            .puts
            .range(start.clone()..end.clone())
            .map(|(key, _)| key.clone())
            .collect();
        for key in staged {
            self.puts.remove(&key);
        }
        self.cleared.push((start, end));
    }

    fn put<T: Serialize>(
        &mut self,
        key: Vec<u8>,
        what: impl FnOnce() -> String,
        value: &T,
    ) -> Result<(), Error> {
        self.puts.insert(key, Some(codec::encode(what, value)?));
        Ok(())
    }

    fn delete(&mut self, key: Vec<u8>) {
        self.puts.insert(key, None);
    }

    /// Stages what one entry produced: its domain writes and its audit record.
    pub(super) fn stage(&mut self, applied: &Applied) -> Result<(), Error> {
        for write in &applied.writes {
            match write {
                Write::Workspace(workspace) => {
                    let id = &workspace.id;
                    self.put(keys::workspace(id), || format!("workspace {id}"), workspace)?;
                }
                Write::Task(task) => {
                    let (workspace, id) = (&task.workspace, &task.id);
                    let what = || format!("task {workspace}/{id}");
                    self.put(keys::task(workspace, id), what, task)?;
                    // The active-task index follows the task in the same batch, and so
                    // do the indexes derived from it: the keys the entry had go, the ones
                    // it has now come.
                    let index_key = keys::active_task(workspace, id);
                    let was: Option<ActiveTask> = self.get(index_key.clone(), what)?;
                    let active = ActiveTask::of(task);
                    let derived_of = |active: &Option<ActiveTask>| {
                        active
                            .as_ref()
                            .map_or_else(Vec::new, |active| derived::keys_of(workspace, id, active))
                    };
                    let (before, after) = (derived_of(&was), derived_of(&active));
                    for key in before.into_iter().filter(|key| !after.contains(key)) {
                        self.delete(key);
                    }
                    for key in after {
                        self.puts.insert(key, Some(Vec::new()));
                    }
                    match active {
                        Some(active) => self.put(index_key, what, &active)?,
                        None => self.delete(index_key),
                    }
                }
                Write::Provider(provider) => {
                    let (workspace, name) = (&provider.workspace, &provider.name);
                    let what = || format!("provider {workspace}/{name}");
                    self.put(keys::provider(workspace, name), what, provider)?;
                }
                Write::McpServer(server) => {
                    let (workspace, name) = (&server.workspace, &server.name);
                    let what = || format!("mcp server {workspace}/{name}");
                    self.put(keys::mcp_server(workspace, name), what, server)?;
                }
                Write::CatalogEntry(entry) => {
                    let name = &entry.spec.name;
                    let what = || format!("catalog entry {name}");
                    self.put(keys::catalog_entry(name), what, entry)?;
                }
                Write::RemoveCatalogEntry(name) => self.delete(keys::catalog_entry(name)),
                Write::Agent(agent) => {
                    let (workspace, name) = (&agent.workspace, &agent.spec.name);
                    let what = || format!("agent {workspace}/{name}");
                    self.put(keys::agent(workspace, name), what, agent)?;
                }
                Write::Journal {
                    workspace,
                    task,
                    entry,
                } => {
                    let seq = entry.seq;
                    let what = || format!("journal entry {workspace}/{task}/{seq}");
                    self.put(keys::journal_entry(workspace, task, seq), what, entry)?;
                    let event_key = keys::workspace_event(workspace, entry.log_index, task, seq);
                    self.puts.insert(event_key, Some(Vec::new()));
                }
                Write::Idempotency {
                    workspace,
                    key,
                    record,
                } => {
                    let what = || format!("idempotency key {workspace}/{key:?}");
                    self.put(keys::idempotency(workspace, key), what, record)?;
                }
                Write::Token(token) => {
                    let id = token.id;
                    self.put(keys::token(&id), || format!("token {id}"), token)?;
                }
                Write::RoleBinding(binding) => {
                    let (scope, principal) = (&binding.scope, &binding.principal);
                    let what = || format!("role binding {scope}/{principal}");
                    self.put(keys::role_binding(scope, principal), what, binding)?;
                }
                Write::RemoveRoleBinding { scope, principal } => {
                    self.delete(keys::role_binding(scope, principal));
                }
                Write::Policy(policy) => {
                    let workspace = &policy.workspace;
                    let what = || format!("policy of {workspace}");
                    self.put(keys::policy(workspace), what, policy)?;
                }
                Write::Budget(budget) => {
                    let (workspace, scope) = (&budget.workspace, &budget.scope);
                    let what = || format!("budget {workspace}/{scope:?}");
                    self.put(keys::budget(workspace, scope), what, budget)?;
                }
                Write::RemoveBudget { workspace, scope } => {
                    self.delete(keys::budget(workspace, scope));
                }
                Write::Switches(switches) => {
                    let workspace = &switches.workspace;
                    let what = || format!("switches of {workspace}");
                    self.put(keys::switches(workspace), what, switches)?;
                }
                Write::RemoveSwitches(workspace) => {
                    self.delete(keys::switches(workspace));
                }
                Write::Bootstrapped(principal) => {
                    let what = || "bootstrap admin".to_owned();
                    self.put(keys::BOOTSTRAPPED.to_vec(), what, principal)?;
                }
                Write::Node(record) => {
                    let node = record.node;
                    self.put(keys::node(node), || format!("node record {node}"), record)?;
                }
                Write::Checkpoint(checkpoint) => {
                    let (node, index) = (checkpoint.node, checkpoint.index);
                    let what = || format!("checkpoint {node}/{index}");
                    self.put(keys::checkpoint(node, index), what, checkpoint)?;
                }
                Write::AuditSettings(settings) => {
                    let what = || "audit settings".to_owned();
                    self.put(keys::AUDIT_SETTINGS.to_vec(), what, settings)?;
                }
                Write::ClusterProtocol(protocol) => {
                    let what = || "cluster protocol".to_owned();
                    self.put(keys::CLUSTER_PROTOCOL.to_vec(), what, protocol)?;
                }
                Write::RemoveProvider { workspace, name } => {
                    self.delete(keys::provider(workspace, name));
                }
                Write::RemoveMcpServer { workspace, name } => {
                    self.delete(keys::mcp_server(workspace, name));
                }
                Write::RemoveAgent { workspace, name } => {
                    self.delete(keys::agent(workspace, name));
                }
                Write::WorkspaceSettings(settings) => {
                    let workspace = &settings.workspace;
                    let what = || format!("settings of {workspace}");
                    self.put(keys::settings(workspace), what, settings)?;
                }
                Write::Webhook(webhook) => {
                    let (workspace, name) = (&webhook.workspace, &webhook.name);
                    let what = || format!("webhook {workspace}/{name}");
                    self.put(keys::webhook(workspace, name), what, webhook)?;
                }
                Write::RemoveWebhook { workspace, name } => {
                    self.delete(keys::webhook(workspace, name));
                }
                Write::Delivery(delivery) => self.stage_delivery(delivery)?,
                Write::Schedule(schedule) => {
                    let (workspace, name) = (&schedule.workspace, &schedule.spec.name);
                    let what = || format!("schedule {workspace}/{name}");
                    self.put(keys::schedule(workspace, name), what, schedule)?;
                }
                Write::Trigger(trigger) => {
                    let (workspace, name) = (&trigger.workspace, &trigger.spec.name);
                    let what = || format!("trigger {workspace}/{name}");
                    self.put(keys::trigger(workspace, name), what, trigger)?;
                }
                Write::RemoveTrigger { workspace, name } => {
                    self.delete(keys::trigger(workspace, name));
                }
                Write::RemoveSchedule { workspace, name } => {
                    self.delete(keys::schedule(workspace, name));
                }
                Write::TaskAuthor {
                    workspace,
                    task,
                    author,
                } => {
                    let what = || format!("author of task {workspace}/{task}");
                    self.put(keys::task_author(workspace, task), what, author)?;
                }
                Write::TaskLinks(links) => {
                    let (workspace, task) = (&links.workspace, &links.task);
                    let what = || format!("links of task {workspace}/{task}");
                    self.put(keys::task_links(workspace, task), what, links)?;
                }
                Write::RemoveWorkspace(workspace) => {
                    for range in keys::workspace_contents(workspace) {
                        self.delete_range(range);
                    }
                    // A workspace goes only once its tasks ended, which took their
                    // derived entries with them: none of its tasks is left in these.

                    let (start, end) = keys::pending_deliveries();
                    for key in self.scan(&start, &end)?.into_keys() {
                        if keys::pending_delivery_ids(&key)
                            .is_some_and(|(_, owner, _)| owner == *workspace)
                        {
                            self.delete(key);
                        }
                    }
                }
            }
        }
        let index = applied.audit.index;
        self.put(
            keys::audit_record(index),
            || format!("audit record {index}"),
            &applied.audit,
        )
    }

    /// A delivery, and its entry of the pending-delivery index moved to its next attempt's
    /// time (or removed once it is delivered or given up), in the same batch.
    fn stage_delivery(&mut self, delivery: &Delivery) -> Result<(), Error> {
        let (workspace, id) = (&delivery.workspace, &delivery.id);
        let what = || format!("delivery {workspace}/{id}");
        let before: Option<Delivery> = self.get(keys::delivery(workspace, id), what)?;
        if let Some(DeliveryState::Pending { next_attempt_ms }) = before.map(|d| d.state) {
            self.delete(keys::pending_delivery(next_attempt_ms, workspace, id));
        }
        if let DeliveryState::Pending { next_attempt_ms } = delivery.state {
            self.puts.insert(
                keys::pending_delivery(next_attempt_ms, workspace, id),
                Some(Vec::new()),
            );
        }
        self.put(keys::delivery(workspace, id), what, delivery)
    }

    /// Adds the applied state and turns everything into one WriteBatch.
    pub(super) fn finish(
        mut self,
        applied: &LogId,
        membership: &StoredMembership,
        head: &AuditHead,
    ) -> Result<WriteBatch, Error> {
        self.put(keys::APPLIED.to_vec(), || "applied log id".into(), applied)?;
        self.put(
            keys::MEMBERSHIP.to_vec(),
            || "last membership".into(),
            membership,
        )?;
        self.put(keys::AUDIT_HEAD.to_vec(), || "audit head".into(), head)?;
        let cf = self.storage.cf(keys::SM_CF)?;
        let mut batch = WriteBatch::default();
        // Range deletes first: a put staged after one was kept out of it.
        for (start, end) in &self.cleared {
            batch.delete_range_cf(cf, start, end);
        }
        for (key, value) in &self.puts {
            match value {
                Some(value) => batch.put_cf(cf, key, value),
                None => batch.delete_cf(cf, key),
            }
        }
        Ok(batch)
    }
}
