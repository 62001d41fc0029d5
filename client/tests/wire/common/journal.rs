//! A `TaskService` double that serves one task's journal: `WatchTask` streams that break,
//! stall, resend, skip or stay quiet as a test asks, `GetJournal` pages, and `GetTask`;
//! and a workspace of two such tasks for `WatchWorkspace`.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use tonic::transport::Server;
use tonic::{Request, Response, Status};
use warden_client::proto::task_service_server::{TaskService, TaskServiceServer};
use warden_client::proto::{
    CancelTaskRequest, CancelTaskResponse, GetJournalRequest, GetJournalResponse, GetTaskRequest,
    GetTaskResponse, ListTasksRequest, ListTasksResponse, ResolveTaskRequest, ResolveTaskResponse,
    SubmitTaskRequest, SubmitTaskResponse, Task, TaskEvent, TaskStatus, WaitTaskRequest,
    WaitTaskResponse, WatchTaskRequest, WatchWorkspaceRequest,
};

use super::{TestServer, serve};

/// How the double serves `WatchTask`. The first stream is the one a watch opens; later
/// ones are its resumptions.
#[derive(Debug, Clone, Copy, Default)]
pub struct WatchBehavior {
    /// The first stream breaks with UNAVAILABLE after this many events.
    pub break_first_after: Option<usize>,
    /// The first stream stops sending after this many events but stays open, for a test
    /// that cuts the connection under it.
    pub stall_first_after: Option<usize>,
    /// Every stream starts at sequence number 0 whatever `from_seq` says.
    pub ignore_from_seq: bool,
    /// Later streams leave out this many events after `from_seq` (a server that lost
    /// some).
    pub skip_on_resume: u64,
    /// Later streams are refused with UNAVAILABLE.
    pub refuse_resumes: bool,
    /// Every stream waits this long before its first event, like a quiet task.
    pub quiet_for: Duration,
    /// Streams stay open after the terminal event instead of ending.
    pub hold_open_at_end: bool,
}

/// Serves task `task_id`, whose journal has events 0..`total`; the last one completes it.
#[derive(Clone)]
pub struct JournalDouble {
    task_id: String,
    total: u64,
    behavior: WatchBehavior,
    from_seqs: Arc<Mutex<Vec<u64>>>,
    from_indexes: Arc<Mutex<Vec<u64>>>,
}

