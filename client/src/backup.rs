//! `Client::create_backup`: the backup file streamed from a node, chunk by chunk.

use tonic::Streaming;
use warden_proto::v1::cluster_service_client::ClusterServiceClient;
use warden_proto::v1::{CreateBackupRequest, CreateBackupResponse};

use crate::{Client, Error};

/// What a backup holds, as the node that took it reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    pub node_id: u64,
    /// The last log entry the backup holds.
    pub applied_index: u64,
    pub audit_records: u64,
    /// The audit chain's head hash, hex.
    pub audit_head: String,
}

/// A backup being received: what it holds, and its bytes chunk by chunk.
pub struct Backup {
    pub info: BackupInfo,
    first: Option<Vec<u8>>,
    stream: Streaming<CreateBackupResponse>,
}

impl Backup {
    /// The next bytes of the file; `None` once it is whole.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, Error> {
        if let Some(first) = self.first.take() {
            return Ok(Some(first));
        }
        let message = self.stream.message().await.map_err(Error::Status)?;
        Ok(message.map(|message| message.data))
    }
}

impl Client {
    /// Takes a backup of the state machine of the node that answers (cluster admins
    /// only; audited as `cluster.backup`); read its bytes with [`Backup::next_chunk`].
    ///
    /// Not retried once a node may have received the request: a broken stream leaves a
    /// partial file, which `warden restore` refuses; take the backup again.
    pub async fn create_backup(&self) -> Result<Backup, Error> {
        let mut stream = self
            .unary_once(CreateBackupRequest {}, |channel, request| async move {
                ClusterServiceClient::new(channel)
                    .create_backup(request)
                    .await
            })
            .await?;
        let first = stream
            .message()
            .await
            .map_err(Error::Status)?
            .ok_or_else(|| Error::missing("backup"))?;
        Ok(Backup {
            info: BackupInfo {
                node_id: first.node_id,
                applied_index: first.applied_index,
                audit_records: first.audit_records,
                audit_head: first.audit_head,
            },
            first: Some(first.data),
            stream,
        })
    }
}
