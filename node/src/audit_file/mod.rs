//! Offline audit verification: of a stopped node's data directory, or of a JSON Lines
//! export (`wardenctl audit export`, in `export.rs`), without any running cluster.
//!
//! Both check the hash chain and the signed checkpoints that anchor it. For a data
//! directory, the rule on the unanchored tail is: with `N` the checkpoint interval the
//! cluster was initialized with, `M` the chain's length, `K` the highest record a valid
//! checkpoint covers (only checkpoints under the trusted key, when `--signing-key` names
//! one) and `S` the record that first registered an audit key, verification fails when
//! `M - max(K, S - 1) > 2N`. Every keyed node signs once the chain grew `N` records past its
//! last checkpoint, and its checkpoint commits a few records later, so an honest chain's
//! tail stays near `N`; a longer one means checkpoints were deleted along with rewritten
//! records. Within the last `2N` records a rewrite that also deletes the checkpoints
//! covering it is not detectable from the one database: compare heads across nodes
//! (`wardenctl audit heads`) or against saved checkpoints (`verify-export --checkpoints`).

mod export;

use std::path::Path;

use anyhow::Context;
use warden_core::{AuditKey, Hash};
use warden_raft::AnchorReport;

pub use export::{saved_checkpoints, verify_export, verify_export_against};

/// The result of verifying a whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub record_count: u64,
    pub head_hash: Option<Hash>,
    /// The first record that failed and why.
    pub failure: Option<(u64, String)>,
    /// What anchors the chain, one line each: the last checkpoint covering it, or why
    /// nothing does.
    pub anchoring: Vec<String>,
}

/// Verifies the chain stored in a node's data directory, with its checkpoints. The node
/// must be stopped. `trusted` is a key known from outside the database (the node's own
/// key file): it must be some node's registered current key, and only its checkpoints
/// count as anchors.
pub fn verify_data_dir(data_dir: &Path, trusted: Option<AuditKey>) -> anyhow::Result<Verdict> {
    let storage = warden_raft::Storage::open(&data_dir.join("db")).with_context(|| {
        format!(
            "opening storage in {} (is the node stopped?)",
            data_dir.display()
        )
    })?;
    let verification = storage
        .reader()
        .verify_audit()
        .context("reading the audit chain")?;
    let mut verdict = Verdict {
        record_count: verification.record_count,
        head_hash: verification.head_hash,
        failure: verification.failure,
        anchoring: Vec::new(),
    };
    if verdict.failure.is_none() {
        anchor(&mut verdict, &verification.anchors, trusted);
    }
    Ok(verdict)
}

/// Applies the trusted key and the unanchored-tail rule (see the module's comment).
fn anchor(verdict: &mut Verdict, anchors: &AnchorReport, trusted: Option<AuditKey>) {
    let count = verdict.record_count;
    let covered = match trusted {
        Some(key) => {
            let holder = anchors.nodes.iter().find(|record| record.knows(&key));
            match holder {
                None => {
                    verdict.failure = Some((
                        0,
                        format!("the trusted key {key} is registered for no node in this database"),
                    ));
                    return;
                }
                Some(record) if record.signing_key != Some(key) => {
                    verdict.failure = Some((
                        0,
                        format!(
                            "node {} is registered with key {} in this database, not the trusted key {key}",
                            record.node,
                            record
                                .signing_key
                                .map_or_else(|| "(none)".to_owned(), |key| key.to_hex())
                        ),
                    ));
                    return;
                }
                Some(record) => {
                    let covered = anchors
                        .per_signer
                        .get(&(record.node, key))
                        .copied()
                        .unwrap_or(0);
                    (covered, Some(record.node))
                }
            }
        }
        None => (anchors.covered, anchors.covered_by),
    };
    let (covered, signer) = covered;
    let keyed_since = anchors
        .nodes
        .iter()
        .filter(|record| record.keyed_since > 0)
        .map(|record| record.keyed_since)
        .min();
    let Some(keyed_since) = keyed_since else {
        verdict.anchoring.push(format!(
            "unsigned: no node has an audit key, so nothing anchors these {count} records"
        ));
        return;
    };
    verdict.anchoring.push(match signer {
        Some(node) if covered > 0 => format!(
            "last checkpoint covers records 1..{covered} of {count} (signed by node {node}; {} checkpoints stored)",
            anchors.checkpoint_count
        ),
        _ => format!("no checkpoint covers any of the {count} records"),
    });
    let Some(interval) = anchors.interval else {
        return;
    };
    let anchored_from = covered.max(keyed_since.saturating_sub(1));
    let tail = count.saturating_sub(anchored_from);
    if tail > 2 * interval {
        verdict.failure = Some((
            anchored_from + 1,
            format!(
                "records {}..{count} ({tail}) are covered by no checkpoint, more than twice the checkpoint interval {interval}: checkpoints were removed, or the nodes stopped signing",
                anchored_from + 1
            ),
        ));
    }
}
