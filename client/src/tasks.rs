//! The task RPCs of `Client`: submitting, reading, listing, cancelling, resolving,
//! waiting for and following tasks, one at a time or a whole workspace.

use std::time::Duration;

use futures::Stream;
use tokio::time::Instant;
use warden_proto::v1::resolve_task_request::Decision;
use warden_proto::v1::task_service_client::TaskServiceClient;
use warden_proto::v1::{
    AnswerQuestionRequest, AnswerQuestionResponse, CancelTaskRequest, CancelTaskResponse,
    GetJournalRequest, GetJournalResponse, GetTaskRequest, GetTaskResponse, ListTasksRequest,
    ListTasksResponse, ResolveTaskRequest, ResolveTaskResponse, SubmitTaskRequest,
    SubmitTaskResponse, TaskEvent, TaskQuestion, TaskStatus, WaitTaskRequest, WaitTaskResponse,
};

use crate::{Client, Consistency, Error};

/// The answer to `Client::submit_task`, with the idempotency key that was sent.
#[derive(Debug, Clone, PartialEq)]
pub struct SubmittedTask {
    /// The task, and whether the key matched a task submitted earlier.
    pub response: SubmitTaskResponse,
    /// The key sent with every attempt: the caller's, or the one generated for the call.
    /// Submitting again with it returns the same task instead of creating another.
    pub idempotency_key: String,
}

/// Which tasks `Client::list_tasks_matching` returns; the default matches every task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskFilter {
    /// Only tasks marked stalled (no journal progress within the agent's stall timeout).
    pub stalled_only: bool,
    /// Only tasks in this status; `None` for any.
    pub status: Option<TaskStatus>,
}

/// What `Client::resolve_task` decides for a task that needs attention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Run the interrupted tool call again.
    Retry,
    /// Do not run it again; use this text as its result.
    SkipWithResult(String),
    /// Fail the task with this reason.
    Fail(String),
}

impl From<Resolution> for Decision {
    fn from(resolution: Resolution) -> Self {
        match resolution {
            Resolution::Retry => Decision::Retry(true),
            Resolution::SkipWithResult(result) => Decision::SkipWithResult(result),
            Resolution::Fail(reason) => Decision::Fail(reason),
        }
    }
}

impl Client {
    /// Submits a task for `agent` to `workspace`. Without an `idempotency_key` a random
    /// 128-bit hex key is generated; either way the same key goes with every retry, so a
    /// retried submission never creates a second task.
    pub async fn submit_task(
        &self,
        workspace: impl Into<String>,
        agent: impl Into<String>,
        input: impl Into<String>,
        idempotency_key: Option<String>,
    ) -> Result<SubmittedTask, Error> {
        let idempotency_key = idempotency_key.unwrap_or_else(random_idempotency_key);
        let request = SubmitTaskRequest {
            workspace: workspace.into(),
            idempotency_key: idempotency_key.clone(),
            input: input.into(),
            agent: agent.into(),
        };
        let response = self
            .unary(request, |channel, request| async move {
                TaskServiceClient::new(channel).submit_task(request).await
            })
            .await?;
        Ok(SubmittedTask {
            response,
            idempotency_key,
        })
    }

    /// Task `id` of `workspace`.
    pub async fn get_task(
        &self,
        workspace: impl Into<String>,
        id: impl Into<String>,
        consistency: Consistency,
    ) -> Result<GetTaskResponse, Error> {
        let request = GetTaskRequest {
            workspace: workspace.into(),
            task_id: id.into(),
            consistency: consistency.to_proto(),
        };
        self.unary(request, |channel, request| async move {
            TaskServiceClient::new(channel).get_task(request).await
        })
        .await
    }

    /// One page of the tasks of `workspace`: at most `page_size` (0 means 100, at most
    /// 1000), starting after `page_token` (empty for the first page). The response's
    /// `next_page_token` is empty on the last page.
    pub async fn list_tasks(
        &self,
        workspace: impl Into<String>,
        page_size: u32,
        page_token: impl Into<String>,
        consistency: Consistency,
    ) -> Result<ListTasksResponse, Error> {
        self.list_tasks_matching(
            workspace,
            TaskFilter::default(),
            page_size,
            page_token,
            consistency,
        )
        .await
    }

