//! The task and workspace watches' positions for the resume loop (`resume.rs`): a broken
//! watch reopens on the next node from just after the last event delivered.

use std::cmp::Ordering;
use std::future::Future;

use futures::Stream;
use tonic::Streaming;
use tonic::transport::Channel;
use warden_proto::v1::task_service_client::TaskServiceClient;
use warden_proto::v1::{TaskEvent, TaskStatus, WatchTaskRequest, WatchWorkspaceRequest};

use crate::resume::{self, Verdict};
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

impl Position {
    fn judge(&self, event: &TaskEvent) -> Verdict {
        match self {
            Position::Task { next_seq, .. } => match event.seq.cmp(next_seq) {
                Ordering::Less => Verdict::Skip,
                Ordering::Equal => Verdict::Deliver,
                Ordering::Greater => Verdict::Gap(Error::JournalGap {
                    expected: *next_seq,
                    received: event.seq,
                }),
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
}

/// A watch of one workspace's tasks.
struct Watch {
    workspace: String,
    position: Position,
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
    resume::resumable(
        client,
        Watch {
            workspace,
            position,
        },
    )
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
    resume::resumable(
        client,
        Watch {
            workspace,
            position,
        },
    )
}

impl resume::Position for Watch {
    type Item = TaskEvent;

    fn judge(&self, event: &TaskEvent) -> Verdict {
        self.position.judge(event)
    }

    fn delivered(&mut self, event: &TaskEvent) {
        self.position.delivered(event);
    }

    /// Nothing follows the event that ends a watched task; the stream does not wait for
    /// the server to close it.
    fn ends_with(&self, event: &TaskEvent) -> bool {
        self.position.ends_with(event)
    }

    fn open(
        &self,
        client: &Client,
        channel: Channel,
    ) -> impl Future<Output = Result<Streaming<TaskEvent>, tonic::Status>> + Send {
        enum Request {
            Task(tonic::Request<WatchTaskRequest>),
            Workspace(tonic::Request<WatchWorkspaceRequest>),
        }
        let mut service = TaskServiceClient::new(channel);
        let request = match &self.position {
            Position::Task { task_id, next_seq } => {
                Request::Task(client.authorized(WatchTaskRequest {
                    workspace: self.workspace.clone(),
                    task_id: task_id.clone(),
                    from_seq: *next_seq,
                }))
            }
            Position::Workspace { from_index, .. } => {
                Request::Workspace(client.authorized(WatchWorkspaceRequest {
                    workspace: self.workspace.clone(),
                    from_index: *from_index,
                }))
            }
        };
        async move {
            let response = match request {
                Request::Task(request) => service.watch_task(request).await?,
                Request::Workspace(request) => service.watch_workspace(request).await?,
            };
            Ok(response.into_inner())
        }
    }

    /// The server closes a task watch after the terminal event (which has ended the
    /// stream already) or at once when the task had ended before the position. Any other
    /// close, and every close of a workspace watch, is a break.
    async fn closed_at_end(&self, client: &Client) -> Result<bool, Error> {
        let Position::Task { task_id, next_seq } = &self.position else {
            return Ok(false);
        };
        let task = client
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
            Verdict::Gap(Error::JournalGap {
                expected: 4,
                received: 6
            })
        ));
    }
}
