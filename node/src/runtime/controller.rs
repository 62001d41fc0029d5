//! The leader's controller over the replicated state: places runnable tasks on live
//! nodes (least loaded first, within capacity), moves the tasks of nodes whose lease
//! expired under a new epoch, times out tasks past their deadline, expires approval
//! requests and questions nobody answered in time, and marks running
//! tasks without journal progress as stalled, and raises the cluster's protocol once
//! every member speaks a newer one (`protocol.rs`). Every decision is a proposed command,
//! so `apply()` validates it against the state it lands on.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use openraft::ServerState;
use warden_core::{
    AgentName, Command, NodeId, Outcome, Principal, Request, TaskStatus, WorkspaceId,
};
use warden_raft::ActiveTask;

use super::liveness::Liveness;
use crate::api::now_ms;
use crate::cluster::Cluster;
use crate::config::Runtime;

/// Most commands one tick proposes, so a backlog cannot hold the loop for long.
const MAX_COMMANDS_PER_TICK: usize = 256;
/// Most tasks with a due timer one tick looks at; the next tick reads on from there, so
/// due tasks nothing can be done about yet (one waiting for an answer is always due; one
/// of a paused agent waits) never keep the others from being seen.
const MAX_DUE_PER_TICK: usize = 1024;

pub async fn run(cluster: Cluster, options: Runtime, liveness: Arc<Liveness>) {
    // Where the next tick goes on reading the due index.
    let mut due_cursor: Option<Vec<u8>> = None;
    let mut ticker = tokio::time::interval(options.controller_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match cluster.reader().cluster_protocol() {
            Ok(protocol) => metrics::gauge!("warden_cluster_protocol").set(f64::from(protocol)),
            Err(error) => tracing::warn!(%error, "reading the cluster protocol"),
        }
        let (leading, term) = {
            let metrics = cluster.raft().metrics();
            let metrics = metrics.borrow();
            (metrics.state == ServerState::Leader, metrics.current_term)
        };
        if !leading {
            liveness.not_leading();
            continue;
        }
        liveness.leading(term);
        if let Err(error) = tick(&cluster, &options, &liveness, &mut due_cursor).await {
            tracing::warn!(%error, "controller tick failed");
        }
        // A report older than three heartbeats may be from a member that went down.
        let fresh = options.heartbeat_interval * 3;
        if let Err(error) = super::protocol::raise(&cluster, fresh).await {
            tracing::warn!(%error, "raising the cluster protocol failed");
        }
        metrics::counter!("warden_controller_ticks_total").increment(1);
    }
}

