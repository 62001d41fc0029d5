//! Reads of the audit chain: ranges, the head, a filtered walk back from the end (the
//! console's and `wardenctl audit tail`'s view), and the whole-chain verification.

use rocksdb::{IteratorMode, ReadOptions};
use warden_core::{AuditHead, AuditRecord, ChainVerifier, Hash};

use super::{AnchorReport, StateReader, anchor};
use crate::codec;
use crate::error::Error;
use crate::keys;
use crate::types::LogId;

/// The result of checking the stored audit chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerification {
    /// How many records verified, oldest first, before the end or the first failure.
    pub record_count: u64,
    /// The hash of the last verified record; `None` when none verified.
    pub head_hash: Option<Hash>,
    /// The chain position of the first bad record and what is wrong with it.
    pub failure: Option<(u64, String)>,
    /// What the stored checkpoints say (as far as the chain verified).
    pub anchors: AnchorReport,
    /// The index of the last log entry applied in the state that was verified: read from
    /// the same snapshot as the records, so the count and head belong to exactly it.
    pub applied_index: u64,
}

impl AuditVerification {
    pub fn is_ok(&self) -> bool {
        self.failure.is_none()
    }
}

/// Which records a walk back keeps: each set field must match (the workspace as the
/// first segments of the resource, `workspace/<name>` or below it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub principal: Option<String>,
    pub action: Option<String>,
    pub workspace: Option<String>,
}

impl AuditFilter {
    pub fn matches(&self, record: &AuditRecord) -> bool {
        let workspace_matches = |name: &String| {
            record
                .resource
                .strip_prefix("workspace/")
                .and_then(|rest| rest.strip_prefix(name.as_str()))
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        self.principal
            .as_ref()
            .is_none_or(|principal| record.principal == *principal)
            && self
                .action
                .as_ref()
                .is_none_or(|action| record.action == *action)
            && self.workspace.as_ref().is_none_or(workspace_matches)
    }
}

/// Records found walking back from the end of the chain, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditPage {
    pub records: Vec<AuditRecord>,
    /// Where to walk on from for the next (older) page: the position of the oldest
    /// record examined. 0 when the walk reached the first record.
    pub next_before: u64,
}

impl StateReader {
    /// Up to `limit` audit records from chain position `from_index` on.
    pub fn audit_range(&self, from_index: u64, limit: usize) -> Result<Vec<AuditRecord>, Error> {
        let snapshot = self.storage.db().snapshot();
        let (start, end) = keys::audit_records_from(from_index);
        let mut records = Vec::with_capacity(limit.min(1024));
        if limit == 0 {
            return Ok(records);
        }
        self.scan(&snapshot, start, end, |key, value| {
            records.push(decode_audit(key, value)?);
            Ok(records.len() < limit)
        })?;
        Ok(records)
    }

    /// The end of the audit chain; the default (empty) head before the first record.
    pub fn audit_head(&self) -> Result<AuditHead, Error> {
        Ok(self
            .storage
            .get(keys::SM_CF, keys::AUDIT_HEAD, || "audit head".into())?
            .unwrap_or_default())
    }

    /// Up to `limit` records matching `filter` before chain position `before` (0: from
    /// the end), newest first, examining at most `max_examined` records so a filter that
    /// matches little cannot make one call read the whole chain: the page then holds
    /// fewer records and `next_before` says where to go on.
    pub fn audit_before(
        &self,
        before: u64,
        filter: &AuditFilter,
        limit: usize,
        max_examined: usize,
    ) -> Result<AuditPage, Error> {
        let snapshot = self.storage.db().snapshot();
        let (start, mut end) = keys::audit_records_from(1);
        if before > 0 {
            end = keys::audit_record(before);
        }
        let cf = self.storage.cf(keys::SM_CF)?;
        let mut options = ReadOptions::default();
        options.set_iterate_lower_bound(start);
        options.set_iterate_upper_bound(end);
        let mut page = AuditPage::default();
        let records = snapshot.iterator_cf_opt(cf, options, IteratorMode::End);
        for (examined, item) in records.enumerate() {
            if page.records.len() >= limit || examined >= max_examined {
                return Ok(page);
            }
            let (key, value) = item.map_err(|source| Error::Read {
                what: "audit records".into(),
                source,
            })?;
            let record = decode_audit(&key, &value)?;
            page.next_before = record.index;
            if filter.matches(&record) {
                page.records.push(record);
            }
        }
        // The walk reached the first record.
        page.next_before = 0;
        Ok(page)
    }

