//! The active-task index entry: what placement, deadlines and stall detection need to
//! know about a task that is not terminal yet, without reading the task itself.

use serde::{Deserialize, Serialize};
use warden_core::{AgentName, NodeId, Task, TaskStatus};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveTask {
    pub status: TaskStatus,
    pub agent: AgentName,
    pub owner: Option<NodeId>,
    pub epoch: u64,
    pub deadline_at_ms: u64,
    pub progress_ms: u64,
    pub stall_timeout_ms: u64,
    pub stalled: bool,
    /// While the task waits for an approval: the call and when its request expires.
    pub approval: Option<(String, u64)>,
}

impl ActiveTask {
    /// The index entry of `task`, or `None` once it is terminal.
    pub fn of(task: &Task) -> Option<ActiveTask> {
        (!task.status.is_terminal()).then(|| ActiveTask {
            status: task.status,
            agent: task.agent.clone(),
            owner: task.owner,
            epoch: task.epoch,
            deadline_at_ms: task.deadline_at_ms,
            progress_ms: task.progress_ms,
            stall_timeout_ms: task.limits.stall_timeout_ms,
            stalled: task.stalled,
            approval: (task.status == TaskStatus::WaitingApproval)
                .then(|| task.open_calls.first())
                .flatten()
                .and_then(|call| {
                    let approval = call.approval.as_ref()?;
                    Some((call.call_id.clone(), approval.expires_at_ms))
                }),
        })
    }
}
