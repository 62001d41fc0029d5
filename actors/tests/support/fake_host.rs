//! The node double: proposals are applied in order to a `MemoryState` by the real
//! `apply()`, under the principal the node would use (a journal step as the task's
//! agent, anything else as the node). Every applied proposal wakes the waiters of
//! [`FakeHost::until`].

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use tokio::sync::Notify;
use tokio::time::Instant;
use warden_actors::model::Model;
use warden_actors::{Host, HostError, RuntimeOptions, SecretError, Store, StoreError, Tools};
use warden_core::memory::MemoryState;
use warden_core::{
    Agent, AgentName, CatalogEntry, CatalogName, Command, JournalEntry, McpServer, NodeId, Outcome,
    Principal, Provider, ProviderName, Request, StateRead, Switches, Task, TaskId, WorkspaceId,
};
use warden_secrets::{SealedSecret, SecretString};

use super::scripted::{FakeTools, ModelHandle, ScriptedModel};

/// The wall-clock time of the first proposal; later ones add tokio's elapsed time.
const EPOCH_MS: u64 = 1_800_000_000_000;

pub struct FakeHost {
    node: NodeId,
    state: Mutex<MemoryState>,
    applied: Notify,
    started: Instant,
    lease: AtomicBool,
    /// Proposals of journal steps still to fail with UNAVAILABLE before any is applied.
    failing_steps: AtomicU32,
    /// When each journal step was proposed, applied or not.
    step_attempts: Mutex<Vec<Instant>>,
    pub tools: FakeTools,
    pub model: Arc<ScriptedModel>,
    options: RuntimeOptions,
}

impl FakeHost {
    pub fn new(node: u64, model: ScriptedModel, tools: FakeTools) -> Arc<FakeHost> {
        Arc::new(FakeHost {
            node: NodeId(node),
            state: Mutex::new(MemoryState::default()),
            applied: Notify::new(),
            started: Instant::now(),
            lease: AtomicBool::new(true),
            failing_steps: AtomicU32::new(0),
            step_attempts: Mutex::new(Vec::new()),
            tools,
            model: Arc::new(model),
            options: RuntimeOptions::default(),
        })
    }

    fn now_ms(&self) -> u64 {
        let elapsed = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        EPOCH_MS.saturating_add(elapsed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies `command` as `principal` (the test's own act: an admin, another node).
    pub fn apply_as(&self, principal: Principal, command: Command) -> Outcome {
        let outcome = {
            let mut state = self.lock();
            let index = state.applied_index + 1;
            let request = Request {
                time_ms: self.now_ms(),
                principal,
                token: None,
                command,
            };
            state.apply(index, &request)
        };
        self.applied.notify_waiters();
        outcome
    }

    /// Applies `command` as the cluster's bootstrap principal; it must be accepted.
    pub fn admin(&self, command: Command) -> Outcome {
        let outcome = self.apply_as(Principal::system(), command.clone());
        assert!(
            !matches!(outcome, Outcome::Rejected(_)),
            "{command:?} was refused: {outcome:?}"
        );
        outcome
    }

    /// Reads the state.
    pub fn read<T>(&self, read: impl FnOnce(&MemoryState) -> T) -> T {
        read(&self.lock())
    }

    pub fn task(&self) -> Task {
        self.read(|state| {
            state
                .tasks
                .get(&(super::WS.clone(), super::TASK))
                .cloned()
                .expect("the task exists")
        })
    }

    /// The kinds of the task's journal events, in order.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.read(|state| {
            state
                .journal_of(&super::WS, &super::TASK)
                .iter()
                .map(|entry| entry.event.kind())
                .collect()
        })
    }

    /// Waits, without polling, until `done` holds of the state.
    pub async fn until(&self, what: &str, done: impl Fn(&MemoryState) -> bool) {
        let wait = async {
            loop {
                let notified = self.applied.notified();
                if self.read(&done) {
                    return;
                }
                notified.await;
            }
        };
        // On the paused clock this fires only once every actor is idle without `done`.
        if tokio::time::timeout(std::time::Duration::from_secs(600), wait)
            .await
            .is_err()
        {
            panic!("{what} never happened; journal: {:?}", self.kinds());
        }
    }

    pub fn set_lease(&self, holds: bool) {
        self.lease.store(holds, Ordering::SeqCst);
    }