    /// Re-verifies every stored audit record in chain order and compares the result with
    /// the stored audit head. All reads come from one RocksDB snapshot, so entries
    /// applied meanwhile cannot cause a false alarm. A record that does not decode is a
    /// verification failure at its position, not an error: only I/O failures are errors.
    pub fn verify_audit(&self) -> Result<AuditVerification, Error> {
        let snapshot = self.storage.db().snapshot();
        let applied_index = self
            .value_at(&snapshot, keys::APPLIED, "applied log id")?
            .map(|bytes| codec::decode::<LogId>(|| "applied log id".into(), &bytes))
            .transpose()?
            .map_or(0, |log_id| log_id.index);
        // A damaged head is reported after the chain, which may have failed earlier.
        let stored_head = self
            .value_at(&snapshot, keys::AUDIT_HEAD, "audit head")?
            .map(|bytes| codec::decode::<AuditHead>(|| "audit head".into(), &bytes))
            .transpose()
            .map(Option::unwrap_or_default);

        let mut anchors = match anchor::AnchorCheck::read(self, &snapshot)? {
            Ok(anchors) => anchors,
            Err(failure) => {
                return Ok(AuditVerification {
                    record_count: 0,
                    head_hash: None,
                    failure: Some(failure),
                    anchors: AnchorReport::default(),
                    applied_index,
                });
            }
        };
        let mut verifier = ChainVerifier::new();
        let mut failure = None;
        let (start, end) = keys::audit_records_from(1);
        self.scan(&snapshot, start, end, |key, value| {
            failure = match check_record(&mut verifier, key, value) {
                Ok(record) => anchors.on_record(&record),
                Err(failure) => Some(failure),
            };
            Ok(failure.is_none())
        })?;

        let verified = verifier.head();
        let (report, beyond) = anchors.finish(verified.count);
        if failure.is_none() {
            failure = match stored_head {
                Ok(stored_head) => compare_heads(&verified, &stored_head),
                Err(error) => Some((verified.count, error.to_string())),
            };
        }
        // A checkpoint past the end proves a cut tail even when the head was cut with it.
        let failure = failure.or(beyond);
        Ok(AuditVerification {
            record_count: verified.count,
            head_hash: (verified.count > 0).then_some(verified.hash),
            failure,
            anchors: report,
            applied_index,
        })
    }
}

fn decode_audit(key: &[u8], value: &[u8]) -> Result<AuditRecord, Error> {
    let index = keys::audit_record_index(key).ok_or_else(|| Error::Corrupt {
        what: format!("audit key {key:?}"),
        reason: "malformed".into(),
    })?;
    codec::decode(|| format!("audit record {index}"), value)
}

/// Pushes one stored record through the verifier and returns it; the failure names the
/// position the record is stored at, whatever the (possibly damaged) record claims.
fn check_record(
    verifier: &mut ChainVerifier,
    key: &[u8],
    value: &[u8],
) -> Result<AuditRecord, (u64, String)> {
    let expected = verifier.head().count + 1;
    let Some(position) = keys::audit_record_index(key) else {
        return Err((expected, format!("malformed audit key {key:?}")));
    };
    if position != expected {
        return Err((
            expected,
            format!("record {expected} is missing; the next stored is {position}"),
        ));
    }
    let record: AuditRecord = codec::decode(|| format!("audit record {position}"), value)
        .map_err(|error| (position, error.to_string()))?;
    if record.index != position {
        return Err((
            position,
            format!("record stored at {position} claims index {}", record.index),
        ));
    }
    verifier
        .push(&record)
        .map_err(|error| (position, error.to_string()))?;
    Ok(record)
}

/// A verified chain that disagrees with the stored head: records were removed, added or
/// rewritten along with their hashes.
fn compare_heads(verified: &AuditHead, stored: &AuditHead) -> Option<(u64, String)> {
    let problem = |index| {
        let message = format!(
            "the chain holds {} records ending in {}, the stored audit head says {} ending in {}",
            verified.count, verified.hash, stored.count, stored.hash
        );
        Some((index, message))
    };
    if verified.count != stored.count {
        problem(verified.count.min(stored.count) + 1)
    } else if verified.hash != stored.hash {
        problem(verified.count)
    } else {
        None
    }
}
