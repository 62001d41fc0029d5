//! The audit chain's anchors on this node: its signing key (`signer.rs`), signing its
//! applied head on demand and every `checkpoint_interval` records (`periodic.rs`), and
//! comparing heads and checkpoints across the members (`heads.rs`).
//!
//! A node without a signing key runs and signs nothing; `wardenctl audit heads` shows it
//! as unsigned.

pub mod heads;
pub mod periodic;
pub mod signer;

use std::sync::Arc;

use warden_core::{AuditKey, Checkpoint, Command, Outcome, Principal, Request};

use crate::api::{now_ms, unexpected};
use crate::cluster::Cluster;
use crate::error::Error;

pub use signer::Signer;

/// This node's signing key (if it has one) and its handle on the log.
#[derive(Clone)]
pub struct Anchor {
    cluster: Cluster,
    signer: Option<Arc<Signer>>,
}

impl Anchor {
    pub fn new(cluster: Cluster, signer: Option<Signer>) -> Anchor {
        Anchor {
            cluster,
            signer: signer.map(Arc::new),
        }
    }

    pub fn public_key(&self) -> Option<AuditKey> {
        self.signer.as_ref().map(|signer| signer.public_key())
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Signs this node's applied audit head and commits the checkpoint, proposed as the
    /// node itself; returns it as stored.
    pub async fn sign_now(&self) -> Result<Checkpoint, Error> {
        let signer = self.signer.as_ref().ok_or(Error::NoSigningKey)?;
        let head = self.cluster.reader().audit_head()?;
        if head.count == 0 {
            return Err(Error::EmptyAuditChain);
        }
        let request = Request {
            time_ms: now_ms(),
            principal: Principal::node(signer.node()),
            token: None,
            command: Command::AuditCheckpoint {
                checkpoint: signer.sign(head.count, head.hash),
            },
        };
        match self.cluster.propose(request).await? {
            Outcome::CheckpointRecorded(stored) => Ok(stored),
            Outcome::Rejected(rejection) => Err(Error::Rejected(rejection)),
            other => Err(unexpected(&other)),
        }
    }
}