async fn tick(
    cluster: &Cluster,
    options: &Runtime,
    liveness: &Liveness,
    due_cursor: &mut Option<Vec<u8>>,
) -> Result<(), crate::Error> {
    let now = now_ms();
    let reader = cluster.reader();
    let members = members(cluster);
    let alive: Vec<NodeId> = members
        .iter()
        .copied()
        .filter(|node| liveness.is_alive(*node, options.lease))
        .collect();
    let mut load: BTreeMap<NodeId, u32> = alive.iter().map(|node| (*node, 0)).collect();
    let mut orphaned = Vec::new();
    for (node, task) in reader.running_tasks()? {
        match load.get_mut(&node) {
            Some(count) => *count += 1,
            // Its owner is dead, silent or no longer a member.
            None => orphaned.push(task),
        }
    }
    let mut paused: HashMap<(WorkspaceId, AgentName), bool> = HashMap::new();
    let mut workspace_paused: HashMap<WorkspaceId, bool> = HashMap::new();
    // The tasks to look at, from the indexes rather than every active task: those with a
    // timer due, those whose owner is not alive, and the runnable ones no node runs whose
    // agent may run (a paused agent's are skipped as one range).
    let due = reader.due_tasks(now, due_cursor.as_deref(), MAX_DUE_PER_TICK)?;
    *due_cursor = due.next;
    let mut candidates = due.tasks;
    candidates.extend(orphaned);
    candidates.extend(
        reader.unplaced_tasks(MAX_COMMANDS_PER_TICK, |workspace, agent| {
            Ok(is_halted(cluster, &mut workspace_paused, workspace)?
                || is_paused(cluster, &mut paused, workspace, agent)?)
        })?,
    );
    let mut seen = std::collections::HashSet::new();
    candidates.retain(|(workspace, id, _)| seen.insert((workspace.clone(), *id)));
    let active = candidates;
    let mut commands = Vec::new();
    // The tasks whose placement moves them off a dead or silent owner.
    let mut failovers = std::collections::HashSet::new();
    for (workspace, id, task) in active {
        if commands.len() >= MAX_COMMANDS_PER_TICK {
            break;
        }
        if now >= task.deadline_at_ms {
            commands.push(Command::TimeOutTask {
                workspace,
                task: id,
            });
            continue;
        }
        if let Some((call_id, expires_at_ms)) = &task.approval
            && now >= *expires_at_ms
        {
            commands.push(Command::ExpireApproval {
                workspace,
                task: id,
                call_id: call_id.clone(),
            });
            continue;
        }
        // Few tasks wait on a person at a time: their question is a point read.
        if task.status == TaskStatus::WaitingForInput
            && let Some(question) = cluster
                .reader()
                .task_links(&workspace, &id)?
                .and_then(|links| links.question().cloned())
            && now >= question.expires_at_ms
        {
            commands.push(Command::ExpireQuestion {
                workspace,
                task: id,
                call_id: question.call_id,
            });
            continue;
        }
        if needs_owner(&task, &alive) {
            // The kill switch: a paused workspace's tasks are not placed.
            if is_halted(cluster, &mut workspace_paused, &workspace)?
                || is_paused(cluster, &mut paused, &workspace, &task.agent)?
            {
                continue;
            }
            if let Some(node) = least_loaded(&mut load, liveness, options) {
                // An owner that needs replacing is dead or silent; a task without one was
                // parked (an approval, a pause) or never placed, which is no failover.
                if task.owner.is_some() {
                    failovers.insert(id);
                }
                commands.push(Command::AssignTask {
                    workspace,
                    task: id,
                    node,
                    epoch: task.epoch + 1,
                });
            }
            continue;
        }
        if stalled(&task, now) {
            commands.push(Command::MarkStalled {
                workspace,
                task: id,
                progress_ms: task.progress_ms,
            });
        }
    }
    for command in commands {
        let described = describe(&command);
        let failover =
            matches!(&command, Command::AssignTask { task, .. } if failovers.contains(task));
        let request = Request {
            time_ms: now_ms(),
            principal: Principal::node(NodeId(cluster.node_id())),
            token: None,
            command,
        };
        match cluster.propose(request).await? {
            Outcome::Rejected(rejection) => {
                // The state moved between the scan and the commit; the next tick sees it.
                tracing::debug!(%described, %rejection, "controller command refused");
            }
            Outcome::TaskUpdated { .. } => {
                // The placement moved the task off an owner that died or went silent,
                // whether it runs on or waits for a human (an interrupted call that is
                // not retry-safe).
                if failover {
                    metrics::counter!("warden_task_failovers_total").increment(1);
                }
                tracing::debug!(%described, "controller command applied");
            }
            _ => tracing::debug!(%described, "controller command applied"),
        }
    }
    Ok(())
}

/// Whether `workspace` is paused (its kill switch), read once per tick.
fn is_halted(
    cluster: &Cluster,
    cache: &mut HashMap<WorkspaceId, bool>,
    workspace: &WorkspaceId,
) -> Result<bool, warden_raft::Error> {
    if let Some(halted) = cache.get(workspace) {
        return Ok(*halted);
    }
    let halted = cluster
        .reader()
        .switches(workspace)?
        .is_some_and(|switches| switches.paused.is_some());
    cache.insert(workspace.clone(), halted);
    Ok(halted)
}

/// Whether `agent` is paused or gone, read once per tick.
fn is_paused(
    cluster: &Cluster,
    cache: &mut HashMap<(WorkspaceId, AgentName), bool>,
    workspace: &WorkspaceId,
    agent: &AgentName,
) -> Result<bool, warden_raft::Error> {
    let key = (workspace.clone(), agent.clone());
    if let Some(paused) = cache.get(&key) {
        return Ok(*paused);
    }
    let paused = cluster
        .reader()
        .agent(workspace, agent)?
        .is_none_or(|agent| agent.spec.paused);
    cache.insert(key, paused);
    Ok(paused)
}

