//! The state as a batch of configuration changes leaves it, before it is committed: the
//! writes of the changes already decided, over the state they started from. It reflects
//! exactly the records configuration changes write (the workspace record, for the key a
//! secret brings, providers, MCP servers, agents, the policy, budgets, schedules and
//! triggers); every other read passes through to the state beneath, which a
//! configuration change does not write.

use std::collections::BTreeMap;

use super::{StateRead, Write};
use crate::budget::{Budget, BudgetScope};
use crate::catalog::CatalogEntry;
use crate::config::{Agent, McpServer, Provider};
use crate::identity::{RoleBinding, Scope, Token, TokenId};
use crate::ids::{IdempotencyKey, Principal, TaskId, WorkspaceId};
use crate::model::{IdempotencyRecord, StoredPolicy, Task, Workspace};
use crate::names::{
    AgentName, CatalogName, NodeId, ProviderName, ScheduleName, ServerName, TriggerName,
    WebhookName,
};
use crate::schedule::Schedule;
use crate::switches::Switches;
use crate::trigger::Trigger;
use crate::webhook::{Delivery, DeliveryId, Webhook};

pub(super) struct Overlay<'a, S> {
    base: &'a S,
    writes: Vec<Write>,
}

/// Whether the overlay reflects `write`: what a configuration change may write.
pub(super) fn reflects(write: &Write) -> bool {
    matches!(
        write,
        Write::Workspace(_)
            | Write::Provider(_)
            | Write::RemoveProvider { .. }
            | Write::McpServer(_)
            | Write::RemoveMcpServer { .. }
            | Write::Agent(_)
            | Write::RemoveAgent { .. }
            | Write::Policy(_)
            | Write::Budget(_)
            | Write::RemoveBudget { .. }
            | Write::Schedule(_)
            | Write::RemoveSchedule { .. }
            | Write::Trigger(_)
            | Write::RemoveTrigger { .. }
    )
}

/// The latest of `writes` about one record: `Some(Some(record))` written,
/// `Some(None)` removed, `None` untouched.
fn latest<T>(writes: &[Write], pick: impl Fn(&Write) -> Option<Option<T>>) -> Option<Option<T>> {
    writes.iter().rev().find_map(pick)
}

/// `base` with the records of `writes` put in or taken out, by key.
fn merged<K: Ord, T: Clone>(
    base: Vec<T>,
    key: impl Fn(&T) -> K,
    writes: &[Write],
    pick: impl Fn(&Write) -> Option<(K, Option<T>)>,
) -> Vec<T> {
    let mut records: BTreeMap<K, T> = base
        .into_iter()
        .map(|record| (key(&record), record))
        .collect();
    for (found, record) in writes.iter().filter_map(pick) {
        match record {
            Some(record) => records.insert(found, record),
            None => records.remove(&found),
        };
    }
    records.into_values().collect()
}

impl<'a, S: StateRead> Overlay<'a, S> {
    pub(super) fn new(base: &'a S) -> Overlay<'a, S> {
        Overlay {
            base,
            writes: Vec::new(),
        }
    }

    /// Adds the writes of a change decided on this overlay.
    pub(super) fn push(&mut self, writes: &[Write]) {
        self.writes.extend_from_slice(writes);
    }

    pub(super) fn into_writes(self) -> Vec<Write> {
        self.writes
    }
}

impl<S: StateRead> StateRead for Overlay<'_, S> {
    type Error = S::Error;

    fn workspace(&self, id: &WorkspaceId) -> Result<Option<Workspace>, S::Error> {
        match latest(&self.writes, |write| match write {
            Write::Workspace(found) if &found.id == id => Some(Some(found.clone())),
            _ => None,
        }) {
            Some(found) => Ok(found),
            None => self.base.workspace(id),
        }
    }

    fn task(&self, workspace: &WorkspaceId, id: &TaskId) -> Result<Option<Task>, S::Error> {
        self.base.task(workspace, id)
    }

