//! Every member's audit head and checkpoint, compared: the node that took the call asks
//! each peer (over `NodeService.AuditHead`, mutual TLS) for its head, then for its hashes
//! at the smallest head and at each node's latest checkpoint, and says who disagrees.
//! Also the fan-out of an on-demand checkpoint (`NodeService.SignCheckpoint`).

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::join_all;
use warden_core::{Checkpoint, Hash, NodeId, StateRead};
use warden_proto::internal::node_service_client::NodeServiceClient;
use warden_proto::internal::{
    AuditHeadRequest, AuditHeadResponse, IndexHash, SignCheckpointRequest, SignCheckpointResponse,
};
use warden_proto::v1::{
    CheckpointAuditResponse, ListAuditHeadsResponse, NodeAuditHead, NodeFailure, SignedCheckpoint,
};

use super::Anchor;
use crate::error::Error;

/// How long a peer has to answer one question.
const PEER_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a peer has to sign and commit a checkpoint.
const SIGN_TIMEOUT: Duration = Duration::from_secs(10);

/// This node's head and its hashes at `at` (empty for records it does not hold).
pub fn local_head(anchor: &Anchor, at: &[u64]) -> Result<AuditHeadResponse, Error> {
    let reader = anchor.cluster().reader();
    let head = reader.audit_head()?;
    let mut hashes = Vec::with_capacity(at.len());
    for &index in at {
        let hash = match index {
            0 => None,
            index if index > head.count => None,
            index => reader.audit_hash(index)?,
        };
        hashes.push(IndexHash {
            index,
            hash: hash.map(|hash| hash.to_hex()).unwrap_or_default(),
        });
    }
    Ok(AuditHeadResponse {
        node_id: anchor.cluster().node_id(),
        count: head.count,
        hash: if head.count == 0 {
            String::new()
        } else {
            head.hash.to_hex()
        },
        at: hashes,
    })
}

/// The members, by id, with their addresses.
fn members(anchor: &Anchor) -> BTreeMap<u64, String> {
    let metrics = anchor.cluster().raft().metrics().borrow().clone();
    metrics
        .membership_config
        .membership()
        .nodes()
        .map(|(id, node)| (*id, node.addr.clone()))
        .collect()
}

async fn head_of(
    anchor: &Anchor,
    node: u64,
    address: &str,
    at: Vec<u64>,
) -> Result<AuditHeadResponse, String> {
    if node == anchor.cluster().node_id() {
        return local_head(anchor, &at).map_err(|error| error.to_string());
    }
    let channel = anchor
        .cluster()
        .peers()
        .channel(node, address)
        .map_err(|error| error.to_string())?;
    let mut request = tonic::Request::new(AuditHeadRequest { at_index: at });
    request.set_timeout(PEER_TIMEOUT);
    let mut client = NodeServiceClient::new(channel);
    let answer = client.audit_head(request);
    match tokio::time::timeout(PEER_TIMEOUT, answer).await {
        Err(_elapsed) => Err(format!("no answer within {PEER_TIMEOUT:?}")),
        Ok(Err(status)) => Err(format!("{}: {}", status.code(), status.message())),
        Ok(Ok(response)) => Ok(response.into_inner()),
    }
}

pub fn signed(checkpoint: &Checkpoint) -> SignedCheckpoint {
    SignedCheckpoint {
        node_id: checkpoint.node.0,
        index: checkpoint.index,
        hash: checkpoint.hash.to_hex(),
        public_key: checkpoint.key.to_hex(),
        signature: hex::encode(&checkpoint.signature),
    }
}

