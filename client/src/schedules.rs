//! The schedule RPCs of `Client`: a workspace's cron-driven task submissions.

use warden_proto::v1::schedule_service_client::ScheduleServiceClient;
use warden_proto::v1::{
    DeleteScheduleRequest, DeleteScheduleResponse, ListSchedulesRequest, ListSchedulesResponse,
    PutScheduleRequest, PutScheduleResponse, Schedule,
};

use crate::{Client, Consistency, Error};

impl Client {
    /// Creates schedule `schedule.name` of `schedule.workspace` (`expected_version` 0) or
    /// replaces the one at `expected_version`. Output fields are ignored.
    ///
    /// Not retried once an attempt may have reached a server: a second attempt after a
    /// first that took effect would be refused as stale (ABORTED). Such a failure is
    /// [`Error::OutcomeUnknown`]; list the schedules first.
    pub async fn put_schedule(
        &self,
        schedule: Schedule,
        expected_version: u64,
    ) -> Result<PutScheduleResponse, Error> {
        let request = PutScheduleRequest {
            schedule: Some(schedule),
            expected_version,
        };
        self.unary_once(request, |channel, request| async move {
            ScheduleServiceClient::new(channel)
                .put_schedule(request)
                .await
        })
        .await
    }

    /// The schedules of `workspace`, in name order.
    pub async fn list_schedules(
        &self,
        workspace: impl Into<String>,
        consistency: Consistency,
    ) -> Result<ListSchedulesResponse, Error> {
        let request = ListSchedulesRequest {
            workspace: workspace.into(),
            consistency: consistency.to_proto(),
        };
        self.unary(request, |channel, request| async move {
            ScheduleServiceClient::new(channel)
                .list_schedules(request)
                .await
        })
        .await
    }

    /// Deletes schedule `name` of `workspace`. Not retried once an attempt may have
    /// reached a server.
    pub async fn delete_schedule(
        &self,
        workspace: impl Into<String>,
        name: impl Into<String>,
    ) -> Result<DeleteScheduleResponse, Error> {
        let request = DeleteScheduleRequest {
            workspace: workspace.into(),
            name: name.into(),
        };
        self.unary_once(request, |channel, request| async move {
            ScheduleServiceClient::new(channel)
                .delete_schedule(request)
                .await
        })
        .await
    }
}
