//! Offline audit verification: of a stopped node's data directory, or of a JSON Lines
//! export (`wardenctl audit export`), without any running cluster.

use std::io::BufRead;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;
use warden_core::{AuditRecord, ChainVerifier, Hash};

/// The result of verifying a whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub record_count: u64,
    pub head_hash: Option<Hash>,
    /// The first record that failed and why.
    pub failure: Option<(u64, String)>,
}

/// Verifies the chain stored in a node's data directory. The node must be stopped.
pub fn verify_data_dir(data_dir: &Path) -> anyhow::Result<Verdict> {
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
    Ok(Verdict {
        record_count: verification.record_count,
        head_hash: verification.head_hash,
        failure: verification.failure,
    })
}

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
    let mut verifier = ChainVerifier::new();
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
    }
    let head = verifier.head();
    Ok(Verdict {
        record_count: head.count,
        head_hash: (head.count > 0).then_some(head.hash),
        failure: None,
    })
}

fn failed(verifier: &ChainVerifier, index: u64, problem: String) -> Verdict {
    let head = verifier.head();
    Verdict {
        record_count: head.count,
        head_hash: (head.count > 0).then_some(head.hash),
        failure: Some((index, problem)),
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

    #[test]
    fn a_dropped_record_fails_at_the_gap() {
        let mut lines = export_lines(5);
        lines.remove(1);
        let verdict = verify_export(lines.join("\n").as_bytes()).expect("readable");
        assert_eq!(verdict.failure.map(|(index, _)| index), Some(3));
    }
}