    fn idempotency(
        &self,
        workspace: &WorkspaceId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, S::Error> {
        self.base.idempotency(workspace, key)
    }

    fn provider(
        &self,
        workspace: &WorkspaceId,
        name: &ProviderName,
    ) -> Result<Option<Provider>, S::Error> {
        match latest(&self.writes, |write| match write {
            Write::Provider(found) if &found.workspace == workspace && &found.name == name => {
                Some(Some(found.clone()))
            }
            Write::RemoveProvider {
                workspace: owner,
                name: removed,
            } if owner == workspace && removed == name => Some(None),
            _ => None,
        }) {
            Some(found) => Ok(found),
            None => self.base.provider(workspace, name),
        }
    }

    fn mcp_server(
        &self,
        workspace: &WorkspaceId,
        name: &ServerName,
    ) -> Result<Option<McpServer>, S::Error> {
        match latest(&self.writes, |write| match write {
            Write::McpServer(found) if &found.workspace == workspace && &found.name == name => {
                Some(Some(found.clone()))
            }
            Write::RemoveMcpServer {
                workspace: owner,
                name: removed,
            } if owner == workspace && removed == name => Some(None),
            _ => None,
        }) {
            Some(found) => Ok(found),
            None => self.base.mcp_server(workspace, name),
        }
    }

    fn agent(&self, workspace: &WorkspaceId, name: &AgentName) -> Result<Option<Agent>, S::Error> {
        match latest(&self.writes, |write| match write {
            Write::Agent(found) if &found.workspace == workspace && &found.spec.name == name => {
                Some(Some(found.clone()))
            }
            Write::RemoveAgent {
                workspace: owner,
                name: removed,
            } if owner == workspace && removed == name => Some(None),
            _ => None,
        }) {
            Some(found) => Ok(found),
            None => self.base.agent(workspace, name),
        }
    }

    fn catalog_entry(&self, name: &CatalogName) -> Result<Option<CatalogEntry>, S::Error> {
        self.base.catalog_entry(name)
    }

    fn token(&self, id: &TokenId) -> Result<Option<Token>, S::Error> {
        self.base.token(id)
    }

    fn role_binding(
        &self,
        scope: &Scope,
        principal: &Principal,
    ) -> Result<Option<RoleBinding>, S::Error> {
        self.base.role_binding(scope, principal)
    }

    fn bootstrapped(&self) -> Result<Option<Principal>, S::Error> {
        self.base.bootstrapped()
    }

    fn policy(&self, workspace: &WorkspaceId) -> Result<Option<StoredPolicy>, S::Error> {
        match latest(&self.writes, |write| match write {
            Write::Policy(found) if &found.workspace == workspace => Some(Some(found.clone())),
            _ => None,
        }) {
            Some(found) => Ok(found),
            None => self.base.policy(workspace),
        }
    }

    fn budget(
        &self,
        workspace: &WorkspaceId,
        scope: &BudgetScope,
    ) -> Result<Option<Budget>, S::Error> {
        match latest(&self.writes, |write| match write {
            Write::Budget(found) if &found.workspace == workspace && &found.scope == scope => {
                Some(Some(found.clone()))
            }
            Write::RemoveBudget {
                workspace: owner,
                scope: removed,
            } if owner == workspace && removed == scope => Some(None),
            _ => None,
        }) {
            Some(found) => Ok(found),
            None => self.base.budget(workspace, scope),
        }
    }

    fn switches(&self, workspace: &WorkspaceId) -> Result<Option<Switches>, S::Error> {
        self.base.switches(workspace)
    }

    fn audit_record(&self, index: u64) -> Result<Option<crate::audit::AuditRecord>, S::Error> {
        self.base.audit_record(index)
    }

    fn node_record(&self, node: NodeId) -> Result<Option<crate::anchor::NodeRecord>, S::Error> {
        self.base.node_record(node)
    }

    fn agents(&self, workspace: &WorkspaceId) -> Result<Vec<Agent>, S::Error> {
        Ok(merged(
            self.base.agents(workspace)?,
            |agent| agent.spec.name.clone(),
            &self.writes,
            |write| match write {
                Write::Agent(found) if &found.workspace == workspace => {
                    Some((found.spec.name.clone(), Some(found.clone())))
                }
                Write::RemoveAgent {
                    workspace: owner,
                    name,
                } if owner == workspace => Some((name.clone(), None)),
                _ => None,
            },
        ))
    }

    fn providers(&self, workspace: &WorkspaceId) -> Result<Vec<Provider>, S::Error> {
        Ok(merged(
            self.base.providers(workspace)?,
            |provider| provider.name.clone(),
            &self.writes,
            |write| match write {
                Write::Provider(found) if &found.workspace == workspace => {
                    Some((found.name.clone(), Some(found.clone())))
                }
                Write::RemoveProvider {
                    workspace: owner,
                    name,
                } if owner == workspace => Some((name.clone(), None)),
                _ => None,
            },
        ))
    }

    fn mcp_servers(&self, workspace: &WorkspaceId) -> Result<Vec<McpServer>, S::Error> {
        Ok(merged(
            self.base.mcp_servers(workspace)?,
            |server| server.name.clone(),
            &self.writes,
            |write| match write {
                Write::McpServer(found) if &found.workspace == workspace => {
                    Some((found.name.clone(), Some(found.clone())))
                }
                Write::RemoveMcpServer {
                    workspace: owner,
                    name,
                } if owner == workspace => Some((name.clone(), None)),
                _ => None,
            },
        ))
    }

    fn budgets(&self, workspace: &WorkspaceId) -> Result<Vec<Budget>, S::Error> {
        Ok(merged(
            self.base.budgets(workspace)?,
            |budget| budget.scope.clone(),
            &self.writes,
            |write| match write {
                Write::Budget(found) if &found.workspace == workspace => {
                    Some((found.scope.clone(), Some(found.clone())))
                }
                Write::RemoveBudget {
                    workspace: owner,
                    scope,
                } if owner == workspace => Some((scope.clone(), None)),
                _ => None,
            },
        ))
    }

    fn unfinished_tasks(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<Vec<(TaskId, AgentName)>, S::Error> {
        self.base.unfinished_tasks(workspace)
    }

    fn cluster_protocol(&self) -> Result<u32, S::Error> {
        self.base.cluster_protocol()
    }

    fn webhook(
        &self,
        workspace: &WorkspaceId,
        name: &WebhookName,
    ) -> Result<Option<Webhook>, S::Error> {
        self.base.webhook(workspace, name)
    }

    fn webhooks(&self, workspace: &WorkspaceId) -> Result<Vec<Webhook>, S::Error> {
        self.base.webhooks(workspace)
    }

    fn delivery(
        &self,
        workspace: &WorkspaceId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, S::Error> {
        self.base.delivery(workspace, id)
    }

    fn schedule(
        &self,
        workspace: &WorkspaceId,
        name: &ScheduleName,
    ) -> Result<Option<Schedule>, S::Error> {
        match latest(&self.writes, |write| match write {
            Write::Schedule(found) if &found.workspace == workspace && &found.spec.name == name => {
                Some(Some(found.clone()))
            }
            Write::RemoveSchedule {
                workspace: owner,
                name: removed,
            } if owner == workspace && removed == name => Some(None),
            _ => None,
        }) {
            Some(found) => Ok(found),
            None => self.base.schedule(workspace, name),
        }
    }

    fn schedules(&self, workspace: &WorkspaceId) -> Result<Vec<Schedule>, S::Error> {
        Ok(merged(
            self.base.schedules(workspace)?,
            |schedule| schedule.spec.name.clone(),
            &self.writes,
            |write| match write {
                Write::Schedule(found) if &found.workspace == workspace => {
                    Some((found.spec.name.clone(), Some(found.clone())))
                }
                Write::RemoveSchedule {
                    workspace: owner,
                    name,
                } if owner == workspace => Some((name.clone(), None)),
                _ => None,
            },
        ))
    }

    fn trigger(
        &self,
        workspace: &WorkspaceId,
        name: &TriggerName,
    ) -> Result<Option<Trigger>, S::Error> {
        match latest(&self.writes, |write| match write {
            Write::Trigger(found) if &found.workspace == workspace && &found.spec.name == name => {
                Some(Some(found.clone()))
            }
            Write::RemoveTrigger {
                workspace: owner,
                name: removed,
            } if owner == workspace && removed == name => Some(None),
            _ => None,
        }) {
            Some(found) => Ok(found),
            None => self.base.trigger(workspace, name),
        }
    }

    fn triggers(&self, workspace: &WorkspaceId) -> Result<Vec<Trigger>, S::Error> {
        Ok(merged(
            self.base.triggers(workspace)?,
            |trigger| trigger.spec.name.clone(),
            &self.writes,
            |write| match write {
                Write::Trigger(found) if &found.workspace == workspace => {
                    Some((found.spec.name.clone(), Some(found.clone())))
                }
                Write::RemoveTrigger {
                    workspace: owner,
                    name,
                } if owner == workspace => Some((name.clone(), None)),
                _ => None,
            },
        ))
    }

    fn task_author(
        &self,
        workspace: &WorkspaceId,
        task: &TaskId,
    ) -> Result<Option<Principal>, S::Error> {
        self.base.task_author(workspace, task)
    }

    fn task_links(
        &self,
        workspace: &WorkspaceId,
        task: &TaskId,
    ) -> Result<Option<crate::builtin::TaskLinks>, S::Error> {
        self.base.task_links(workspace, task)
    }
}
