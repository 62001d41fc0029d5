//! The task and workspace watches that survive node failures: each reopens its server
//! stream, on the next node with backoff, from just after the last event delivered.

use std::cmp::Ordering;
use std::time::Duration;

use futures::Stream;
use tokio::time::Instant;
use tonic::Streaming;
use tonic::transport::Channel;
use warden_proto::v1::task_service_client::TaskServiceClient;
use warden_proto::v1::{TaskEvent, TaskStatus, WatchTaskRequest, WatchWorkspaceRequest};

use crate::retry::{describe, is_unavailable};
use crate::{Client, Consistency, Error};

/// The event kinds that end a task; the server ends a task watch after one of them.
const TERMINAL_KINDS: [&str; 4] = ["completed", "failed", "cancelled", "timed_out"];

/// What a watch follows, and how far it has delivered.
enum Position {
    /// One task's journal; `next_seq` is the sequence number the next event must have.
    Task { task_id: String, next_seq: u64 },
    /// Every task event of the workspace, in log order: reopened at the log index of the
    /// last event delivered, whose events come again and are skipped up to and including
    /// that event (`last`: log index, task id, sequence number).
    Workspace {
        from_index: u64,
        last: Option<(u64, String, u64)>,
    },
}

/// What to do with an event a server sent.
enum Verdict {
    Deliver,
    /// Delivered before a break and sent again after it.
    Skip,
    /// A task event arrived ahead of the one due.
    Gap {
        expected: u64,
        received: u64,
    },
}

impl Position {
    fn judge(&self, event: &TaskEvent) -> Verdict {
        match self {
            Position::Task { next_seq, .. } => match event.seq.cmp(next_seq) {
                Ordering::Less => Verdict::Skip,
                Ordering::Equal => Verdict::Deliver,
                Ordering::Greater => Verdict::Gap {
                    expected: *next_seq,
                    received: event.seq,
                },
            },
            Position::Workspace { from_index, last } => {
                // Task ids are fixed-width base32 in ascending alphabet order, so comparing
                // them as text orders them as the server does.
                let key = (event.log_index, event.task_id.as_str(), event.seq);
                let delivered = last
                    .as_ref()
                    .is_some_and(|(index, task, seq)| key <= (*index, task.as_str(), *seq));
                if delivered || event.log_index < *from_index {
                    Verdict::Skip
                } else {
                    Verdict::Deliver
                }
            }
        }
    }

    fn delivered(&mut self, event: &TaskEvent) {
        match self {
            Position::Task { next_seq, .. } => *next_seq = event.seq + 1,
            Position::Workspace { from_index, last } => {
                *from_index = event.log_index;
                *last = Some((event.log_index, event.task_id.clone(), event.seq));
            }
        }
    }

    /// Whether nothing follows `event`: a task watch ends with its task.
    fn ends_with(&self, event: &TaskEvent) -> bool {
        matches!(self, Position::Task { .. }) && ends_task(event)
    }

    async fn open(
        &self,
        client: &Client,
        channel: Channel,
        workspace: &str,
    ) -> Result<Streaming<TaskEvent>, tonic::Status> {
        let mut service = TaskServiceClient::new(channel);
        let response = match self {
            Position::Task { task_id, next_seq } => {
                service
                    .watch_task(client.authorized(WatchTaskRequest {
                        workspace: workspace.to_owned(),
                        task_id: task_id.clone(),
                        from_seq: *next_seq,
                    }))
                    .await?
            }
            Position::Workspace { from_index, .. } => {
                service
                    .watch_workspace(client.authorized(WatchWorkspaceRequest {
                        workspace: workspace.to_owned(),
                        from_index: *from_index,
                    }))
                    .await?
            }
        };
        Ok(response.into_inner())
    }
}

/// Where a watch stands between two events.
struct Watch {
    client: Client,
    workspace: String,
    position: Position,
    /// The open server stream and the node serving it.
    open: Option<(Streaming<TaskEvent>, usize)>,
    /// Time spent reconnecting since the last delivered event, bounded by
    /// `ClientOptions::resume_timeout`. Time connected, waiting for events, is not counted:
    /// a task may rightly be quiet for a long time.
    reconnecting: Duration,
    /// Breaks and failed attempts to reopen since the last delivered event; sets the
    /// backoff before the next attempt.
    failures: u32,
    /// The most recent of those failures, for the error when reconnecting gives up.
    last_failure: String,
}

