//! A task record being changed by one command, with the journal entries the change adds.

use super::{At, Write};
use crate::journal::{JournalEntry, TaskEvent};
use crate::model::{Task, TaskStatus};
use crate::outcome::Outcome;

pub(super) struct TaskUpdate {
    pub(super) task: Task,
    entries: Vec<JournalEntry>,
    /// Other records the change writes with the task (its links, a task it created).
    also: Vec<Write>,
    log_index: u64,
    time_ms: u64,
}

impl TaskUpdate {
    pub(super) fn new(task: Task, at: &At<'_>) -> TaskUpdate {
        TaskUpdate {
            task,
            entries: Vec::new(),
            also: Vec::new(),
            log_index: at.log_index,
            time_ms: at.time_ms,
        }
    }

    /// Appends `event` to the task's journal under the task's current epoch.
    pub(super) fn record(&mut self, event: TaskEvent) {
        self.entries.push(JournalEntry {
            seq: self.task.journal_len,
            log_index: self.log_index,
            time_ms: self.time_ms,
            epoch: self.task.epoch,
            event,
        });
        self.task.journal_len += 1;
    }

    /// Journal progress: restarts the stall clock.
    pub(super) fn progressed(&mut self) {
        self.task.progress_ms = self.time_ms;
        self.task.stalled = false;
    }

    /// Parks or ends the task: it keeps no owner, so no actor runs it.
    pub(super) fn release(&mut self, status: TaskStatus, reason: Option<String>) {
        self.task.status = status;
        self.task.owner = None;
        if reason.is_some() {
            self.task.reason = reason;
        }
    }

    /// Ends an open call that never ran (or is not run again) with `output` as its
    /// error result.
    pub(super) fn end_unrun_call(&mut self, call_id: &str, output: String) {
        self.task.open_calls.retain(|open| open.call_id != call_id);
        self.record(TaskEvent::ToolCallFinished {
            call_id: call_id.to_owned(),
            output,
            is_error: true,
        });
    }

    /// Writes `write` with the task, after it.
    pub(super) fn also(&mut self, write: Write) {
        self.also.push(write);
    }

    pub(super) fn fail(&mut self, reason: String) {
        self.record(TaskEvent::Failed {
            reason: reason.clone(),
        });
        self.release(TaskStatus::Failed, Some(reason));
    }

    pub(super) fn into_parts(self) -> (Task, Vec<Write>) {
        let (task, writes, _) = self.into_all();
        (task, writes)
    }

    fn into_all(self) -> (Task, Vec<Write>, Vec<JournalEntry>) {
        let mut writes: Vec<Write> = self
            .entries
            .iter()
            .map(|entry| Write::Journal {
                workspace: self.task.workspace.clone(),
                task: self.task.id,
                entry: entry.clone(),
            })
            .collect();
        writes.push(Write::Task(self.task.clone()));
        writes.extend(self.also);
        (self.task, writes, self.entries)
    }

    pub(super) fn finish(self) -> (Outcome, Vec<Write>) {
        let (task, writes, entries) = self.into_all();
        (Outcome::TaskUpdated { task, entries }, writes)
    }
}
