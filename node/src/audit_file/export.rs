//! Verifying a JSON Lines export (`wardenctl audit export`): the hash chain, the
//! checkpoints it carries inline (accepted `audit.checkpoint` records), and optionally
//! checkpoints saved elsewhere (`wardenctl audit checkpoint --output json`), which prove a
//! tail that was cut from the export.

use std::io::BufRead;

use anyhow::Context;
use serde::Deserialize;
use warden_core::anchor::CHECKPOINT_ACTION;
use warden_core::audit::OUTCOME_ACCEPTED;
use warden_core::{AuditKey, AuditRecord, ChainVerifier, Checkpoint, Hash, NodeId};

use super::Verdict;

/// One line of an export, as `wardenctl audit export` writes it.
#[derive(Debug, Deserialize)]
struct ExportedRecord {
    index: u64,
    log_index: u64,
    time_ms: u64,
    principal: String,
    action: String,
    resource: String,
    outcome: String,
    detail: String,
    payload_hash: String,
    prev_hash: String,
    hash: String,
}

/// Verifies an export read from `input`, one JSON record per line, oldest first.
pub fn verify_export(input: impl BufRead) -> anyhow::Result<Verdict> {
    verify_export_against(input, &[])
}

/// Verifies an export and holds it against `saved` checkpoints (kept apart from the
/// export): each must verify, and must sign a record the export holds with its hash, so
/// an export whose tail was cut fails naming the checkpoint past its end.
pub fn verify_export_against(input: impl BufRead, saved: &[Checkpoint]) -> anyhow::Result<Verdict> {
    let mut verifier = ChainVerifier::new();
    // Every record's hash, to check checkpoints of earlier records (32 bytes a record).
    let mut hashes: Vec<Hash> = Vec::new();
    let mut inline: Option<Checkpoint> = None;
    for (number, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("reading line {}", number + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let expected_index = verifier.head().count + 1;
        let record = match parse_record(&line) {
            Ok(record) => record,
            Err(problem) => {
                return Ok(failed(
                    &verifier,
                    expected_index,
                    format!("line {}: {problem}", number + 1),
                ));
            }
        };
        if let Err(error) = verifier.push(&record) {
            return Ok(failed(&verifier, error.index(), error.to_string()));
        }
        hashes.push(record.hash);
        if record.action == CHECKPOINT_ACTION && record.outcome == OUTCOME_ACCEPTED {
            let Some(checkpoint) = Checkpoint::parse_detail(&record.detail) else {
                return Ok(failed(
                    &verifier,
                    record.index,
                    format!(
                        "record {}: an accepted checkpoint whose detail does not read as one",
                        record.index
                    ),
                ));
            };
            if let Some(problem) = problem(&checkpoint, &hashes) {
                return Ok(failed(
                    &verifier,
                    record.index,
                    format!("record {}: {problem}", record.index),
                ));
            }
            if inline
                .as_ref()
                .is_none_or(|last| checkpoint.index >= last.index)
            {
                inline = Some(checkpoint);
            }
        }
    }
    let head = verifier.head();
    let mut anchoring = vec![match &inline {
        Some(checkpoint) => format!(
            "last checkpoint in the export covers records 1..{} of {} (signed by node {}, key {})",
            checkpoint.index, head.count, checkpoint.node, checkpoint.key
        ),
        None => format!(
            "no checkpoint in the export: nothing in it anchors its {} records",
            head.count
        ),
    }];
    for checkpoint in saved {
        if let Some(problem) = problem(checkpoint, &hashes) {
            let index = if checkpoint.index > head.count {
                head.count + 1
            } else {
                checkpoint.index
            };
            return Ok(Verdict {
                anchoring,
                ..failed(&verifier, index, problem)
            });
        }
    }
    if let Some(latest) = saved.iter().max_by_key(|checkpoint| checkpoint.index) {
        anchoring.push(format!(
            "{} saved checkpoints match; the latest covers records 1..{} (node {})",
            saved.len(),
            latest.index,
            latest.node
        ));
    }
    Ok(Verdict {
        record_count: head.count,
        head_hash: (head.count > 0).then_some(head.hash),
        failure: None,
        anchoring,
    })
}

/// What is wrong with `checkpoint` against a chain whose hashes are `hashes`.
fn problem(checkpoint: &Checkpoint, hashes: &[Hash]) -> Option<String> {
    let (node, index) = (checkpoint.node, checkpoint.index);
    if let Err(error) = checkpoint.verify_signature() {
        return Some(format!(
            "checkpoint of node {node} at record {index}: {error}"
        ));
    }
    let position = usize::try_from(index).ok()?.checked_sub(1);
    match position.and_then(|position| hashes.get(position)) {
        None => Some(format!(
            "export ends at record {}; node {node} signed record {index} > {}",
            hashes.len(),
            hashes.len()
        )),
        Some(hash) if *hash != checkpoint.hash => Some(format!(
            "node {node} signed record {index} as {}, but the export holds {hash}",
            checkpoint.hash
        )),
        Some(_) => None,
    }
}

/// The checkpoints in a JSON document as `wardenctl audit checkpoint --output json` or
/// `audit heads --output json` print them: every object with `node_id`, `index`, `hash`,
/// `public_key` and `signature`, wherever it is nested.
pub fn saved_checkpoints(text: &str) -> anyhow::Result<Vec<Checkpoint>> {
    let document: serde_json::Value =
        serde_json::from_str(text).context("the checkpoints file is not JSON")?;
    let mut found = Vec::new();
    collect(&document, &mut found)?;
    Ok(found)
}

fn collect(value: &serde_json::Value, found: &mut Vec<Checkpoint>) -> anyhow::Result<()> {
    match value {
        serde_json::Value::Array(items) => items.iter().try_for_each(|item| collect(item, found)),
        serde_json::Value::Object(fields) => {
            if ["node_id", "index", "hash", "public_key", "signature"]
                .iter()
                .all(|name| fields.contains_key(*name))
            {
                let saved: SavedCheckpoint = serde_json::from_value(value.clone())
                    .context("a checkpoint in the checkpoints file")?;
                found.push(saved.into_checkpoint()?);
                return Ok(());
            }
            fields.values().try_for_each(|item| collect(item, found))
        }
        _ => Ok(()),
    }
}

#[derive(Debug, Deserialize)]
struct SavedCheckpoint {
    node_id: u64,
    index: u64,
    hash: String,
    public_key: String,
    signature: String,
}

impl SavedCheckpoint {
    fn into_checkpoint(self) -> anyhow::Result<Checkpoint> {
        let what = || {
            format!(
                "checkpoint of node {} at record {}",
                self.node_id, self.index
            )
        };
        Ok(Checkpoint {
            node: NodeId(self.node_id),
            index: self.index,
            hash: Hash::from_hex(&self.hash)
                .with_context(|| format!("{}: hash is not 64 hex digits", what()))?,
            key: AuditKey::from_hex(&self.public_key)
                .with_context(|| format!("{}: public_key is not 64 hex digits", what()))?,
            signature: hex::decode(&self.signature)
                .with_context(|| format!("{}: signature is not hex", what()))?,
        })
    }
}

fn failed(verifier: &ChainVerifier, index: u64, problem: String) -> Verdict {
    let head = verifier.head();
    Verdict {
        record_count: head.count,
        head_hash: (head.count > 0).then_some(head.hash),
        failure: Some((index, problem)),
        anchoring: Vec::new(),
    }
}

fn parse_record(line: &str) -> Result<AuditRecord, String> {
    let exported: ExportedRecord = serde_json::from_str(line).map_err(|error| error.to_string())?;
    let hash = |field: &str, text: &str| {
        Hash::from_hex(text).ok_or_else(|| format!("{field} is not a hex SHA-256"))
    };
    Ok(AuditRecord {
        index: exported.index,
        log_index: exported.log_index,
        time_ms: exported.time_ms,
        principal: exported.principal,
        action: exported.action,
        resource: exported.resource,
        outcome: exported.outcome,
        detail: exported.detail,
        payload_hash: hash("payload_hash", &exported.payload_hash)?,
        prev_hash: hash("prev_hash", &exported.prev_hash)?,
        hash: hash("hash", &exported.hash)?,
    })
}

#[cfg(test)]
mod tests {
    use warden_core::audit::{AuditHead, RecordBody};

    use super::*;

    fn export_lines(count: u64) -> Vec<String> {
        let mut head = AuditHead::default();
        (1..=count)
            .map(|n| {
                let record = head.append(RecordBody {
                    log_index: n + 2,
                    time_ms: 1_700_000_000_000 + n,
                    principal: "anonymous".into(),
                    action: "task.submit".into(),
                    resource: format!("workspace/acme/task/{n}"),
                    outcome: "accepted".into(),
                    detail: String::new(),
                    payload_hash: Hash::of(&n.to_be_bytes()),
                });
                head = AuditHead::advanced(&record);
                serde_json::json!({
                    "index": record.index, "log_index": record.log_index, "time_ms": record.time_ms,
                    "principal": record.principal, "action": record.action, "resource": record.resource,
                    "outcome": record.outcome, "detail": record.detail,
                    "payload_hash": record.payload_hash.to_hex(), "prev_hash": record.prev_hash.to_hex(),
                    "hash": record.hash.to_hex(),
                })
                .to_string()
            })
            .collect()
    }

    #[test]
    fn an_intact_export_verifies() {
        let text = export_lines(5).join("\n");
        let verdict = verify_export(text.as_bytes()).expect("readable");
        assert_eq!(verdict.failure, None);
        assert_eq!(verdict.record_count, 5);
    }

    #[test]
    fn an_edited_record_fails_at_its_index() {
        let mut lines = export_lines(5);
        lines[2] = lines[2].replace("workspace/acme/task/3", "workspace/acme/task/X");
        let verdict = verify_export(lines.join("\n").as_bytes()).expect("readable");
        assert_eq!(verdict.failure.map(|(index, _)| index), Some(3));
    }

    fn signed(index: u64, lines: &[String]) -> Checkpoint {
        let record: serde_json::Value =
            serde_json::from_str(&lines[index as usize - 1]).expect("json");
        let hash = Hash::from_hex(record["hash"].as_str().expect("hash")).expect("hex");
        let secret = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        warden_core::anchor::sign(&secret, NodeId(2), index, hash)
    }

    #[test]
    fn a_cut_tail_fails_against_a_saved_checkpoint() {
        let lines = export_lines(8);
        let saved = [signed(6, &lines)];
        let whole = verify_export_against(lines.join("\n").as_bytes(), &saved).expect("readable");
        assert_eq!(whole.failure, None);
        assert!(
            whole.anchoring[1].contains("covers records 1..6"),
            "{:?}",
            whole.anchoring
        );

        let cut = lines[..4].join("\n");
        assert_eq!(
            verify_export(cut.as_bytes()).expect("readable").failure,
            None
        );
        let verdict = verify_export_against(cut.as_bytes(), &saved).expect("readable");
        let (index, problem) = verdict.failure.expect("the cut is detected");
        assert_eq!(index, 5);
        assert_eq!(
            problem,
            "export ends at record 4; node 2 signed record 6 > 4"
        );
    }

    #[test]
    fn a_saved_checkpoint_of_another_hash_fails() {
        let lines = export_lines(8);
        let mut checkpoint = signed(3, &lines);
        checkpoint.hash = Hash([7; 32]);
        let secret = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        let forged = warden_core::anchor::sign(&secret, NodeId(2), 3, checkpoint.hash);
        let verdict =
            verify_export_against(lines.join("\n").as_bytes(), &[forged]).expect("readable");
        let (index, problem) = verdict.failure.expect("detected");
        assert_eq!(index, 3);
        assert!(problem.contains("node 2 signed record 3 as"), "{problem}");
        let verdict =
            verify_export_against(lines.join("\n").as_bytes(), &[checkpoint]).expect("readable");
        assert!(
            verdict
                .failure
                .expect("bad signature")
                .1
                .contains("does not verify")
        );
    }

    #[test]
    fn saved_checkpoints_are_found_wherever_they_are_nested() {
        let lines = export_lines(4);
        let checkpoint = signed(2, &lines);
        let text = serde_json::json!({
            "nodes": [{"node_id": 2, "checkpoint": {
                "node_id": 2, "index": 2, "hash": checkpoint.hash.to_hex(),
                "public_key": checkpoint.key.to_hex(),
                "signature": hex::encode(&checkpoint.signature),
            }}],
        })
        .to_string();
        assert_eq!(saved_checkpoints(&text).expect("parsed"), vec![checkpoint]);
    }

    #[test]
    fn a_dropped_record_fails_at_the_gap() {
        let mut lines = export_lines(5);
        lines.remove(1);
        let verdict = verify_export(lines.join("\n").as_bytes()).expect("readable");
        assert_eq!(verdict.failure.map(|(index, _)| index), Some(3));
    }
}