/// Every member's head, compared at the smallest head and at each valid latest checkpoint.
pub async fn list(anchor: &Anchor) -> Result<ListAuditHeadsResponse, Error> {
    let reader = anchor.cluster().reader();
    let members = members(anchor);
    let first = join_all(
        members
            .iter()
            .map(|(id, address)| head_of(anchor, *id, address, Vec::new())),
    )
    .await;
    let heads: BTreeMap<u64, Result<AuditHeadResponse, String>> =
        members.keys().copied().zip(first).collect();
    let compare_index = heads
        .values()
        .filter_map(|head| head.as_ref().ok().map(|head| head.count))
        .min()
        .unwrap_or(0);

    // The latest checkpoint of each member as this node stores it; only valid ones (a
    // registered key, a verifying signature) are held against the nodes' chains.
    let mut checkpoints = BTreeMap::new();
    let mut registered = BTreeMap::new();
    for &id in members.keys() {
        let record = reader.node_record(NodeId(id))?;
        registered.insert(id, record.as_ref().and_then(|record| record.current_key()));
        if let Some(checkpoint) = reader.latest_checkpoint(NodeId(id))? {
            let valid = record.is_some_and(|record| record.knows(&checkpoint.key))
                && checkpoint.verify_signature().is_ok();
            checkpoints.insert(id, (checkpoint, valid));
        }
    }
    let mut at: Vec<u64> = checkpoints
        .values()
        .filter(|(_, valid)| *valid)
        .map(|(checkpoint, _)| checkpoint.index)
        .collect();
    at.push(compare_index);
    at.sort_unstable();
    at.dedup();

    let second = join_all(heads.iter().map(|(id, head)| {
        let at = at.clone();
        let address = members.get(id).cloned().unwrap_or_default();
        async move {
            match head {
                Ok(_) => Some(head_of(anchor, *id, &address, at).await),
                Err(_) => None,
            }
        }
    }))
    .await;
    let hashes: BTreeMap<u64, BTreeMap<u64, String>> = heads
        .keys()
        .zip(second)
        .filter_map(|(id, answer)| {
            let answer = answer?.ok()?;
            let by_index = answer
                .at
                .into_iter()
                .map(|pair| (pair.index, pair.hash))
                .collect();
            Some((*id, by_index))
        })
        .collect();

    let reference = majority_hash(
        hashes
            .values()
            .filter_map(|by_index| by_index.get(&compare_index)),
    );
    let mut nodes = Vec::new();
    let mut agree = true;
    for (id, address) in &members {
        let checkpoint = checkpoints.get(id);
        let mut node = NodeAuditHead {
            node_id: *id,
            address: address.clone(),
            public_key: registered
                .get(id)
                .copied()
                .flatten()
                .map(|key| key.to_hex())
                .unwrap_or_default(),
            checkpoint: checkpoint.map(|(checkpoint, _)| signed(checkpoint)),
            ..NodeAuditHead::default()
        };
        match (heads.get(id), hashes.get(id)) {
            (Some(Ok(head)), Some(by_index)) => {
                node.reachable = true;
                node.count = head.count;
                node.hash = head.hash.clone();
                node.compare_hash = by_index.get(&compare_index).cloned().unwrap_or_default();
                node.problem = problem(
                    *id,
                    compare_index,
                    by_index,
                    reference.as_deref(),
                    &checkpoints,
                );
            }
            (Some(Err(error)), _) => node.error = error.clone(),
            (_, _) => node.error = "did not answer the second round".to_owned(),
        }
        if let Some((checkpoint, false)) = checkpoint {
            node.problem = format!(
                "the latest checkpoint of node {id} (record {}) does not verify under a key registered for it",
                checkpoint.index
            );
        }
        agree &= node.problem.is_empty();
        nodes.push(node);
    }
    Ok(ListAuditHeadsResponse {
        nodes,
        compare_index,
        agree,
        checkpoint_interval: reader
            .audit_settings()?
            .map_or(0, |settings| settings.checkpoint_interval),
        node_id: anchor.cluster().node_id(),
    })
}

/// The hash most nodes hold (the smallest of the most frequent, for ties), so the odd one
/// out is named rather than everyone.
fn majority_hash<'a>(hashes: impl Iterator<Item = &'a String>) -> Option<String> {
    let mut counts: BTreeMap<&String, usize> = BTreeMap::new();
    for hash in hashes {
        *counts.entry(hash).or_default() += 1;
    }
    let most = counts.values().copied().max()?;
    counts
        .into_iter()
        .find(|(_, count)| *count == most)
        .map(|(hash, _)| hash.clone())
}

/// Why node `id`, whose hashes are `by_index`, disagrees; empty when it does not.
fn problem(
    id: u64,
    compare_index: u64,
    by_index: &BTreeMap<u64, String>,
    reference: Option<&str>,
    checkpoints: &BTreeMap<u64, (Checkpoint, bool)>,
) -> String {
    let own = by_index
        .get(&compare_index)
        .map(String::as_str)
        .unwrap_or_default();
    if let Some(reference) = reference
        && compare_index > 0
        && own != reference
    {
        return format!(
            "node {id} holds {own} at record {compare_index}, most nodes hold {reference}"
        );
    }
    for (signer, (checkpoint, valid)) in checkpoints {
        let held = by_index
            .get(&checkpoint.index)
            .map(String::as_str)
            .unwrap_or_default();
        if *valid && !held.is_empty() && Hash::from_hex(held) != Some(checkpoint.hash) {
            return format!(
                "node {id} holds {held} at record {}, node {signer} signed {}",
                checkpoint.index, checkpoint.hash
            );
        }
    }
    String::new()
}

async fn sign_on(anchor: &Anchor, node: u64, address: &str) -> Result<SignedCheckpoint, String> {
    if node == anchor.cluster().node_id() {
        return anchor
            .sign_now()
            .await
            .map(|checkpoint| signed(&checkpoint))
            .map_err(|error| error.to_string());
    }
    let channel = anchor
        .cluster()
        .peers()
        .channel(node, address)
        .map_err(|error| error.to_string())?;
    let mut request = tonic::Request::new(SignCheckpointRequest {});
    request.set_timeout(SIGN_TIMEOUT);
    let mut client = NodeServiceClient::new(channel);
    let answer = client.sign_checkpoint(request);
    match tokio::time::timeout(SIGN_TIMEOUT, answer).await {
        Err(_elapsed) => Err(format!("no answer within {SIGN_TIMEOUT:?}")),
        Ok(Err(status)) => Err(format!("{}: {}", status.code(), status.message())),
        Ok(Ok(response)) => {
            let SignCheckpointResponse {
                node_id,
                index,
                hash,
                public_key,
                signature,
            } = response.into_inner();
            Ok(SignedCheckpoint {
                node_id,
                index,
                hash,
                public_key,
                signature,
            })
        }
    }
}

/// Makes every member sign its head now; the checkpoints committed and who did not sign.
pub async fn checkpoint_all(anchor: &Anchor) -> CheckpointAuditResponse {
    let members = members(anchor);
    let answers = join_all(
        members
            .iter()
            .map(|(id, address)| sign_on(anchor, *id, address)),
    )
    .await;
    let mut response = CheckpointAuditResponse::default();
    for (id, answer) in members.keys().zip(answers) {
        match answer {
            Ok(checkpoint) => response.checkpoints.push(checkpoint),
            Err(error) => response.failures.push(NodeFailure {
                node_id: *id,
                error,
            }),
        }
    }
    response
}
