//! The audit export stream that survives node failures: it reopens the server stream on
//! another node from the record after the last one delivered.

use futures::Stream;
use tonic::Streaming;
use warden_proto::v1::audit_service_client::AuditServiceClient;
use warden_proto::v1::{AuditRecord, ExportAuditRequest};

use crate::retry::{Resend, describe, is_unavailable};
use crate::{Client, Consistency, Error};

/// Where an export stands between two records.
struct Export {
    client: Client,
    consistency: Consistency,
    /// The index the next delivered record must have.
    next_index: u64,
    /// The open server stream and the node serving it.
    open: Option<(Streaming<AuditRecord>, usize)>,
    /// Breaks since the last delivered record; bounded by `max_attempts` so that a
    /// cluster that keeps breaking the stream without progress ends the export.
    breaks_without_progress: u32,
}

/// See `Client::export_audit`.
pub(crate) fn resumable(
    client: Client,
    from_index: u64,
    consistency: Consistency,
) -> impl Stream<Item = Result<AuditRecord, Error>> + Send + 'static {
    let export = Export {
        client,
        consistency,
        next_index: from_index.max(1),
        open: None,
        breaks_without_progress: 0,
    };
    futures::stream::unfold(Some(export), |export| async move {
        let mut export = export?;
        match export.next().await {
            Some(Ok(record)) => Some((Ok(record), Some(export))),
            // After an error the stream ends: the caller decides whether to start over.
            Some(Err(error)) => Some((Err(error), None)),
            None => None,
        }
    })
}

impl Export {
    /// The next record in order, `None` at the end of the chain.
    async fn next(&mut self) -> Option<Result<AuditRecord, Error>> {
        loop {
            let (mut stream, node) = match self.open.take() {
                Some(open) => open,
                None => match self.reopen().await {
                    Ok(open) => open,
                    Err(error) => return Some(Err(error)),
                },
            };
            match stream.message().await {
                Ok(Some(record)) if record.index < self.next_index => {
                    // Already delivered before a break; a server that resends it must
                    // not make the caller see it twice.
                    self.open = Some((stream, node));
                }
                Ok(Some(record)) if record.index > self.next_index => {
                    return Some(Err(Error::ExportGap {
                        expected: self.next_index,
                        received: record.index,
                    }));
                }
                Ok(Some(record)) => {
                    self.next_index = record.index + 1;
                    self.breaks_without_progress = 0;
                    self.open = Some((stream, node));
                    return Some(Ok(record));
                }
                Ok(None) => return None,
                Err(status) if is_unavailable(&status) => {
                    let endpoints = self.client.endpoints();
                    endpoints.mark_failed(node);
                    self.breaks_without_progress += 1;
                    let max_attempts = self.client.policy().max_attempts;
                    if self.breaks_without_progress >= max_attempts {
                        return Some(Err(Error::Unavailable {
                            attempts: self.breaks_without_progress,
                            last: describe(endpoints.uri(node), &status),
                        }));
                    }
                }
                Err(status) => return Some(Err(Error::Status(status))),
            }
        }
    }

    /// Opens a server stream from `next_index`, retrying across nodes.
    async fn reopen(&self) -> Result<(Streaming<AuditRecord>, usize), Error> {
        if self.breaks_without_progress > 0 {
            let pause = self.client.policy().backoff(self.breaks_without_progress);
            tokio::time::sleep(pause).await;
        }
        let request = ExportAuditRequest {
            from_index: self.next_index,
            consistency: self.consistency.to_proto(),
        };
        let client = &self.client;
        let (response, node) = self
            .client
            .call(Resend::Always, |channel| {
                let request = client.authorized(request);
                async move { AuditServiceClient::new(channel).export_audit(request).await }
            })
            .await?;
        Ok((response.into_inner(), node))
    }
}
