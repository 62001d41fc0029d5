//! A `TaskService` double for the unary task calls: one reply for every write, recorded
//! idempotency keys and calls, and a `WaitTask` that settles or waits out its timeout.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::Stream;
use tonic::transport::Server;
use tonic::{Request, Response, Status};
use warden_client::proto::task_service_server::{TaskService, TaskServiceServer};
use warden_client::proto::{
    AnswerQuestionRequest, AnswerQuestionResponse, CancelTaskRequest, CancelTaskResponse,
    GetJournalRequest, GetJournalResponse, GetTaskRequest, GetTaskResponse, ListTasksRequest,
    ListTasksResponse, ResolveTaskRequest, ResolveTaskResponse, SubmitTaskRequest,
    SubmitTaskResponse, Task, TaskEvent, TaskStatus, WaitTaskRequest, WaitTaskResponse,
    WatchTaskRequest, WatchWorkspaceRequest,
};

use super::{TestServer, serve};

/// How the `TaskService` double answers `SubmitTask`, `CancelTask` and `ResolveTask`.
#[derive(Debug, Clone, Copy)]
pub enum SubmitReply {
    Unavailable,
    NotFound,
    Accept,
    /// Never answers, like a node that dies before replying.
    Hang,
}

/// A `TaskService` that records every write it receives.
#[derive(Clone)]
pub struct TaskServiceDouble {
    reply: SubmitReply,
    /// Whether `WaitTask` answers settled at once; otherwise it waits out the timeout.
    wait_settles: bool,
    keys: Arc<Mutex<Vec<String>>>,
    calls: Arc<Mutex<Vec<&'static str>>>,
    wait_timeouts_ms: Arc<Mutex<Vec<u64>>>,
}

impl TaskServiceDouble {
    pub fn new(reply: SubmitReply) -> Self {
        TaskServiceDouble {
            reply,
            wait_settles: false,
            keys: Arc::default(),
            calls: Arc::default(),
            wait_timeouts_ms: Arc::default(),
        }
    }

    /// Makes `WaitTask` answer at once with a completed task.
    pub fn settling(mut self) -> Self {
        self.wait_settles = true;
        self
    }

    /// The idempotency keys of the `SubmitTask` calls received, one per call.
    pub fn keys(&self) -> Vec<String> {
        self.keys.lock().expect("lock").clone()
    }

    /// How many `SubmitTask` calls were received.
    pub fn calls(&self) -> usize {
        self.keys.lock().expect("lock").len()
    }

    /// How many calls of `method` (e.g. "CancelTask") were received.
    pub fn calls_to(&self, method: &str) -> usize {
        let calls = self.calls.lock().expect("lock");
        calls.iter().filter(|name| **name == method).count()
    }

    /// The `timeout_ms` of every `WaitTask` received, in order.
    pub fn wait_timeouts_ms(&self) -> Vec<u64> {
        self.wait_timeouts_ms.lock().expect("lock").clone()
    }

    pub async fn serve(&self) -> TestServer {
        serve(Server::builder().add_service(TaskServiceServer::new(self.clone()))).await
    }

    /// Records the call, then answers as configured with `task` on acceptance.
    async fn write<T>(
        &self,
        method: &'static str,
        task: Task,
        answer: fn(Task) -> T,
    ) -> Result<Response<T>, Status> {
        self.calls.lock().expect("lock").push(method);
        match self.reply {
            SubmitReply::Unavailable => Err(Status::unavailable("no leader")),
            SubmitReply::NotFound => Err(Status::not_found("workspace does not exist")),
            SubmitReply::Accept => Ok(Response::new(answer(task))),
            SubmitReply::Hang => std::future::pending().await,
        }
    }
}