    /// Like `list_tasks`, but only the tasks that `filter` matches. The page token of a
    /// filtered listing continues that listing; pass the same filter with it.
    pub async fn list_tasks_matching(
        &self,
        workspace: impl Into<String>,
        filter: TaskFilter,
        page_size: u32,
        page_token: impl Into<String>,
        consistency: Consistency,
    ) -> Result<ListTasksResponse, Error> {
        let request = ListTasksRequest {
            workspace: workspace.into(),
            page_size,
            page_token: page_token.into(),
            consistency: consistency.to_proto(),
            stalled_only: filter.stalled_only,
            status: filter.status.unwrap_or(TaskStatus::Unspecified) as i32,
        };
        self.unary(request, |channel, request| async move {
            TaskServiceClient::new(channel).list_tasks(request).await
        })
        .await
    }

    /// Ends task `id`, which must not be terminal yet (FAILED_PRECONDITION otherwise), and
    /// records `reason` (may be empty).
    ///
    /// Not retried once an attempt may have reached a server: a cancel that took effect
    /// would answer FAILED_PRECONDITION the second time. Such a failure is
    /// [`Error::OutcomeUnknown`]; read the task to learn whether it was cancelled.
    pub async fn cancel_task(
        &self,
        workspace: impl Into<String>,
        id: impl Into<String>,
        reason: impl Into<String>,
    ) -> Result<CancelTaskResponse, Error> {
        let request = CancelTaskRequest {
            workspace: workspace.into(),
            task_id: id.into(),
            reason: reason.into(),
        };
        self.unary_once(request, |channel, request| async move {
            TaskServiceClient::new(channel).cancel_task(request).await
        })
        .await
    }

    /// Decides for task `id`, which needs attention: retry its interrupted tool call,
    /// skip the call with a result, or fail the task.
    ///
    /// Not retried once an attempt may have reached a server: had the first attempt taken
    /// effect, a second could decide a later interruption of the same task. Such a
    /// failure is [`Error::OutcomeUnknown`]; read the task or its journal first.
    pub async fn resolve_task(
        &self,
        workspace: impl Into<String>,
        id: impl Into<String>,
        resolution: Resolution,
    ) -> Result<ResolveTaskResponse, Error> {
        let request = ResolveTaskRequest {
            workspace: workspace.into(),
            task_id: id.into(),
            decision: Some(resolution.into()),
        };
        self.unary_once(request, |channel, request| async move {
            TaskServiceClient::new(channel).resolve_task(request).await
        })
        .await
    }

    /// Answers `question`, which task `id` waits on (`Task::question`, as `get_task`
    /// returns it): the answer is the asking call's result and the task runs again.
    ///
    /// Not retried once an attempt may have reached a server; such a failure is
    /// [`Error::OutcomeUnknown`]: read the task first (a second answer to the same
    /// question is refused, never taken for a later one).
    pub async fn answer_question(
        &self,
        workspace: impl Into<String>,
        id: impl Into<String>,
        question: &TaskQuestion,
        answer: impl Into<String>,
    ) -> Result<AnswerQuestionResponse, Error> {
        let request = AnswerQuestionRequest {
            workspace: workspace.into(),
            task_id: id.into(),
            call_id: question.call_id.clone(),
            question_seq: question.seq,
            answer: answer.into(),
        };
        self.unary_once(request, |channel, request| async move {
            TaskServiceClient::new(channel)
                .answer_question(request)
                .await
        })
        .await
    }

