//! An `AuditService` double: a chain of made-up records, exports that can break, skip or
//! start over, and a configurable verification report.

use std::pin::Pin;
use std::sync::{Arc, Mutex};

use futures::Stream;
use tonic::transport::Server;
use tonic::{Request, Response, Status};
use warden_client::proto::audit_service_server::{AuditService, AuditServiceServer};
use warden_client::proto::{
    AuditRecord, CheckpointAuditRequest, CheckpointAuditResponse, ExportAuditRequest,
    ListAuditHeadsRequest, ListAuditHeadsResponse, TailAuditRequest, TailAuditResponse,
    VerifyAuditRequest, VerifyAuditResponse,
};

use super::{TestServer, serve};

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
    async fn list_audit_heads(
        &self,
        _request: Request<ListAuditHeadsRequest>,
    ) -> Result<Response<ListAuditHeadsResponse>, Status> {
        Err(Status::unimplemented("not part of this double"))
    }

    async fn checkpoint_audit(
        &self,
        _request: Request<CheckpointAuditRequest>,
    ) -> Result<Response<CheckpointAuditResponse>, Status> {
        Err(Status::unimplemented("not part of this double"))
    }

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
