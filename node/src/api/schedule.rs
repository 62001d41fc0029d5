//! `warden.v1.ScheduleService`: a workspace's schedules. The cron expression and the time
//! zone are checked here, on the node that takes the request, with the same calendar the
//! leader's scheduler fires by.

use tonic::{Request, Response, Status};
use warden_core::{
    Action, AgentName, CatchUp, Code, Command, Outcome, Rejection, Schedule, ScheduleName,
    ScheduleSpec, WorkspaceId,
};
use warden_proto::v1;
use warden_proto::v1::schedule_service_server::ScheduleService;

use super::{Payload, Refused, propose, read_workspace, unexpected};
use crate::auth::Caller;
use crate::cluster::Cluster;
use crate::convert;
use crate::error::Error;
use crate::schedules::plan::Calendar;

pub struct Schedules {
    cluster: Cluster,
}

impl Schedules {
    pub fn new(cluster: Cluster) -> Schedules {
        Schedules { cluster }
    }
}

fn parse_put(request: &v1::PutScheduleRequest) -> Result<Command, Refused> {
    let schedule = request.schedule.clone().unwrap_or_default();
    let refuse = |message: String| Refused {
        action: Action::SchedulePut,
        resource: format!(
            "workspace/{}/schedule/{}",
            convert::sanitized(&schedule.workspace),
            convert::sanitized(&schedule.name)
        ),
        payload: Payload::of(request),
        rejection: Rejection::new(Code::InvalidArgument, message),
    };
    let workspace = WorkspaceId::parse(&schedule.workspace)
        .map_err(|error| refuse(format!("workspace: {error}")))?;
    let name = ScheduleName::parse(&schedule.name).map_err(|error| refuse(error.to_string()))?;
    let agent =
        AgentName::parse(&schedule.agent).map_err(|error| refuse(format!("agent: {error}")))?;
    let catch_up = match schedule.catch_up.as_str() {
        "" => CatchUp::Skip,
        text => CatchUp::parse(text).map_err(|error| refuse(format!("catch_up: {error}")))?,
    };
    Calendar::parse(&schedule.cron, &schedule.timezone).map_err(refuse)?;
    Ok(Command::PutSchedule {
        workspace,
        spec: ScheduleSpec {
            name,
            cron: schedule.cron.trim().to_owned(),
            timezone: schedule.timezone,
            agent,
            input: schedule.input,
            catch_up,
            paused: schedule.paused,
        },
        expected_version: request.expected_version,
    })
}

fn parse_delete(request: &v1::DeleteScheduleRequest) -> Result<Command, Refused> {
    let refuse = |message: String| Refused {
        action: Action::ScheduleDelete,
        resource: format!(
            "workspace/{}/schedule/{}",
            convert::sanitized(&request.workspace),
            convert::sanitized(&request.name)
        ),
        payload: Payload::of(request),
        rejection: Rejection::new(Code::InvalidArgument, message),
    };
    let workspace = WorkspaceId::parse(&request.workspace)
        .map_err(|error| refuse(format!("workspace: {error}")))?;
    let name = ScheduleName::parse(&request.name).map_err(|error| refuse(error.to_string()))?;
    Ok(Command::DeleteSchedule { workspace, name })
}

#[tonic::async_trait]
impl ScheduleService for Schedules {
    async fn put_schedule(
        &self,
        request: Request<v1::PutScheduleRequest>,
    ) -> Result<Response<v1::PutScheduleResponse>, Status> {
        let caller = Caller::of(&request)?;
        match propose(&self.cluster, &caller, parse_put(request.get_ref())).await? {
            Outcome::SchedulePut(schedule) => Ok(Response::new(v1::PutScheduleResponse {
                schedule: Some(to_proto(&schedule)),
            })),
            other => Err(unexpected(&other).into()),
        }
    }

    async fn list_schedules(
        &self,
        request: Request<v1::ListSchedulesRequest>,
    ) -> Result<Response<v1::ListSchedulesResponse>, Status> {
        let (reader, workspace) = read_workspace(&self.cluster, &request).await?;
        let schedules = reader.schedules(&workspace).map_err(Error::from)?;
        Ok(Response::new(v1::ListSchedulesResponse {
            schedules: schedules.iter().map(to_proto).collect(),
        }))
    }

    async fn delete_schedule(
        &self,
        request: Request<v1::DeleteScheduleRequest>,
    ) -> Result<Response<v1::DeleteScheduleResponse>, Status> {
        let caller = Caller::of(&request)?;
        match propose(&self.cluster, &caller, parse_delete(request.get_ref())).await? {
            Outcome::ScheduleDeleted(schedule) => Ok(Response::new(v1::DeleteScheduleResponse {
                schedule: Some(to_proto(&schedule)),
            })),
            other => Err(unexpected(&other).into()),
        }
    }
}

pub fn to_proto(schedule: &Schedule) -> v1::Schedule {
    let spec = &schedule.spec;
    let next_due_at_ms = Calendar::parse(&spec.cron, &spec.timezone)
        .ok()
        .and_then(|calendar| {
            calendar
                .next_after(schedule.last_due_ms, 1)
                .first()
                .copied()
        })
        .unwrap_or_default();
    v1::Schedule {
        workspace: schedule.workspace.to_string(),
        name: spec.name.to_string(),
        cron: spec.cron.clone(),
        timezone: spec.timezone.clone(),
        agent: spec.agent.to_string(),
        input: spec.input.clone(),
        catch_up: spec.catch_up.as_str().to_owned(),
        paused: spec.paused,
        version: schedule.version,
        updated_at_ms: schedule.updated_ms,
        updated_by: schedule.updated_by.to_string(),
        last_due_at_ms: schedule.last_due_ms,
        next_due_at_ms,
        fired: schedule.fired,
        skipped: schedule.skipped,
        last_task_id: schedule
            .last_task
            .map(|task| task.to_string())
            .unwrap_or_default(),
    }
}
