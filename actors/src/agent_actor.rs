//! AgentActor: one per agent with work on this node. Supervises that agent's
//! TaskActors: starts the ones the node owns, stops the ones it lost, restarts a failed
//! one with exponential backoff, and fails the task once it has failed too often.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::task::JoinHandle;
use warden_core::{AgentName, Command, Outcome, Step, TaskId, WorkspaceId};

use crate::host::Host;
use crate::task_actor::{TaskActor, TaskArgs, TaskMsg};

pub struct AgentActor;

/// The timer of a restart waiting for its backoff: it sends the restart when it fires.
type Backoff = JoinHandle<Result<(), ractor::MessagingErr<AgentMsg>>>;

pub struct AgentArgs {
    pub host: Arc<dyn Host>,
    pub workspace: WorkspaceId,
    pub agent: AgentName,
}

#[derive(Debug)]
pub enum AgentMsg {
    /// The tasks of this agent the node owns now, with their epochs.
    Assign(Vec<(TaskId, u64)>),
    /// A backoff ended: start the task's actor again if it is still wanted.
    Restart { task: TaskId, epoch: u64 },
}

pub struct AgentState {
    args: AgentArgs,
    wanted: HashMap<TaskId, u64>,
    running: HashMap<TaskId, (ActorRef<TaskMsg>, u64)>,
    by_actor: HashMap<ActorId, (TaskId, u64)>,
    /// Failures per task incarnation.
    failures: HashMap<(TaskId, u64), u32>,
    /// Restarts waiting for their backoff, with the timer that will ask for them.
    backing_off: HashMap<(TaskId, u64), Backoff>,
    /// Incarnations whose actor ended on its own: the task finished or left this node.
    done: HashSet<(TaskId, u64)>,
}

impl Actor for AgentActor {
    type Msg = AgentMsg;
    type State = AgentState;
    type Arguments = AgentArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<AgentMsg>,
        args: AgentArgs,
    ) -> Result<AgentState, ActorProcessingErr> {
        Ok(AgentState {
            args,
            wanted: HashMap::new(),
            running: HashMap::new(),
            by_actor: HashMap::new(),
            failures: HashMap::new(),
            backing_off: HashMap::new(),
            done: HashSet::new(),
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<AgentMsg>,
        state: &mut AgentState,
    ) -> Result<(), ActorProcessingErr> {
        for (_, timer) in state.backing_off.drain() {
            timer.abort();
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<AgentMsg>,
        message: AgentMsg,
        state: &mut AgentState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            AgentMsg::Assign(tasks) => assign(&myself, state, tasks).await,
            AgentMsg::Restart { task, epoch } => {
                state.backing_off.remove(&(task, epoch));
                if state.wanted.get(&task) == Some(&epoch) && !state.running.contains_key(&task) {
                    crate::metrics::task_actor_restarted();
                    start(&myself, state, task, epoch).await?;
                }
                Ok(())
            }
        }
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<AgentMsg>,
        event: SupervisionEvent,
        state: &mut AgentState,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                if let Some((task, epoch)) = forget(state, cell.get_id()) {
                    state.done.insert((task, epoch));
                }
            }
            SupervisionEvent::ActorFailed(cell, error) => {
                if let Some((task, epoch)) = forget(state, cell.get_id()) {
                    failed(&myself, state, task, epoch, error.to_string()).await;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn forget(state: &mut AgentState, actor: ActorId) -> Option<(TaskId, u64)> {
    let (task, epoch) = state.by_actor.remove(&actor)?;
    if state
        .running
        .get(&task)
        .is_some_and(|(_, running)| *running == epoch)
    {
        state.running.remove(&task);
    }
    Some((task, epoch))
}

async fn assign(
    myself: &ActorRef<AgentMsg>,
    state: &mut AgentState,
    tasks: Vec<(TaskId, u64)>,
) -> Result<(), ActorProcessingErr> {
    state.wanted = tasks.into_iter().collect();
    // Stop what this node no longer owns, at once: its journal steps would be refused.
    let lost: Vec<TaskId> = state
        .running
        .iter()
        .filter(|(task, (_, epoch))| state.wanted.get(task) != Some(epoch))
        .map(|(task, _)| *task)
        .collect();
    for task in lost {
        if let Some((actor, epoch)) = state.running.remove(&task) {
            state.by_actor.remove(&actor.get_id());
            state.done.insert((task, epoch));
            actor.kill();
        }
    }
    let wanted = state.wanted.clone();
    state
        .done
        .retain(|(task, epoch)| wanted.get(task) == Some(epoch));
    state
        .failures
        .retain(|(task, epoch), _| wanted.get(task) == Some(epoch));
    for (task, epoch) in wanted {
        let key = (task, epoch);
        if !state.running.contains_key(&task)
            && !state.done.contains(&key)
            && !state.backing_off.contains_key(&key)
        {
            start(myself, state, task, epoch).await?;
        }
    }
    Ok(())
}

async fn start(
    myself: &ActorRef<AgentMsg>,
    state: &mut AgentState,
    task: TaskId,
    epoch: u64,
) -> Result<(), ActorProcessingErr> {
    let args = TaskArgs {
        host: state.args.host.clone(),
        workspace: state.args.workspace.clone(),
        task,
        epoch,
    };
    // The join handle is not needed: the actor is linked, so its end reaches this
    // supervisor as an event.
    let (actor, _) = Actor::spawn_linked(None, TaskActor, args, myself.get_cell()).await?;
    state.by_actor.insert(actor.get_id(), (task, epoch));
    state.running.insert(task, (actor, epoch));
    Ok(())
}

async fn failed(
    myself: &ActorRef<AgentMsg>,
    state: &mut AgentState,
    task: TaskId,
    epoch: u64,
    error: String,
) {
    let options = state.args.host.options().clone();
    let failures = state.failures.entry((task, epoch)).or_insert(0);
    *failures += 1;
    let failures = *failures;
    tracing::warn!(%task, epoch, failures, %error, "task actor failed");
    crate::metrics::task_actor_failed();
    if failures > options.max_restarts {
        state.done.insert((task, epoch));
        let reason = format!(
            "the task's actor failed {failures} times on node {}; last error: {error}",
            state.args.host.node()
        );
        fail_task(state, task, epoch, reason).await;
        return;
    }
    let exponent = (failures - 1).min(16);
    let backoff = options
        .restart_backoff_min
        .saturating_mul(1 << exponent)
        .min(options.restart_backoff_max);
    let timer = myself.send_after(backoff, move || AgentMsg::Restart { task, epoch });
    state.backing_off.insert((task, epoch), timer);
}

async fn fail_task(state: &AgentState, task: TaskId, epoch: u64, reason: String) {
    let host = &state.args.host;
    let command = Command::AppendJournal {
        workspace: state.args.workspace.clone(),
        task,
        node: host.node(),
        epoch,
        step: Step::Fail { reason },
    };
    // If this is refused the task has moved on (another owner, a terminal state); if it
    // cannot commit, the task stays owned here without an actor and stall detection
    // shows it.
    match host.propose(command).await {
        Ok(Outcome::TaskUpdated { .. }) => {}
        Ok(other) => tracing::info!(%task, ?other, "failing the task was not applied"),
        Err(error) => tracing::warn!(%task, %error, "failing the task did not commit"),
    }
}

/// Longest backoff a restart may be given, for callers that size timeouts.
pub fn max_backoff(host: &dyn Host) -> Duration {
    host.options().restart_backoff_max
}
