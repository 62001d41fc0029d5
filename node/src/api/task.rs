//! `warden.v1.TaskService`: submission, lookup, listing, cancel, a human's resolution,
//! waiting, and the journal (paged and streamed).

use prost::Message;
use tonic::{Request, Response, Status};
use warden_core::builtin::MAX_ANSWER_BYTES;
use warden_core::{
    Action, AgentName, Code, Command, IdempotencyKey, Outcome, Permission, Rejection, Resolution,
    TaskId, WorkspaceId,
};
use warden_proto::v1::resolve_task_request::Decision;
use warden_proto::v1::task_service_server::TaskService;
use warden_proto::v1::{
    AnswerQuestionRequest, AnswerQuestionResponse, CancelTaskRequest, CancelTaskResponse,
    DecideApprovalRequest, GetJournalRequest, GetJournalResponse, GetTaskRequest, GetTaskResponse,
    ListTasksRequest, ListTasksResponse, ResolveTaskRequest, ResolveTaskResponse,
    SubmitTaskRequest, SubmitTaskResponse, WaitTaskRequest, WaitTaskResponse, WatchTaskRequest,
    WatchWorkspaceRequest,
};

use super::{Payload, Refused, now_ms, propose, recorded, unexpected};
use crate::auth::{Access, Caller};
use crate::cluster::{Cluster, Consistency};
use crate::convert;
use crate::error::Error;

pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 1000;

pub struct Tasks {
    cluster: Cluster,
}

impl Tasks {
    pub fn new(cluster: Cluster) -> Tasks {
        Tasks { cluster }
    }

    /// Validates a submission; the proposer picks the task id here.
    fn parse_submit(&self, request: &SubmitTaskRequest) -> Result<Command, Refused> {
        let refuse = |code, message: String| Refused {
            action: Action::TaskSubmit,
            resource: format!("workspace/{}/task", convert::sanitized(&request.workspace)),
            payload: Payload::of(request),
            rejection: Rejection::new(code, message),
        };
        let workspace = WorkspaceId::parse(&request.workspace)
            .map_err(|error| refuse(Code::InvalidArgument, error.to_string()))?;
        let idempotency_key = IdempotencyKey::parse(&request.idempotency_key)
            .map_err(|error| refuse(Code::InvalidArgument, error.to_string()))?;
        let agent = AgentName::parse(&request.agent)
            .map_err(|error| refuse(Code::InvalidArgument, error.to_string()))?;
        let limit = self.cluster.limits().max_task_input_bytes;
        if request.input.len() > limit {
            return Err(refuse(
                Code::ResourceExhausted,
                format!(
                    "input is {} bytes, over the limit of {limit}",
                    request.input.len()
                ),
            ));
        }
        let task_id = TaskId::new(now_ms(), rand::random::<u128>());
        Ok(Command::SubmitTask {
            workspace,
            task_id,
            idempotency_key,
            agent,
            input: request.input.clone(),
        })
    }

    /// The caller's standing to read `workspace`, checked after a linearizable barrier.
    async fn read_access(&self, caller: Caller, workspace: &WorkspaceId) -> Result<Access, Error> {
        Access::open(
            &self.cluster,
            caller,
            Some(workspace.clone()),
            Permission::Read,
            Consistency::Linearizable,
        )
        .await
    }

    /// Proposes a lifecycle command for an existing task and returns the task after it;
    /// a request that does not parse is recorded as a refusal of `action`.
    async fn change(
        &self,
        caller: &Caller,
        action: Action,
        request: &(impl Message + TaskRequest),
        command: Result<Command, Error>,
    ) -> Result<warden_proto::v1::Task, Status> {
        let what = (action, request.resource(), Payload::of(request));
        let command = recorded(&self.cluster, caller, what, command).await?;
        match propose(&self.cluster, caller, Ok(command)).await? {
            Outcome::TaskUpdated { task, .. } => Ok(convert::task(&task)),
            other => Err(unexpected(&other).into()),
        }
    }
}

/// A request about one task, named in the audit record of its refusal.
pub trait TaskRequest {
    fn resource(&self) -> String;
}

macro_rules! task_request {
    ($($request:ty),*) => {$(
        impl TaskRequest for $request {
            fn resource(&self) -> String {
                format!(
                    "workspace/{}/task/{}",
                    convert::sanitized(&self.workspace),
                    convert::sanitized(&self.task_id)
                )
            }
        }
    )*};
}

task_request!(
    CancelTaskRequest,
    ResolveTaskRequest,
    DecideApprovalRequest,
    AnswerQuestionRequest
);

pub fn parse_workspace(value: &str) -> Result<WorkspaceId, Error> {
    WorkspaceId::parse(value).map_err(|error| Error::InvalidArgument {
        field: "workspace",
        message: error.to_string(),
    })
}

