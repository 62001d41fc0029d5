//! The task's waits: while its workspace or agent is paused, and for its node's lease
//! before a tool call.

use std::time::Duration;

use ractor::ActorProcessingErr;
use tokio::time::Instant;
use warden_core::{AgentName, Task, TaskStatus};

use super::TaskArgs;
use crate::host::Host;
use crate::metrics;

/// Whether the task's workspace or its agent is paused, as this node has applied.
pub(super) fn is_paused(args: &TaskArgs, agent: &AgentName) -> Result<bool, ActorProcessingErr> {
    let reader = args.host.reader();
    let workspace_paused = reader
        .switches(&args.workspace)?
        .is_some_and(|switches| switches.paused.is_some());
    Ok(workspace_paused
        || reader
            .agent(&args.workspace, agent)?
            .is_some_and(|agent| agent.spec.paused))
}

/// How often a paused task looks at its workspace and agent again.
pub(super) const PAUSE_POLL: Duration = Duration::from_millis(200);

/// Waits while the task's workspace or agent is paused. `false` when the task stopped
/// being this node's at this epoch meanwhile (a cancel, a deadline, a failover).
pub(super) async fn wait_while_paused(
    args: &TaskArgs,
    task: &Task,
) -> Result<bool, ActorProcessingErr> {
    let reader = args.host.reader();
    let mut held = None;
    loop {
        if !is_paused(args, &task.agent)? {
            return Ok(true);
        }
        held.get_or_insert_with(metrics::held_by_pause);
        let current = reader.task(&args.workspace, &args.task)?;
        let still_ours = current.is_some_and(|current| {
            current.owner == Some(args.host.node())
                && current.epoch == args.epoch
                && current.status == TaskStatus::Running
        });
        if !still_ours {
            return Ok(false);
        }
        tokio::time::sleep(PAUSE_POLL).await;
    }
}

/// Waits up to the runtime's `lease_wait` for this node's lease to hold.
pub(super) async fn wait_for_lease(host: &dyn Host) -> bool {
    let deadline = Instant::now() + host.options().lease_wait;
    loop {
        if host.holds_lease() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
