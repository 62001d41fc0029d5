//! The audit export's position for the resume loop (`resume.rs`): a broken export
//! reopens on another node from the record after the last one delivered.

use std::future::Future;

use futures::Stream;
use tonic::Streaming;
use tonic::transport::Channel;
use warden_proto::v1::audit_service_client::AuditServiceClient;
use warden_proto::v1::{AuditRecord, ExportAuditRequest};

use crate::resume::{self, Position, Verdict};
use crate::{Client, Consistency, Error};

/// How far an export has delivered.
struct Export {
    consistency: Consistency,
    /// The index the next delivered record must have.
    next_index: u64,
}

/// See `Client::export_audit`.
pub(crate) fn resumable(
    client: Client,
    from_index: u64,
    consistency: Consistency,
) -> impl Stream<Item = Result<AuditRecord, Error>> + Send + 'static {
    let export = Export {
        consistency,
        next_index: from_index.max(1),
    };
    resume::resumable(client, export)
}

impl Position for Export {
    type Item = AuditRecord;

    fn judge(&self, record: &AuditRecord) -> Verdict {
        match record.index.cmp(&self.next_index) {
            std::cmp::Ordering::Less => Verdict::Skip,
            std::cmp::Ordering::Equal => Verdict::Deliver,
            std::cmp::Ordering::Greater => Verdict::Gap(Error::ExportGap {
                expected: self.next_index,
                received: record.index,
            }),
        }
    }

    fn delivered(&mut self, record: &AuditRecord) {
        self.next_index = record.index + 1;
    }

    fn ends_with(&self, _record: &AuditRecord) -> bool {
        false
    }

    fn open(
        &self,
        client: &Client,
        channel: Channel,
    ) -> impl Future<Output = Result<Streaming<AuditRecord>, tonic::Status>> + Send {
        let request = client.authorized(ExportAuditRequest {
            from_index: self.next_index,
            consistency: self.consistency.to_proto(),
        });
        async move {
            let response = AuditServiceClient::new(channel)
                .export_audit(request)
                .await?;
            Ok(response.into_inner())
        }
    }

    /// The server ends an export at the chain's head as of its start.
    async fn closed_at_end(&self, _client: &Client) -> Result<bool, Error> {
        Ok(true)
    }
}
