//! Signs this node's applied audit head whenever the chain has grown the cluster's
//! checkpoint interval past the node's own last checkpoint. Owned by the node's task set
//! (`runtime::start`); runs only on a node with a signing key.

use std::time::Duration;

use warden_core::{NodeId, StateRead};

use super::Anchor;

/// The least time between two looks at the head: applied entries come in bursts.
const CHECK_INTERVAL: Duration = Duration::from_millis(100);
/// How long to wait after a checkpoint could not be committed (no leader, say).
const RETRY_AFTER: Duration = Duration::from_secs(1);

pub async fn run(anchor: Anchor) {
    let Some(key) = anchor.public_key() else {
        return;
    };
    let cluster = anchor.cluster().clone();
    let me = NodeId(cluster.node_id());
    let mut metrics = cluster.raft().metrics();
    // The highest record this node signed, in the state or proposed since.
    let mut signed_up_to: Option<u64> = None;
    let mut unregistered_logged = false;
    loop {
        if metrics.changed().await.is_err() {
            return;
        }
        let due = due(
            &anchor,
            me,
            key,
            &mut signed_up_to,
            &mut unregistered_logged,
        );
        match due {
            Ok(false) => {}
            Ok(true) => match anchor.sign_now().await {
                Ok(checkpoint) => {
                    tracing::debug!(index = checkpoint.index, "audit checkpoint committed");
                    signed_up_to = Some(checkpoint.index);
                }
                Err(error) => {
                    tracing::warn!(%error, "signing an audit checkpoint");
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            },
            Err(error) => tracing::error!(%error, "reading the audit head to checkpoint it"),
        }
        tokio::time::sleep(CHECK_INTERVAL).await;
    }
}

/// Whether this node, registered with `key`, should sign its head now.
fn due(
    anchor: &Anchor,
    me: NodeId,
    key: warden_core::AuditKey,
    signed_up_to: &mut Option<u64>,
    unregistered_logged: &mut bool,
) -> Result<bool, warden_raft::Error> {
    let reader = anchor.cluster().reader();
    let Some(settings) = reader.audit_settings()? else {
        return Ok(false);
    };
    let registered = reader
        .node_record(me)?
        .and_then(|record| record.current_key());
    if registered != Some(key) {
        // Not a member yet, or added under another key (or none): its checkpoints would be
        // refused, so it signs nothing until it is added with this key.
        if !*unregistered_logged {
            tracing::info!(
                key = %key,
                registered = ?registered,
                "this node's audit key is not registered for it: no periodic checkpoints"
            );
            *unregistered_logged = true;
        }
        return Ok(false);
    }
    let last = match *signed_up_to {
        Some(index) => index,
        None => {
            let stored = reader
                .latest_checkpoint(me)?
                .map_or(0, |checkpoint| checkpoint.index);
            *signed_up_to = Some(stored);
            stored
        }
    };
    let head = reader.audit_head()?;
    Ok(head.count >= last.saturating_add(settings.checkpoint_interval))
}
