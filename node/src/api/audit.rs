//! `warden.v1.AuditService`: reading, verifying and exporting the audit chain as this
//! node has applied it.

use std::pin::Pin;

use futures::{Stream, StreamExt, stream};
use tonic::{Request, Response, Status};
use warden_proto::v1::audit_service_server::AuditService;
use warden_proto::v1::{
    AuditRecord, CheckpointAuditRequest, CheckpointAuditResponse, ExportAuditRequest,
    ListAuditHeadsRequest, ListAuditHeadsResponse, TailAuditRequest, TailAuditResponse,
    VerifyAuditRequest, VerifyAuditResponse,
};

use warden_core::{Permission, WorkspaceId};

use crate::anchor::{Anchor, heads};
use crate::auth::{Access, Caller};
use crate::cluster::Cluster;
use crate::convert;
use crate::error::Error;

const DEFAULT_TAIL: u64 = 20;
const MAX_TAIL: u64 = 1000;
/// The most records one TailAudit examines, however few its filters keep.
const MAX_EXAMINED: usize = 50_000;
/// Records read from storage per step of an export.
const EXPORT_PAGE: usize = 256;

pub struct Audit {
    cluster: Cluster,
    anchor: Anchor,
}

impl Audit {
    pub fn new(cluster: Cluster, anchor: Anchor) -> Audit {
        Audit { cluster, anchor }
    }

    /// The audit reads need the read_audit permission cluster-wide, checked after the
    /// read barrier of the request's consistency.
    async fn open(&self, caller: Caller, consistency: i32) -> Result<Access, Error> {
        self.open_in(caller, None, consistency).await
    }

    /// Like `open`, in `workspace` when one is given: a tail of one workspace's records
    /// needs read_audit there only (a workspace auditor's), and a caller with no role
    /// there is told the workspace does not exist.
    async fn open_in(
        &self,
        caller: Caller,
        workspace: Option<WorkspaceId>,
        consistency: i32,
    ) -> Result<Access, Error> {
        Access::open(
            &self.cluster,
            caller,
            workspace,
            Permission::ReadAudit,
            convert::consistency(consistency)?,
        )
        .await
    }
}

type RecordStream = Pin<Box<dyn Stream<Item = Result<AuditRecord, Status>> + Send>>;

#[tonic::async_trait]
impl AuditService for Audit {
    async fn tail_audit(
        &self,
        request: Request<TailAuditRequest>,
    ) -> Result<Response<TailAuditResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let limit = match u64::from(request.limit) {
            0 => DEFAULT_TAIL,
            limit if limit <= MAX_TAIL => limit,
            _ => {
                return Err(Error::InvalidArgument {
                    field: "limit",
                    message: format!("must be at most {MAX_TAIL}"),
                }
                .into());
            }
        };
        let workspace = match request.workspace.is_empty() {
            true => None,
            false => Some(crate::api::task::parse_workspace(&request.workspace)?),
        };
        let filter = warden_raft::AuditFilter {
            principal: nonempty(request.principal),
            action: nonempty(request.action),
            workspace: workspace.as_ref().map(ToString::to_string),
        };
        self.open_in(caller, workspace, request.consistency).await?;
        let mut page = self
            .cluster
            .reader()
            .audit_before(request.before_index, &filter, limit as usize, MAX_EXAMINED)
            .map_err(Error::from)?;
        page.records.reverse();
        Ok(Response::new(TailAuditResponse {
            records: page.records.iter().map(convert::audit_record).collect(),
            next_before_index: page.next_before,
        }))
    }

    async fn verify_audit(
        &self,
        request: Request<VerifyAuditRequest>,
    ) -> Result<Response<VerifyAuditResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        self.open(caller, request.consistency).await?;
        let reader = self.cluster.reader().clone();
        // Verification reads every record; keep it off the async workers.
        let verification = tokio::task::spawn_blocking(move || reader.verify_audit())
            .await
            .map_err(|error| Error::Internal(format!("audit verification task: {error}")))?
            .map_err(Error::from)?;
        let (first_bad_index, problem) = match verification.failure {
            Some((index, problem)) => (Some(index), problem),
            None => (None, String::new()),
        };
        Ok(Response::new(VerifyAuditResponse {
            ok: first_bad_index.is_none(),
            record_count: verification.record_count,
            head_hash: verification
                .head_hash
                .map(|hash| hash.to_hex())
                .unwrap_or_default(),
            first_bad_index,
            problem,
            node_id: self.cluster.node_id(),
            applied_index: verification.applied_index,
            checkpoint_count: verification.anchors.checkpoint_count,
            checkpoint_covered: verification.anchors.covered,
        }))
    }

    type ExportAuditStream = RecordStream;

    async fn export_audit(
        &self,
        request: Request<ExportAuditRequest>,
    ) -> Result<Response<Self::ExportAuditStream>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let access = self.open(caller, request.consistency).await?;
        let end = self
            .cluster
            .reader()
            .audit_head()
            .map_err(Error::from)?
            .count;
        let from = request.from_index.max(1);
        Ok(Response::new(export(
            self.cluster.clone(),
            access,
            from,
            end,
        )))
    }

    async fn list_audit_heads(
        &self,
        request: Request<ListAuditHeadsRequest>,
    ) -> Result<Response<ListAuditHeadsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        self.open(caller, request.consistency).await?;
        Ok(Response::new(heads::list(&self.anchor).await?))
    }

    /// Authorized like the audit reads (cluster admins and auditors): the caller writes
    /// nothing under its own name; each node's checkpoint is recorded under that node.
    async fn checkpoint_audit(
        &self,
        request: Request<CheckpointAuditRequest>,
    ) -> Result<Response<CheckpointAuditResponse>, Status> {
        let caller = Caller::of(&request)?;
        self.open(caller, 0).await?;
        Ok(Response::new(heads::checkpoint_all(&self.anchor).await))
    }
}

/// Streams records `from..=end`, a page at a time, checking the caller again before
/// each page and ending the stream on the first refusal or storage error.
fn export(cluster: Cluster, access: Access, from: u64, end: u64) -> RecordStream {
    let pages = stream::unfold(Some(from), move |next| {
        let cluster = cluster.clone();
        let access = access.clone();
        async move {
            let start = next?;
            if start > end {
                return None;
            }
            if let Err(error) = access.recheck(&cluster) {
                return Some((stream::iter(vec![Err(Status::from(error))]), None));
            }
            let count = EXPORT_PAGE.min((end - start + 1) as usize);
            match cluster.reader().audit_range(start, count) {
                Ok(records) if records.is_empty() => None,
                Ok(records) => {
                    let following = records.last().map(|record| record.index + 1);
                    let items: Vec<Result<AuditRecord, Status>> = records
                        .iter()
                        .map(|record| Ok(convert::audit_record(record)))
                        .collect();
                    Some((stream::iter(items), following))
                }
                Err(error) => Some((
                    stream::iter(vec![Err(Status::from(Error::from(error)))]),
                    None,
                )),
            }
        }
    });
    Box::pin(pages.flatten())
}

fn nonempty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}
