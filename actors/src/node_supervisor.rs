//! NodeSupervisor: the root of the node's agent runtime. Told which tasks the node
//! owns, it keeps one AgentActor per agent with work here and hands each its tasks.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use warden_core::{AgentName, TaskId, WorkspaceId};

use crate::agent_actor::{AgentActor, AgentArgs, AgentMsg};
use crate::host::Host;

pub struct NodeSupervisor;

/// A task this node owns, as the replicated state says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedTask {
    pub workspace: WorkspaceId,
    pub task: TaskId,
    pub agent: AgentName,
    pub epoch: u64,
}

#[derive(Debug)]
pub enum SupervisorMsg {
    /// Every task the node owns now.
    Reconcile(Vec<OwnedTask>),
}

type AgentKey = (WorkspaceId, AgentName);

pub struct SupervisorState {
    host: Arc<dyn Host>,
    agents: HashMap<AgentKey, ActorRef<AgentMsg>>,
    by_actor: HashMap<ActorId, AgentKey>,
}

impl Actor for NodeSupervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = Arc<dyn Host>;

    async fn pre_start(
        &self,
        _myself: ActorRef<SupervisorMsg>,
        host: Arc<dyn Host>,
    ) -> Result<SupervisorState, ActorProcessingErr> {
        Ok(SupervisorState {
            host,
            agents: HashMap::new(),
            by_actor: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<SupervisorMsg>,
        message: SupervisorMsg,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SupervisorMsg::Reconcile(owned) => reconcile(&myself, state, owned).await,
        }
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<SupervisorMsg>,
        event: SupervisionEvent,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        // An agent actor that ended or failed is forgotten; the next reconcile starts a
        // new one if the agent still has work here.
        if let SupervisionEvent::ActorFailed(_, error) = &event {
            tracing::warn!(%error, "agent actor failed");
        }
        if let SupervisionEvent::ActorTerminated(cell, ..) | SupervisionEvent::ActorFailed(cell, ..) =
            &event
            && let Some(key) = state.by_actor.remove(&cell.get_id())
        {
            state.agents.remove(&key);
        }
        Ok(())
    }
}

async fn reconcile(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    owned: Vec<OwnedTask>,
) -> Result<(), ActorProcessingErr> {
    let mut by_agent: BTreeMap<AgentKey, Vec<(TaskId, u64)>> = BTreeMap::new();
    for task in owned {
        by_agent
            .entry((task.workspace, task.agent))
            .or_default()
            .push((task.task, task.epoch));
    }
    let idle: Vec<AgentKey> = state
        .agents
        .keys()
        .filter(|key| !by_agent.contains_key(*key))
        .cloned()
        .collect();
    for key in idle {
        if let Some(actor) = state.agents.remove(&key) {
            state.by_actor.remove(&actor.get_id());
            actor.stop(Some("no tasks on this node".to_owned()));
        }
    }
    for (key, tasks) in by_agent {
        let actor = match state.agents.get(&key) {
            Some(actor) => actor.clone(),
            None => {
                let args = AgentArgs {
                    host: state.host.clone(),
                    workspace: key.0.clone(),
                    agent: key.1.clone(),
                };
                let (actor, _) =
                    Actor::spawn_linked(None, AgentActor, args, myself.get_cell()).await?;
                state.by_actor.insert(actor.get_id(), key.clone());
                state.agents.insert(key, actor.clone());
                actor
            }
        };
        actor.send_message(AgentMsg::Assign(tasks))?;
    }
    Ok(())
}