    /// Makes the next `count` journal step proposals fail with UNAVAILABLE.
    pub fn fail_steps(&self, count: u32) {
        self.failing_steps.store(count, Ordering::SeqCst);
    }

    pub fn step_attempts(&self) -> Vec<Instant> {
        self.step_attempts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn principal_for(&self, command: &Command) -> Principal {
        if let Command::AppendJournal {
            workspace, task, ..
        } = command
            && let Some(task) = self.lock().tasks.get(&(workspace.clone(), *task))
        {
            return Principal::agent(workspace, &task.agent);
        }
        Principal::node(self.node)
    }
}

impl Host for FakeHost {
    fn node(&self) -> NodeId {
        self.node
    }

    fn propose(&self, command: Command) -> BoxFuture<'_, Result<Outcome, HostError>> {
        Box::pin(async move {
            if matches!(command, Command::AppendJournal { .. }) {
                self.step_attempts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(Instant::now());
                let failing = self.failing_steps.load(Ordering::SeqCst);
                if failing > 0 {
                    self.failing_steps.store(failing - 1, Ordering::SeqCst);
                    return Err(HostError::Unavailable("no quorum (test double)".to_owned()));
                }
            }
            let principal = self.principal_for(&command);
            Ok(self.apply_as(principal, command))
        })
    }

    fn sync(&self) -> BoxFuture<'_, Result<(), HostError>> {
        Box::pin(async { Ok(()) })
    }

    fn reader(&self) -> &dyn Store {
        self
    }

    fn holds_lease(&self) -> bool {
        self.lease.load(Ordering::SeqCst)
    }

    fn tools(&self) -> &dyn Tools {
        &self.tools
    }

    fn model(
        &self,
        _provider: &Provider,
        _opened: Option<SecretString>,
    ) -> Result<Box<dyn Model>, String> {
        Ok(Box::new(ModelHandle(self.model.clone())))
    }

    fn open_secret(
        &self,
        _workspace: &WorkspaceId,
        _context: &str,
        _sealed: &SealedSecret,
    ) -> Result<SecretString, SecretError> {
        Err(SecretError::NoMasterKey)
    }

    fn options(&self) -> &RuntimeOptions {
        &self.options
    }
}

fn never(error: std::convert::Infallible) -> StoreError {
    match error {}
}

impl Store for FakeHost {
    fn task(&self, workspace: &WorkspaceId, task: &TaskId) -> Result<Option<Task>, StoreError> {
        StateRead::task(&*self.lock(), workspace, task).map_err(never)
    }

    fn journal(
        &self,
        workspace: &WorkspaceId,
        task: &TaskId,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        Ok(self.lock().journal_of(workspace, task))
    }

    fn agent(
        &self,
        workspace: &WorkspaceId,
        name: &AgentName,
    ) -> Result<Option<Agent>, StoreError> {
        StateRead::agent(&*self.lock(), workspace, name).map_err(never)
    }

    fn provider(
        &self,
        workspace: &WorkspaceId,
        name: &ProviderName,
    ) -> Result<Option<Provider>, StoreError> {
        StateRead::provider(&*self.lock(), workspace, name).map_err(never)
    }

    fn mcp_servers(&self, workspace: &WorkspaceId) -> Result<Vec<McpServer>, StoreError> {
        Ok(self
            .lock()
            .mcp_servers
            .iter()
            .filter(|((owner, _), _)| owner == workspace)
            .map(|(_, server)| server.clone())
            .collect())
    }

    fn catalog_entry(&self, name: &CatalogName) -> Result<Option<CatalogEntry>, StoreError> {
        StateRead::catalog_entry(&*self.lock(), name).map_err(never)
    }

    fn switches(&self, workspace: &WorkspaceId) -> Result<Option<Switches>, StoreError> {
        StateRead::switches(&*self.lock(), workspace).map_err(never)
    }

    fn agent_names(&self, workspace: &WorkspaceId) -> Result<Vec<AgentName>, StoreError> {
        Ok(StateRead::agents(&*self.lock(), workspace)
            .map_err(never)?
            .into_iter()
            .map(|agent| agent.spec.name)
            .collect())
    }

    fn cluster_protocol(&self) -> Result<u32, StoreError> {
        StateRead::cluster_protocol(&*self.lock()).map_err(never)
    }
}
