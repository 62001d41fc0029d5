//! `CreateBackup`: recorded in the audit chain first, then read from this node's state
//! machine after a read barrier, as one consistent snapshot, and streamed in chunks.

use std::pin::Pin;

use futures::Stream;
use tonic::Status;
use warden_core::{Command, Outcome};
use warden_proto::v1::CreateBackupResponse;

use super::{now_ms, propose, unexpected};
use crate::auth::Caller;
use crate::cluster::{Cluster, Consistency};
use crate::error::Error;

/// The most backup bytes one message carries.
const CHUNK_BYTES: usize = 1 << 20;

pub type BackupStream = Pin<Box<dyn Stream<Item = Result<CreateBackupResponse, Status>> + Send>>;

/// Authorizes and records the backup, then takes it. The whole file is built in memory
/// before it is sent (its size is the state machine's).
pub async fn create(cluster: &Cluster, caller: &Caller) -> Result<BackupStream, Error> {
    let node = cluster.node_id();
    let command = Command::CreateBackup {
        node: warden_core::NodeId(node),
    };
    match propose(cluster, caller, Ok(command)).await? {
        Outcome::BackupRecorded { .. } => {}
        other => return Err(unexpected(&other)),
    }
    // The record is applied here too before the state is read.
    cluster.read_barrier(Consistency::Linearizable).await?;
    let reader = cluster.reader().clone();
    let (header, file) = tokio::task::spawn_blocking(move || {
        let mut file = Vec::new();
        reader
            .backup(now_ms(), &mut file)
            .map(|header| (header, file))
    })
    .await
    .map_err(|error| Error::Internal(format!("the backup task failed: {error}")))??;
    let mut first = CreateBackupResponse {
        node_id: node,
        applied_index: header.applied.map_or(0, |id| id.index),
        audit_records: header.audit_head.count,
        audit_head: header.audit_head.hash.to_hex(),
        ..CreateBackupResponse::default()
    };
    let mut messages = Vec::new();
    for chunk in file.chunks(CHUNK_BYTES) {
        let mut message = std::mem::take(&mut first);
        message.data = chunk.to_vec();
        messages.push(Ok(message));
    }
    Ok(Box::pin(tokio_stream::iter(messages)))
}
