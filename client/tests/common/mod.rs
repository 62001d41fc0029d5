//! Test doubles of Warden's gRPC services, served in-process on 127.0.0.1:0, and client
//! options that retry without noticeable pauses.
#![allow(dead_code)] // Each test binary uses a different subset.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::Stream;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Server;
use tonic::transport::server::Router;
use tonic::{Request, Response, Status};
use warden_client::ClientOptions;
use warden_client::proto::audit_service_server::{AuditService, AuditServiceServer};
use warden_client::proto::task_service_server::{TaskService, TaskServiceServer};
use warden_client::proto::{
    AuditRecord, ExportAuditRequest, GetTaskRequest, GetTaskResponse, ListTasksRequest,
    ListTasksResponse, SubmitTaskRequest, SubmitTaskResponse, TailAuditRequest, TailAuditResponse,
    Task, TaskStatus, VerifyAuditRequest, VerifyAuditResponse,
};

/// Options for tests: several attempts, millisecond backoff.
pub fn fast_options(max_attempts: u32) -> ClientOptions {
    ClientOptions {
        request_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(1),
        max_attempts,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
    }
}

/// A server running on its own port; stopped when dropped.
pub struct TestServer {
    pub address: String,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on a fresh port. The listener is bound before this returns, so
/// clients can connect at once (the kernel queues connections until accepted).
pub async fn serve(router: Router) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let address = listener.local_addr().expect("local address").to_string();
    let task = tokio::spawn(async move {
        router
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .expect("test server failed");
    });
    TestServer { address, task }
}

/// An address where nothing listens: connecting is refused.
pub async fn dead_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").to_string()
    // The listener is dropped here, closing the port.
}

/// How the `TaskService` double answers `SubmitTask`.
#[derive(Debug, Clone, Copy)]
pub enum SubmitReply {
    Unavailable,
    NotFound,
    Accept,
}

/// A `TaskService` that records the idempotency key of every `SubmitTask` it receives.
#[derive(Clone)]
pub struct TaskServiceDouble {
    reply: SubmitReply,
    keys: Arc<Mutex<Vec<String>>>,
}

impl TaskServiceDouble {
    pub fn new(reply: SubmitReply) -> Self {
        TaskServiceDouble {
            reply,
            keys: Arc::default(),
        }
    }

    /// The keys received, one per call.
    pub fn keys(&self) -> Vec<String> {
        self.keys.lock().expect("lock").clone()
    }

    pub fn calls(&self) -> usize {
        self.keys.lock().expect("lock").len()
    }

    pub async fn serve(&self) -> TestServer {
        serve(Server::builder().add_service(TaskServiceServer::new(self.clone()))).await
    }
}

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
        match self.reply {
            SubmitReply::Unavailable => Err(Status::unavailable("no leader")),
            SubmitReply::NotFound => Err(Status::not_found("workspace does not exist")),
            SubmitReply::Accept => Ok(Response::new(SubmitTaskResponse {
                task: Some(Task {
                    id: "task-1".into(),
                    workspace: request.workspace,
                    idempotency_key: request.idempotency_key,
                    input: request.input,
                    status: TaskStatus::Pending as i32,
                    ..Task::default()
                }),
                deduplicated: false,
            })),
        }
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
}

/// How the `AuditService` double serves `ExportAudit`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportBehavior {
    /// Break every stream with UNAVAILABLE after this many records (if more remain).
    pub break_after: Option<usize>,
    /// Start every stream at record 1 whatever `from_index` says.
    pub ignore_from_index: bool,
    /// Skip this many records after `from_index` (a server that lost records).
    pub skip: u64,
}

/// An `AuditService` over records 1..=`total`, recording each export's `from_index`.
#[derive(Clone)]
pub struct AuditServiceDouble {
    total: u64,
    export: ExportBehavior,
    verify: VerifyAuditResponse,
    from_indexes: Arc<Mutex<Vec<u64>>>,
}

impl AuditServiceDouble {
    pub fn new(total: u64, export: ExportBehavior) -> Self {
        AuditServiceDouble {
            total,
            export,
            verify: VerifyAuditResponse::default(),
            from_indexes: Arc::default(),
        }
    }

    /// Answers `VerifyAudit` with `report`.
    pub fn with_verify(mut self, report: VerifyAuditResponse) -> Self {
        self.verify = report;
        self
    }

    /// The `from_index` of every export request received, in order.
    pub fn requested_from_indexes(&self) -> Vec<u64> {
        self.from_indexes.lock().expect("lock").clone()
    }

    pub async fn serve(&self) -> TestServer {
        serve(Server::builder().add_service(AuditServiceServer::new(self.clone()))).await
    }
}

/// Record `index` of the double's chain, with made-up but well-formed hashes.
pub fn record(index: u64) -> AuditRecord {
    AuditRecord {
        index,
        log_index: index + 10,
        time_ms: 1_700_000_000_000 + index,
        principal: "tester".into(),
        action: "SubmitTask".into(),
        resource: format!("workspaces/default/tasks/{index}"),
        outcome: "accepted".into(),
        detail: String::new(),
        payload_hash: format!("{index:064x}"),
        prev_hash: format!("{:064x}", index - 1),
        hash: format!("{:064x}", index),
    }
}

type RecordStream = Pin<Box<dyn Stream<Item = Result<AuditRecord, Status>> + Send>>;

#[tonic::async_trait]
impl AuditService for AuditServiceDouble {
    async fn tail_audit(
        &self,
        _request: Request<TailAuditRequest>,
    ) -> Result<Response<TailAuditResponse>, Status> {
        Err(Status::unimplemented("not part of this double"))
    }

    async fn verify_audit(
        &self,
        _request: Request<VerifyAuditRequest>,
    ) -> Result<Response<VerifyAuditResponse>, Status> {
        Ok(Response::new(self.verify.clone()))
    }

    type ExportAuditStream = RecordStream;

    async fn export_audit(
        &self,
        request: Request<ExportAuditRequest>,
    ) -> Result<Response<RecordStream>, Status> {
        let from_index = request.into_inner().from_index;
        self.from_indexes.lock().expect("lock").push(from_index);
        let first = if self.export.ignore_from_index {
            1
        } else {
            from_index.max(1) + self.export.skip
        };
        let mut items: Vec<Result<AuditRecord, Status>> = (first..=self.total)
            .map(|index| Ok(record(index)))
            .collect();
        if let Some(limit) = self.export.break_after
            && items.len() > limit
        {
            items.truncate(limit);
            items.push(Err(Status::unavailable("node is shutting down")));
        }
        Ok(Response::new(Box::pin(futures::stream::iter(items))))
    }
}