/// See `Client::watch_task`.
pub(crate) fn task(
    client: Client,
    workspace: String,
    task_id: String,
    from_seq: u64,
) -> impl Stream<Item = Result<TaskEvent, Error>> + Send + 'static {
    let position = Position::Task {
        task_id,
        next_seq: from_seq,
    };
    resumable(client, workspace, position)
}

/// See `Client::watch_workspace`.
pub(crate) fn workspace(
    client: Client,
    workspace: String,
    from_index: u64,
) -> impl Stream<Item = Result<TaskEvent, Error>> + Send + 'static {
    let position = Position::Workspace {
        from_index,
        last: None,
    };
    resumable(client, workspace, position)
}

fn resumable(
    client: Client,
    workspace: String,
    position: Position,
) -> impl Stream<Item = Result<TaskEvent, Error>> + Send + 'static {
    let watch = Watch {
        client,
        workspace,
        position,
        open: None,
        reconnecting: Duration::ZERO,
        failures: 0,
        last_failure: String::new(),
    };
    futures::stream::unfold(Some(watch), |watch| async move {
        let mut watch = watch?;
        match watch.next().await {
            Some(Ok(event)) => {
                // Nothing follows the event that ends a watched task; do not wait for the
                // server to close the stream.
                let more = (!watch.position.ends_with(&event)).then_some(watch);
                Some((Ok(event), more))
            }
            // After an error the stream ends: the caller decides whether to start over.
            Some(Err(error)) => Some((Err(error), None)),
            None => None,
        }
    })
}

/// Whether `event` makes its task terminal.
pub(crate) fn ends_task(event: &TaskEvent) -> bool {
    TERMINAL_KINDS.contains(&event.kind.as_str()) || is_terminal(event.status())
}

fn is_terminal(status: TaskStatus) -> bool {
    matches!(
        status,
        TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled | TaskStatus::TimedOut
    )
}

impl Watch {
    /// The next event in order; `None` when the server closed a task watch because the
    /// task had ended.
    async fn next(&mut self) -> Option<Result<TaskEvent, Error>> {
        loop {
            let (mut stream, node) = match self.open.take() {
                Some(open) => open,
                None => match self.reopen().await {
                    Ok(open) => open,
                    Err(error) => return Some(Err(error)),
                },
            };
            match stream.message().await {
                Ok(Some(event)) => match self.position.judge(&event) {
                    Verdict::Skip => self.open = Some((stream, node)),
                    Verdict::Gap { expected, received } => {
                        return Some(Err(Error::JournalGap { expected, received }));
                    }
                    Verdict::Deliver => {
                        self.position.delivered(&event);
                        self.reconnecting = Duration::ZERO;
                        self.failures = 0;
                        self.open = Some((stream, node));
                        return Some(Ok(event));
                    }
                },
                Ok(None) => {
                    // The server closes a task watch after the terminal event (which has
                    // ended this stream already) or at once when the task had ended before
                    // the position. Any other close, and every close of a workspace watch,
                    // is a break.
                    match self.task_ended().await {
                        Ok(true) => return None,
                        Ok(false) => {
                            let uri = self.client.endpoints().uri(node).to_owned();
                            self.broke(node, format!("{uri}: the stream ended early"));
                        }
                        Err(error) => return Some(Err(error)),
                    }
                }
                Err(status) if is_unavailable(&status) => {
                    let failure = describe(self.client.endpoints().uri(node), &status);
                    self.broke(node, failure);
                }
                Err(status) => return Some(Err(Error::Status(status))),
            }
        }
    }

    /// Records a broken stream, so the next attempt goes to another node after a pause.
    fn broke(&mut self, node: usize, failure: String) {
        self.client.endpoints().mark_failed(node);
        self.failures += 1;
        self.last_failure = failure;
    }