/// Event `seq` of a journal of `total` events: submitted, model turns, completed.
pub fn journal_event(task_id: &str, seq: u64, total: u64) -> TaskEvent {
    let (kind, detail_json, status) = if seq == 0 {
        (
            "submitted",
            r#"{"agent":"bot"}"#.to_owned(),
            TaskStatus::Pending,
        )
    } else if seq + 1 == total {
        (
            "completed",
            r#"{"result":"done"}"#.to_owned(),
            TaskStatus::Completed,
        )
    } else {
        (
            "model_responded",
            format!(r#"{{"turn":{seq},"content":"step {seq}"}}"#),
            TaskStatus::Unspecified,
        )
    };
    TaskEvent {
        task_id: task_id.to_owned(),
        seq,
        log_index: 100 + seq,
        time_ms: 1_740_830_400_000 + seq,
        epoch: 1,
        kind: kind.to_owned(),
        detail_json,
        status: status as i32,
    }
}

impl JournalDouble {
    pub fn new(task_id: &str, total: u64, behavior: WatchBehavior) -> Self {
        JournalDouble {
            task_id: task_id.to_owned(),
            total,
            behavior,
            from_seqs: Arc::default(),
            from_indexes: Arc::default(),
        }
    }

    /// The second task of the workspace, whose events share their log indexes with the
    /// first task's and come after them.
    pub fn other_task_id(&self) -> String {
        format!("{}Z", self.task_id)
    }

    /// The workspace's events in log order: at log index 100 + i, event i of the task,
    /// then event i of the other task.
    pub fn workspace_events(&self) -> Vec<TaskEvent> {
        let other = self.other_task_id();
        (0..self.total)
            .flat_map(|seq| {
                [
                    journal_event(&self.task_id, seq, self.total),
                    journal_event(&other, seq, self.total),
                ]
            })
            .collect()
    }

    /// The `from_index` of every `WatchWorkspace` received, in order.
    pub fn requested_from_indexes(&self) -> Vec<u64> {
        self.from_indexes.lock().expect("lock").clone()
    }

    /// The `from_seq` of every `WatchTask` received, in order.
    pub fn requested_from_seqs(&self) -> Vec<u64> {
        self.from_seqs.lock().expect("lock").clone()
    }

    pub async fn serve(&self) -> TestServer {
        serve(Server::builder().add_service(TaskServiceServer::new(self.clone()))).await
    }

    fn check_task(&self, task_id: &str) -> Result<(), Status> {
        if task_id == self.task_id {
            Ok(())
        } else {
            Err(Status::not_found(format!("task {task_id} not found")))
        }
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<TaskEvent, Status>> + Send>>;

fn unimplemented<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not part of this double"))
}

#[tonic::async_trait]
impl TaskService for JournalDouble {
    async fn submit_task(
        &self,
        _request: Request<SubmitTaskRequest>,
    ) -> Result<Response<SubmitTaskResponse>, Status> {
        unimplemented()
    }

    async fn get_task(
        &self,
        request: Request<GetTaskRequest>,
    ) -> Result<Response<GetTaskResponse>, Status> {
        let request = request.into_inner();
        self.check_task(&request.task_id)?;
        Ok(Response::new(GetTaskResponse {
            task: Some(Task {
                id: self.task_id.clone(),
                workspace: request.workspace,
                status: TaskStatus::Completed as i32,
                journal_len: self.total,
                ..Task::default()
            }),
        }))
    }

    async fn list_tasks(
        &self,
        _request: Request<ListTasksRequest>,
    ) -> Result<Response<ListTasksResponse>, Status> {
        unimplemented()
    }

    async fn cancel_task(
        &self,
        _request: Request<CancelTaskRequest>,
    ) -> Result<Response<CancelTaskResponse>, Status> {
        unimplemented()
    }

    async fn resolve_task(
        &self,
        _request: Request<ResolveTaskRequest>,
    ) -> Result<Response<ResolveTaskResponse>, Status> {
        unimplemented()
    }

    async fn answer_question(
        &self,
        _request: Request<warden_client::proto::AnswerQuestionRequest>,
    ) -> Result<Response<warden_client::proto::AnswerQuestionResponse>, Status> {
        unimplemented()
    }

    async fn wait_task(
        &self,
        _request: Request<WaitTaskRequest>,
    ) -> Result<Response<WaitTaskResponse>, Status> {
        unimplemented()
    }

    async fn get_journal(
        &self,
        request: Request<GetJournalRequest>,
    ) -> Result<Response<GetJournalResponse>, Status> {
        let request = request.into_inner();
        self.check_task(&request.task_id)?;
        let limit = if request.limit == 0 {
            1000
        } else {
            request.limit
        };
        let end = self
            .total
            .min(request.from_seq.saturating_add(u64::from(limit)));
        Ok(Response::new(GetJournalResponse {
            events: (request.from_seq..end)
                .map(|seq| journal_event(&self.task_id, seq, self.total))
                .collect(),
        }))
    }

    type WatchTaskStream = EventStream;

    async fn watch_task(
        &self,
        request: Request<WatchTaskRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let request = request.into_inner();
        let first = {
            let mut from_seqs = self.from_seqs.lock().expect("lock");
            from_seqs.push(request.from_seq);
            from_seqs.len() == 1
        };
        self.check_task(&request.task_id)?;
        let behavior = self.behavior;
        if !first && behavior.refuse_resumes {
            return Err(Status::unavailable("node is shutting down"));
        }
        let start = if behavior.ignore_from_seq {
            0
        } else if first {
            request.from_seq
        } else {
            request.from_seq + behavior.skip_on_resume
        };
        let mut items: Vec<Result<TaskEvent, Status>> = (start..self.total)
            .map(|seq| Ok(journal_event(&self.task_id, seq, self.total)))
            .collect();
        let mut stay_open = behavior.hold_open_at_end;
        if first && let Some(limit) = behavior.break_first_after {
            items.truncate(limit);
            items.push(Err(Status::unavailable("node is shutting down")));
            stay_open = false;
        }
        if first && let Some(limit) = behavior.stall_first_after {
            items.truncate(limit);
            stay_open = true;
        }
        let quiet = behavior.quiet_for;
        let delay = futures::stream::once(tokio::time::sleep(quiet))
            .filter_map(|()| async { None::<Result<TaskEvent, Status>> });
        let tail: EventStream = if stay_open {
            Box::pin(futures::stream::pending())
        } else {
            Box::pin(futures::stream::empty())
        };
        Ok(Response::new(Box::pin(
            delay.chain(futures::stream::iter(items)).chain(tail),
        )))
    }

    type WatchWorkspaceStream = EventStream;

    /// From `from_index` on; resent from the start of that index, as the server does. The
    /// first stream breaks as `break_first_after` says; otherwise streams never end.
    async fn watch_workspace(
        &self,
        request: Request<WatchWorkspaceRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let from_index = request.into_inner().from_index;
        let first = {
            let mut from_indexes = self.from_indexes.lock().expect("lock");
            from_indexes.push(from_index);
            from_indexes.len() == 1
        };
        let mut items: Vec<Result<TaskEvent, Status>> = self
            .workspace_events()
            .into_iter()
            .filter(|event| event.log_index >= from_index)
            .map(Ok)
            .collect();
        let mut tail: EventStream = Box::pin(futures::stream::pending());
        if first && let Some(limit) = self.behavior.break_first_after {
            items.truncate(limit);
            tail = Box::pin(futures::stream::once(async {
                Err(Status::unavailable("node is shutting down"))
            }));
        }
        Ok(Response::new(Box::pin(
            futures::stream::iter(items).chain(tail),
        )))
    }
}