    /// Waits until task `id` is settled (terminal, waiting for approval, an answer or
    /// needing attention) or `timeout` passes, and returns the task as it is then; `settled` is
    /// false when the timeout passed first.
    ///
    /// The server waits at most a little less than the per-attempt deadline
    /// (`ClientOptions::request_timeout`) per call, so a long `timeout` is covered by
    /// several calls, each retried across nodes like any read.
    pub async fn wait_task(
        &self,
        workspace: impl Into<String>,
        id: impl Into<String>,
        timeout: Duration,
    ) -> Result<WaitTaskResponse, Error> {
        let (workspace, task_id) = (workspace.into(), id.into());
        let deadline = Instant::now() + timeout;
        let longest_wait = self.policy().max_server_wait();
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            // 0 would mean the server's default wait, so never ask for less than 1 ms.
            let wait_ms = u64::try_from(remaining.min(longest_wait).as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            let request = WaitTaskRequest {
                workspace: workspace.clone(),
                task_id: task_id.clone(),
                timeout_ms: wait_ms,
            };
            let response = self
                .unary(request, |channel, request| async move {
                    TaskServiceClient::new(channel).wait_task(request).await
                })
                .await?;
            if response.settled || Instant::now() >= deadline {
                return Ok(response);
            }
        }
    }

    /// Up to `limit` journal events of task `id` (0 means 1000, at most 1000), from
    /// sequence number `from_seq` on; sequence numbers start at 0.
    pub async fn get_journal(
        &self,
        workspace: impl Into<String>,
        id: impl Into<String>,
        from_seq: u64,
        limit: u32,
        consistency: Consistency,
    ) -> Result<GetJournalResponse, Error> {
        let request = GetJournalRequest {
            workspace: workspace.into(),
            task_id: id.into(),
            from_seq,
            limit,
            consistency: consistency.to_proto(),
        };
        self.unary(request, |channel, request| async move {
            TaskServiceClient::new(channel).get_journal(request).await
        })
        .await
    }

    /// Follows the journal of task `id` from `from_seq` on (0 for all of it): the stored
    /// events first, then each new one as the cluster applies it.
    ///
    /// When the stream breaks (the node goes away, answers UNAVAILABLE, or the connection
    /// fails) it is reopened, on the next node with backoff, from the event after the last
    /// one delivered; each event therefore arrives exactly once and in order. Events a
    /// server sends again are skipped; a missing one ends the stream with
    /// [`Error::JournalGap`]. Reconnecting gives up with [`Error::Unavailable`] once it has
    /// taken `ClientOptions::resume_timeout` since the last event. The stream ends after
    /// the event that makes the task terminal (completed, failed, cancelled, timed out),
    /// when the task had already ended before `from_seq`, or after the first error.
    pub fn watch_task(
        &self,
        workspace: impl Into<String>,
        id: impl Into<String>,
        from_seq: u64,
    ) -> impl Stream<Item = Result<TaskEvent, Error>> + Send + 'static {
        crate::watch::task(self.clone(), workspace.into(), id.into(), from_seq)
    }

    /// Follows every task event of `workspace` in log order, from Raft log index
    /// `from_index` on (0 for all): the stored events first, then each new one as the
    /// cluster applies it. Events of one log index come in (task, sequence number) order.
    ///
    /// Resumes like `watch_task`: a broken stream is reopened at the log index of the
    /// last event delivered, and the events up to and including that one, which the
    /// server sends again, are skipped; reconnecting gives up with
    /// [`Error::Unavailable`] after `ClientOptions::resume_timeout` without an event. The
    /// stream does not end on its own; drop it to stop watching.
    pub fn watch_workspace(
        &self,
        workspace: impl Into<String>,
        from_index: u64,
    ) -> impl Stream<Item = Result<TaskEvent, Error>> + Send + 'static {
        crate::watch::workspace(self.clone(), workspace.into(), from_index)
    }
}

/// A random 128-bit key in lowercase hex: unique enough that two submissions never
/// share one by accident.
fn random_idempotency_key() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_32_hex_digits_and_differ() {
        let first = random_idempotency_key();
        let second = random_idempotency_key();
        assert_eq!(first.len(), 32);
        assert!(
            first
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(first, second);
    }

    #[test]
    fn resolutions_map_to_the_proto_decision() {
        assert_eq!(Decision::from(Resolution::Retry), Decision::Retry(true));
        assert_eq!(
            Decision::from(Resolution::SkipWithResult("42".into())),
            Decision::SkipWithResult("42".into())
        );
        assert_eq!(
            Decision::from(Resolution::Fail("no".into())),
            Decision::Fail("no".into())
        );
    }
}