/// Every node in the membership, voters and workers (learners) alike.
pub(super) fn members(cluster: &Cluster) -> Vec<NodeId> {
    let metrics = cluster.raft().metrics();
    let metrics = metrics.borrow();
    metrics
        .membership_config
        .membership()
        .nodes()
        .map(|(id, _)| NodeId(*id))
        .collect()
}

fn needs_owner(task: &ActiveTask, alive: &[NodeId]) -> bool {
    task.status.is_runnable() && task.owner.is_none_or(|owner| !alive.contains(&owner))
}

fn stalled(task: &ActiveTask, now: u64) -> bool {
    task.status == TaskStatus::Running
        && task.owner.is_some()
        && !task.stalled
        && now.saturating_sub(task.progress_ms) >= task.stall_timeout_ms
}

/// The live node with the fewest running tasks that still has room, counted as taken.
fn least_loaded(
    load: &mut BTreeMap<NodeId, u32>,
    liveness: &Liveness,
    options: &Runtime,
) -> Option<NodeId> {
    let (node, count) = load
        .iter_mut()
        .filter(|(node, count)| {
            // Before its first heartbeat to this leader a node is assumed to have the
            // configured default capacity.
            **count < liveness.capacity(**node).unwrap_or(options.capacity)
        })
        .min_by_key(|(node, count)| (**count, **node))?;
    *count += 1;
    Some(*node)
}

fn describe(command: &Command) -> String {
    match command {
        Command::AssignTask {
            task, node, epoch, ..
        } => format!("assign {task} to node {node} at epoch {epoch}"),
        Command::TimeOutTask { task, .. } => format!("time out {task}"),
        Command::MarkStalled { task, .. } => format!("mark {task} stalled"),
        other => format!("{:?}", other.action()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn active(owner: Option<u64>, status: TaskStatus) -> ActiveTask {
        ActiveTask {
            status,
            agent: AgentName::parse("bot").expect("valid"),
            owner: owner.map(NodeId),
            epoch: 1,
            deadline_at_ms: u64::MAX,
            progress_ms: 1_000,
            stall_timeout_ms: 500,
            stalled: false,
            approval: None,
        }
    }

    #[test]
    fn tasks_of_dead_or_no_owners_need_one_parked_tasks_do_not() {
        let alive = [NodeId(1), NodeId(2)];
        assert!(needs_owner(&active(None, TaskStatus::Pending), &alive));
        assert!(needs_owner(&active(Some(3), TaskStatus::Running), &alive));
        assert!(!needs_owner(&active(Some(2), TaskStatus::Running), &alive));
        assert!(!needs_owner(
            &active(None, TaskStatus::NeedsAttention),
            &alive
        ));
        assert!(!needs_owner(
            &active(None, TaskStatus::WaitingApproval),
            &alive
        ));
    }

    #[test]
    fn placement_fills_the_least_loaded_node_within_capacity() {
        let liveness = Liveness::default();
        liveness.heard(NodeId(1), 1);
        liveness.heard(NodeId(2), 2);
        let options = Runtime::default();
        let mut load: BTreeMap<NodeId, u32> = [(NodeId(1), 0), (NodeId(2), 1)].into();
        assert_eq!(
            least_loaded(&mut load, &liveness, &options),
            Some(NodeId(1))
        );
        assert_eq!(
            least_loaded(&mut load, &liveness, &options),
            Some(NodeId(2))
        );
        assert_eq!(
            least_loaded(&mut load, &liveness, &options),
            None,
            "both full"
        );
    }

    #[test]
    fn stall_needs_an_owner_and_the_full_timeout() {
        assert!(!stalled(&active(Some(1), TaskStatus::Running), 1_499));
        assert!(stalled(&active(Some(1), TaskStatus::Running), 1_500));
        assert!(!stalled(&active(None, TaskStatus::Running), 9_999));
    }
}