    /// Opens a server stream from the position, trying the nodes in turn with backoff
    /// until one accepts or the reconnecting budget is spent.
    async fn reopen(&mut self) -> Result<(Streaming<TaskEvent>, usize), Error> {
        let policy = *self.client.policy();
        loop {
            let started = Instant::now();
            if self.failures > 0 {
                let remaining = policy.resume_timeout.saturating_sub(self.reconnecting);
                if remaining.is_zero() {
                    return Err(Error::Unavailable {
                        attempts: self.failures,
                        last: self.last_failure.clone(),
                    });
                }
                tokio::time::sleep(policy.backoff(self.failures).min(remaining)).await;
            }
            let endpoints = self.client.endpoints();
            let node = endpoints.current();
            let opened = self
                .position
                .open(&self.client, endpoints.channel(node), &self.workspace)
                .await;
            self.reconnecting += started.elapsed();
            match opened {
                Ok(stream) => {
                    endpoints.mark_ok(node);
                    return Ok((stream, node));
                }
                Err(status) if is_unavailable(&status) => {
                    let failure = describe(endpoints.uri(node), &status);
                    self.broke(node, failure);
                }
                Err(status) => return Err(Error::Status(status)),
            }
        }
    }

    /// For a task watch, whether the task is terminal with no event at or after the
    /// position, so that nothing more will come. A workspace watch never ends.
    async fn task_ended(&self) -> Result<bool, Error> {
        let Position::Task { task_id, next_seq } = &self.position else {
            return Ok(false);
        };
        let task = self
            .client
            .get_task(
                self.workspace.clone(),
                task_id.clone(),
                Consistency::Linearizable,
            )
            .await?
            .task
            .unwrap_or_default();
        Ok(is_terminal(task.status()) && *next_seq >= task.journal_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, status: TaskStatus) -> TaskEvent {
        TaskEvent {
            kind: kind.to_owned(),
            status: status as i32,
            ..TaskEvent::default()
        }
    }

    fn at(log_index: u64, task_id: &str, seq: u64) -> TaskEvent {
        TaskEvent {
            log_index,
            task_id: task_id.to_owned(),
            seq,
            ..TaskEvent::default()
        }
    }

    #[test]
    fn terminal_events_are_known_by_kind_or_status() {
        for kind in TERMINAL_KINDS {
            assert!(ends_task(&event(kind, TaskStatus::Unspecified)), "{kind}");
        }
        assert!(ends_task(&event("new_kind", TaskStatus::TimedOut)));
        for (kind, status) in [
            ("submitted", TaskStatus::Pending),
            ("assigned", TaskStatus::Running),
            ("needs_attention", TaskStatus::NeedsAttention),
            ("model_responded", TaskStatus::Unspecified),
            ("task_stalled", TaskStatus::Unspecified),
        ] {
            assert!(!ends_task(&event(kind, status)), "{kind}");
        }
        let workspace = Position::Workspace {
            from_index: 0,
            last: None,
        };
        assert!(!workspace.ends_with(&event("completed", TaskStatus::Completed)));
    }

    #[test]
    fn a_workspace_position_skips_up_to_the_last_event_delivered() {
        let mut position = Position::Workspace {
            from_index: 0,
            last: None,
        };
        position.delivered(&at(7, "01B", 3));
        for (event, deliver) in [
            (at(6, "01C", 0), false),
            (at(7, "01A", 9), false),
            (at(7, "01B", 3), false),
            (at(7, "01B", 4), true),
            (at(7, "01C", 0), true),
            (at(8, "01A", 0), true),
        ] {
            let verdict = position.judge(&event);
            assert_eq!(
                matches!(verdict, Verdict::Deliver),
                deliver,
                "{} {} {}",
                event.log_index,
                event.task_id,
                event.seq
            );
        }
        let Position::Workspace { from_index, .. } = position else {
            unreachable!("a workspace position")
        };
        assert_eq!(from_index, 7, "reopens at the last event's log index");
    }

    #[test]
    fn a_task_position_skips_repeats_and_reports_gaps() {
        let position = Position::Task {
            task_id: "01A".into(),
            next_seq: 4,
        };
        assert!(matches!(position.judge(&at(1, "01A", 3)), Verdict::Skip));
        assert!(matches!(position.judge(&at(1, "01A", 4)), Verdict::Deliver));
        assert!(matches!(
            position.judge(&at(1, "01A", 6)),
            Verdict::Gap {
                expected: 4,
                received: 6
            }
        ));
    }
}
