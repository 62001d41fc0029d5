//! Schedules: a workspace's standing order to submit a task for an agent at the times a
//! cron expression names, in a time zone. The leader's scheduler computes the due times
//! (the cron arithmetic lives in the node, so `apply()` never depends on a calendar
//! library's version); `apply()` accepts each firing once, keyed by its due time, and
//! submits the task as the schedule's own principal.

use serde::{Deserialize, Serialize};

use crate::ids::{Principal, TaskId, WorkspaceId};
use crate::names::{AgentName, ScheduleName};

/// Longest cron expression or time zone name a schedule holds, in bytes.
pub const MAX_CRON_BYTES: usize = 128;
/// Most schedules one workspace may hold.
pub const MAX_SCHEDULES_PER_WORKSPACE: usize = 64;

/// What happens to firings missed while no leader could fire them (the cluster was down
/// or without quorum longer than the misfire grace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CatchUp {
    /// Missed firings are recorded as skipped; the next one on time runs.
    Skip,
    /// The latest missed firing runs once; the others are recorded as skipped.
    RunOnce,
}

impl CatchUp {
    pub fn as_str(self) -> &'static str {
        match self {
            CatchUp::Skip => "skip",
            CatchUp::RunOnce => "run_once",
        }
    }

    pub fn parse(text: &str) -> Result<CatchUp, String> {
        match text {
            "skip" => Ok(CatchUp::Skip),
            "run_once" | "run-once" => Ok(CatchUp::RunOnce),
            other => Err(format!("must be skip or run_once, not {other:?}")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleSpec {
    pub name: ScheduleName,
    /// Checked by the node that takes it (five fields, or six with seconds first).
    pub cron: String,
    /// An IANA time zone name (`Europe/Paris`, `UTC`), checked the same way.
    pub timezone: String,
    pub agent: AgentName,
    pub input: String,
    pub catch_up: CatchUp,
    /// A paused schedule fires nothing; its due times pass unrecorded.
    pub paused: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub workspace: WorkspaceId,
    pub spec: ScheduleSpec,
    /// Raised by every change of the spec; a firing names the version it was computed for.
    pub version: u64,
    pub created_ms: u64,
    pub updated_ms: u64,
    pub updated_by: Principal,
    /// The due time of the last firing recorded (run or skipped): due times after it are
    /// still to come. Set to the time of a change of the spec, so a changed schedule
    /// does not fire for times before it.
    pub last_due_ms: u64,
    /// Firings that submitted a task, and firings recorded as skipped.
    pub fired: u64,
    pub skipped: u64,
    /// The task the last firing submitted.
    pub last_task: Option<TaskId>,
}

impl Schedule {
    /// The principal its tasks are submitted as: `trigger/<workspace>/<schedule>`, so
    /// policy rules and the audit chain name it.
    pub fn principal(&self) -> Principal {
        Principal::trigger(&self.workspace, self.spec.name.as_str())
    }
}