pub fn parse_task_id(field: &'static str, value: &str) -> Result<TaskId, Error> {
    TaskId::parse(value).map_err(|error| Error::InvalidArgument {
        field,
        message: error.to_string(),
    })
}

fn page_size(requested: u32) -> Result<usize, Error> {
    match usize::try_from(requested).unwrap_or(usize::MAX) {
        0 => Ok(DEFAULT_PAGE_SIZE),
        size if size <= MAX_PAGE_SIZE => Ok(size),
        _ => Err(Error::InvalidArgument {
            field: "page_size",
            message: format!("must be at most {MAX_PAGE_SIZE}"),
        }),
    }
}

#[tonic::async_trait]
impl TaskService for Tasks {
    async fn submit_task(
        &self,
        request: Request<SubmitTaskRequest>,
    ) -> Result<Response<SubmitTaskResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let parsed = self.parse_submit(&request);
        match propose(&self.cluster, &caller, parsed).await? {
            Outcome::TaskSubmitted { task, deduplicated } => {
                Ok(Response::new(SubmitTaskResponse {
                    task: Some(convert::task(&task)),
                    deduplicated,
                }))
            }
            other => Err(unexpected(&other).into()),
        }
    }

    async fn get_task(
        &self,
        request: Request<GetTaskRequest>,
    ) -> Result<Response<GetTaskResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let workspace = parse_workspace(&request.workspace)?;
        let task_id = parse_task_id("task_id", &request.task_id)?;
        let reader = caller
            .read_workspace(
                &self.cluster,
                &workspace,
                convert::consistency(request.consistency)?,
            )
            .await?;
        match reader.task(&workspace, &task_id).map_err(Error::from)? {
            Some(task) => {
                let links = reader
                    .task_links(&workspace, &task_id)
                    .map_err(Error::from)?;
                Ok(Response::new(GetTaskResponse {
                    task: Some(convert::task_with_links(&task, links.as_ref())),
                }))
            }
            None => Err(Error::NotFound {
                what: format!("task {task_id} in workspace {workspace}"),
            }
            .into()),
        }
    }

    async fn list_tasks(
        &self,
        request: Request<ListTasksRequest>,
    ) -> Result<Response<ListTasksResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let workspace = parse_workspace(&request.workspace)?;
        let limit = page_size(request.page_size)?;
        let after = match request.page_token.as_str() {
            "" => None,
            token => Some(parse_task_id("page_token", token)?),
        };
        let reader = caller
            .read_workspace(
                &self.cluster,
                &workspace,
                convert::consistency(request.consistency)?,
            )
            .await?;
        let wanted_status = match request.status {
            0 => None,
            value => Some(value),
        };
        let keep = |task: &warden_core::Task| {
            (!request.stalled_only || task.stalled)
                && wanted_status
                    .is_none_or(|status| i32::from(convert::task_status(task.status)) == status)
        };
        // Filters apply to the pages as read, so a filtered page may hold fewer than
        // `page_size` tasks; the token still moves on.
        let (tasks, next) = reader
            .tasks_page(&workspace, after, limit)
            .map_err(Error::from)?;
        Ok(Response::new(ListTasksResponse {
            tasks: tasks
                .iter()
                .filter(|task| keep(task))
                .map(convert::task)
                .collect(),
            next_page_token: next.map(|id| id.to_string()).unwrap_or_default(),
        }))
    }

    async fn cancel_task(
        &self,
        request: Request<CancelTaskRequest>,
    ) -> Result<Response<CancelTaskResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let command = (|| {
            Ok(Command::CancelTask {
                workspace: parse_workspace(&request.workspace)?,
                task: parse_task_id("task_id", &request.task_id)?,
                reason: request.reason.clone(),
            })
        })();
        let task = self
            .change(&caller, Action::TaskCancel, &request, command)
            .await?;
        Ok(Response::new(CancelTaskResponse { task: Some(task) }))
    }

    async fn resolve_task(
        &self,
        request: Request<ResolveTaskRequest>,
    ) -> Result<Response<ResolveTaskResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let command = (|| {
            let resolution = match &request.decision {
                Some(Decision::Retry(true)) => Resolution::Retry,
                Some(Decision::SkipWithResult(result)) => {
                    Resolution::SkipWithResult(result.clone())
                }
                Some(Decision::Fail(reason)) => Resolution::Fail(reason.clone()),
                Some(Decision::Retry(false)) | None => {
                    return Err(Error::InvalidArgument {
                        field: "decision",
                        message: "set one of retry, skip_with_result or fail".to_owned(),
                    });
                }
            };
            Ok(Command::ResolveTask {
                workspace: parse_workspace(&request.workspace)?,
                task: parse_task_id("task_id", &request.task_id)?,
                resolution,
            })
        })();
        let task = self
            .change(&caller, Action::TaskResolve, &request, command)
            .await?;
        Ok(Response::new(ResolveTaskResponse { task: Some(task) }))
    }

    async fn answer_question(
        &self,
        request: Request<AnswerQuestionRequest>,
    ) -> Result<Response<AnswerQuestionResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let command = (|| {
            if request.call_id.is_empty() {
                return Err(Error::InvalidArgument {
                    field: "call_id",
                    message: "required: the call whose question is answered".to_owned(),
                });
            }
            if request.question_seq == 0 {
                return Err(Error::InvalidArgument {
                    field: "question_seq",
                    message: "required: the question's journal sequence number (Task.question.seq)"
                        .to_owned(),
                });
            }
            if request.answer.len() > MAX_ANSWER_BYTES {
                return Err(Error::InvalidArgument {
                    field: "answer",
                    message: format!("at most {MAX_ANSWER_BYTES} bytes"),
                });
            }
            Ok(Command::AnswerQuestion {
                workspace: parse_workspace(&request.workspace)?,
                task: parse_task_id("task_id", &request.task_id)?,
                call_id: request.call_id.clone(),
                question_seq: request.question_seq,
                answer: request.answer.clone(),
            })
        })();
        let what = (
            Action::QuestionAnswer,
            request.resource(),
            Payload::of(&request),
        );
        let command = recorded(&self.cluster, &caller, what, command).await?;
        match propose(&self.cluster, &caller, Ok(command)).await? {
            Outcome::TaskUpdated { task, .. } => {
                let links = self
                    .cluster
                    .reader()
                    .task_links(&task.workspace, &task.id)
                    .map_err(Error::from)?;
                Ok(Response::new(AnswerQuestionResponse {
                    task: Some(convert::task_with_links(&task, links.as_ref())),
                }))
            }
            other => Err(unexpected(&other).into()),
        }
    }

    async fn wait_task(
        &self,
        request: Request<WaitTaskRequest>,
    ) -> Result<Response<WaitTaskResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let workspace = parse_workspace(&request.workspace)?;
        let task_id = parse_task_id("task_id", &request.task_id)?;
        let access = self.read_access(caller, &workspace).await?;
        let (task, settled) = super::watch::wait(
            &self.cluster,
            &access,
            &workspace,
            &task_id,
            request.timeout_ms,
        )
        .await?;
        Ok(Response::new(WaitTaskResponse {
            task: Some(convert::task(&task)),
            settled,
        }))
    }

    async fn get_journal(
        &self,
        request: Request<GetJournalRequest>,
    ) -> Result<Response<GetJournalResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let workspace = parse_workspace(&request.workspace)?;
        let task_id = parse_task_id("task_id", &request.task_id)?;
        let limit = match request.limit {
            0 => MAX_PAGE_SIZE,
            limit => usize::try_from(limit)
                .unwrap_or(MAX_PAGE_SIZE)
                .min(MAX_PAGE_SIZE),
        };
        self.cluster
            .read_barrier(convert::consistency(request.consistency)?)
            .await?;
        caller.require(&self.cluster, Some(&workspace), Permission::Read)?;
        let reader = self.cluster.reader();
        super::watch::require_task(reader, &workspace, &task_id)?;
        let entries = reader
            .journal(&workspace, &task_id, request.from_seq, limit)
            .map_err(Error::from)?;
        let id = task_id.to_string();
        Ok(Response::new(GetJournalResponse {
            events: entries
                .iter()
                .map(|entry| convert::task_event(&id, entry))
                .collect(),
        }))
    }

    type WatchTaskStream = super::watch::EventStream;

    async fn watch_task(
        &self,
        request: Request<WatchTaskRequest>,
    ) -> Result<Response<Self::WatchTaskStream>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let workspace = parse_workspace(&request.workspace)?;
        let task_id = parse_task_id("task_id", &request.task_id)?;
        let access = self.read_access(caller, &workspace).await?;
        let stream =
            super::watch::watch_task(&self.cluster, access, workspace, task_id, request.from_seq)?;
        Ok(Response::new(stream))
    }

    type WatchWorkspaceStream = super::watch::EventStream;

    async fn watch_workspace(
        &self,
        request: Request<WatchWorkspaceRequest>,
    ) -> Result<Response<Self::WatchWorkspaceStream>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let workspace = parse_workspace(&request.workspace)?;
        let access = self.read_access(caller, &workspace).await?;
        let stream =
            super::watch::watch_workspace(&self.cluster, access, workspace, request.from_index)?;
        Ok(Response::new(stream))
    }
}
