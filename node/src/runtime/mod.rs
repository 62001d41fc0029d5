//! The node's agent runtime: the heartbeat and lease, the leader's controller, and the
//! actors that run the tasks this node owns, kept in step with the replicated state.

pub mod controller;
pub mod heartbeat;
pub mod host;
pub mod liveness;
pub mod protocol;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ractor::{Actor, ActorRef};
use tokio::task::JoinSet;
use warden_actors::{NodeSupervisor, OwnedTask, RuntimeOptions, SupervisorMsg};
use warden_core::{NodeId, TaskStatus};
use warden_egress::Policy;
use warden_mcp::{SessionOptions, StdioSandbox, ToolSessions};

use self::host::NodeHost;
use self::liveness::{LeaseClock, Liveness};
use crate::cluster::Cluster;
use crate::config::{Providers, Runtime};
use crate::secrets::Vault;

/// How often the owned-task set is re-read at most.
const RECONCILE_INTERVAL: Duration = Duration::from_millis(50);
/// How often the active-task gauges are counted at most: counting reads every active
/// task, which the owned-task set does not.
const COUNT_INTERVAL: Duration = Duration::from_secs(1);

/// What the API needs from the runtime.
#[derive(Clone)]
pub struct RuntimeHandle {
    pub liveness: Arc<Liveness>,
    /// The node's one tool supervisor: every MCP server this node starts or reaches,
    /// for a task or a registration, goes through it.
    pub tools: ToolSessions,
}

/// Starts the runtime's loops and actors in `tasks`; they stop when `tasks` is shut down.
/// `providers` and `egress` bound what workspace records can make this node do: which of
/// its environment variables a provider may name as its key, and where providers and HTTP
/// MCP servers may be reached.
pub async fn start(
    cluster: Cluster,
    options: Runtime,
    sandbox: StdioSandbox,
    providers: Providers,
    egress: Policy,
    vault: Vault,
    tasks: &mut JoinSet<anyhow::Result<()>>,
) -> anyhow::Result<RuntimeHandle> {
    let liveness = Arc::new(Liveness::default());
    let lease = Arc::new(LeaseClock::default());
    let session_options = SessionOptions {
        stdio: sandbox,
        egress: egress.clone(),
        ..SessionOptions::default()
    };
    let (tools, tools_done) = ToolSessions::spawn(session_options)
        .await
        .context("starting the tool session supervisor")?;
    let host = Arc::new(NodeHost {
        cluster: cluster.clone(),
        lease: lease.clone(),
        runtime: options.clone(),
        options: RuntimeOptions {
            max_restarts: options.max_restarts,
            tool_call_timeout: options.tool_call_timeout,
            lease_wait: options.lease,
            api_key_env_allowlist: providers.api_key_env_allowlist,
            egress,
            ..RuntimeOptions::default()
        },
        tools: tools.clone(),
        vault,
    });
    let (supervisor, supervisor_done) = Actor::spawn(None, NodeSupervisor, host)
        .await
        .context("starting the node supervisor")?;
    tasks.spawn(async move {
        supervisor_done.await.context("node supervisor")?;
        anyhow::bail!("the node supervisor stopped")
    });
    tasks.spawn(async move {
        tools_done.await.context("tool session supervisor")?;
        anyhow::bail!("the tool session supervisor stopped")
    });
    tasks.spawn(heartbeat::run(cluster.clone(), options.clone(), liveness.clone(), lease).map_ok());
    tasks.spawn(controller::run(cluster.clone(), options.clone(), liveness.clone()).map_ok());
    tasks.spawn(reconcile(cluster, supervisor, options.capacity > 0).map_ok());
    Ok(RuntimeHandle { liveness, tools })
}

/// Tells the supervisor which tasks this node owns whenever the applied state changes
/// (when the node runs tasks at all), from the owned-task index, and keeps the
/// active-task gauges current (at most once per [`COUNT_INTERVAL`]).
async fn reconcile(cluster: Cluster, supervisor: ActorRef<SupervisorMsg>, runs_tasks: bool) {
    let me = NodeId(cluster.node_id());
    let mut metrics = cluster.raft().metrics();
    let mut last_applied = None;
    let mut counted_at: Option<tokio::time::Instant> = None;
    // Whether the gauges miss changes applied since they were last counted.
    let mut stale = true;
    loop {
        let applied = metrics.borrow_and_update().last_applied;
        if applied != last_applied {
            last_applied = applied;
            stale = true;
            if runs_tasks {
                match cluster.reader().owned_tasks(me) {
                    Ok(owned) => {
                        let owned = owned
                            .into_iter()
                            .map(|(workspace, task, active)| OwnedTask {
                                workspace,
                                task,
                                agent: active.agent,
                                epoch: active.epoch,
                            })
                            .collect();
                        if supervisor
                            .send_message(SupervisorMsg::Reconcile(owned))
                            .is_err()
                        {
                            return;
                        }
                    }
                    Err(error) => tracing::error!(%error, "reading the tasks this node owns"),
                }
            }
        }
        let count_due = counted_at.map(|at| at + COUNT_INTERVAL);
        if stale && count_due.is_none_or(|due| due <= tokio::time::Instant::now()) {
            counted_at = Some(tokio::time::Instant::now());
            stale = false;
            match cluster.reader().active_tasks() {
                Ok(active) => count_active(&active),
                Err(error) => tracing::error!(%error, "counting the active tasks"),
            }
        }
        tokio::time::sleep(RECONCILE_INTERVAL).await;
        // Wake for the next change, or when stale gauges are due a count.
        match count_due.filter(|_| stale) {
            Some(due) => tokio::select! {
                changed = metrics.changed() => if changed.is_err() { return },
                () = tokio::time::sleep_until(due) => {}
            },
            None => {
                if metrics.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Loops that end only when their node stops report it as a task result.
pub(crate) trait MapOk {
    fn map_ok(self) -> impl std::future::Future<Output = anyhow::Result<()>> + Send;
}

impl<F: std::future::Future<Output = ()> + Send> MapOk for F {
    fn map_ok(self) -> impl std::future::Future<Output = anyhow::Result<()>> + Send {
        async move {
            self.await;
            Ok(())
        }
    }
}

/// `warden_tasks_active{status}`: the tasks not yet terminal, as this node has applied them.
fn count_active(
    active: &[(
        warden_core::WorkspaceId,
        warden_core::TaskId,
        warden_raft::ActiveTask,
    )],
) {
    for status in [
        TaskStatus::Pending,
        TaskStatus::Running,
        TaskStatus::WaitingApproval,
        TaskStatus::NeedsAttention,
        TaskStatus::WaitingForInput,
        TaskStatus::WaitingForChild,
    ] {
        let count = active
            .iter()
            .filter(|(_, _, task)| task.status == status)
            .count();
        metrics::gauge!("warden_tasks_active", "status" => status.as_str()).set(count as f64);
    }
    let stalled = active.iter().filter(|(_, _, task)| task.stalled).count();
    metrics::gauge!("warden_tasks_stalled").set(stalled as f64);
}