fn task(id: &str, workspace: String, status: TaskStatus) -> Task {
    Task {
        id: id.to_owned(),
        workspace,
        status: status as i32,
        ..Task::default()
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<TaskEvent, Status>> + Send>>;

#[tonic::async_trait]
impl TaskService for TaskServiceDouble {
    async fn submit_task(
        &self,
        request: Request<SubmitTaskRequest>,
    ) -> Result<Response<SubmitTaskResponse>, Status> {
        let request = request.into_inner();
        self.keys
            .lock()
            .expect("lock")
            .push(request.idempotency_key.clone());
        let submitted = Task {
            idempotency_key: request.idempotency_key,
            input: request.input,
            agent: request.agent,
            ..task("task-1", request.workspace, TaskStatus::Pending)
        };
        self.write("SubmitTask", submitted, |task| SubmitTaskResponse {
            task: Some(task),
            deduplicated: false,
        })
        .await
    }

    async fn get_task(
        &self,
        _request: Request<GetTaskRequest>,
    ) -> Result<Response<GetTaskResponse>, Status> {
        Err(Status::unimplemented("not part of this double"))
    }

    async fn list_tasks(
        &self,
        _request: Request<ListTasksRequest>,
    ) -> Result<Response<ListTasksResponse>, Status> {
        Err(Status::unimplemented("not part of this double"))
    }

    async fn cancel_task(
        &self,
        request: Request<CancelTaskRequest>,
    ) -> Result<Response<CancelTaskResponse>, Status> {
        let request = request.into_inner();
        let cancelled = Task {
            reason: request.reason,
            ..task(&request.task_id, request.workspace, TaskStatus::Cancelled)
        };
        self.write("CancelTask", cancelled, |task| CancelTaskResponse {
            task: Some(task),
        })
        .await
    }

    async fn resolve_task(
        &self,
        request: Request<ResolveTaskRequest>,
    ) -> Result<Response<ResolveTaskResponse>, Status> {
        let request = request.into_inner();
        let resolved = task(&request.task_id, request.workspace, TaskStatus::Running);
        self.write("ResolveTask", resolved, |task| ResolveTaskResponse {
            task: Some(task),
        })
        .await
    }

    async fn answer_question(
        &self,
        request: Request<AnswerQuestionRequest>,
    ) -> Result<Response<AnswerQuestionResponse>, Status> {
        let request = request.into_inner();
        let answered = task(&request.task_id, request.workspace, TaskStatus::Running);
        self.write("AnswerQuestion", answered, |task| AnswerQuestionResponse {
            task: Some(task),
        })
        .await
    }

    async fn wait_task(
        &self,
        request: Request<WaitTaskRequest>,
    ) -> Result<Response<WaitTaskResponse>, Status> {
        let request = request.into_inner();
        self.wait_timeouts_ms
            .lock()
            .expect("lock")
            .push(request.timeout_ms);
        if self.wait_settles {
            return Ok(Response::new(WaitTaskResponse {
                task: Some(task(
                    &request.task_id,
                    request.workspace,
                    TaskStatus::Completed,
                )),
                settled: true,
            }));
        }
        // The task stays running: the server waits out the whole timeout.
        tokio::time::sleep(Duration::from_millis(request.timeout_ms)).await;
        Ok(Response::new(WaitTaskResponse {
            task: Some(task(
                &request.task_id,
                request.workspace,
                TaskStatus::Running,
            )),
            settled: false,
        }))
    }

    async fn get_journal(
        &self,
        _request: Request<GetJournalRequest>,
    ) -> Result<Response<GetJournalResponse>, Status> {
        Err(Status::unimplemented("not part of this double"))
    }

    type WatchTaskStream = EventStream;

    async fn watch_task(
        &self,
        _request: Request<WatchTaskRequest>,
    ) -> Result<Response<EventStream>, Status> {
        Err(Status::unimplemented("not part of this double"))
    }

    type WatchWorkspaceStream = EventStream;

    async fn watch_workspace(
        &self,
        _request: Request<WatchWorkspaceRequest>,
    ) -> Result<Response<EventStream>, Status> {
        Err(Status::unimplemented("not part of this double"))
    }
}
