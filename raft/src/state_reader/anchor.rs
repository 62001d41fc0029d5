//! Reads of the audit anchors (node keys, checkpoints, the checkpoint interval) and the
//! checks the stored checkpoints add to a chain verification.

use std::collections::{BTreeMap, HashMap};

use warden_core::{AuditKey, AuditRecord, AuditSettings, Checkpoint, Hash, NodeId, NodeRecord};

use super::{DbSnapshot, StateReader};
use crate::codec;
use crate::error::Error;
use crate::keys;

/// What the stored checkpoints say about a verified chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnchorReport {
    /// How many checkpoints are stored.
    pub checkpoint_count: u64,
    /// The highest record a valid checkpoint signs (0 when none does), and its signer.
    pub covered: u64,
    pub covered_by: Option<NodeId>,
    /// The interval the cluster was initialized with; `None` before it was.
    pub interval: Option<u64>,
    /// The nodes registered with an audit key at some point.
    pub keyed_nodes: Vec<NodeId>,
    /// The highest record each signer's valid checkpoints cover, by node and key.
    pub per_signer: BTreeMap<(NodeId, AuditKey), u64>,
    /// Every node record, for checking a trusted key against.
    pub nodes: Vec<NodeRecord>,
}

impl StateReader {
    /// Every node record, in id order.
    pub fn node_records(&self) -> Result<Vec<NodeRecord>, Error> {
        self.all_in(keys::nodes(), "node record")
    }

    /// Every stored checkpoint, by node then index.
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>, Error> {
        self.all_in(keys::checkpoints(), "checkpoint")
    }

    /// Node `node`'s checkpoint of the highest record.
    pub fn latest_checkpoint(&self, node: NodeId) -> Result<Option<Checkpoint>, Error> {
        let snapshot = self.storage.db().snapshot();
        let (start, end) = keys::checkpoints_of(node);
        let cf = self.storage.cf(keys::SM_CF)?;
        let mut options = rocksdb::ReadOptions::default();
        options.set_iterate_lower_bound(start);
        options.set_iterate_upper_bound(end);
        let mut last = snapshot.iterator_cf_opt(cf, options, rocksdb::IteratorMode::End);
        match last.next() {
            None => Ok(None),
            Some(item) => {
                let (key, value) = item.map_err(|source| Error::Read {
                    what: format!("checkpoints of node {node}"),
                    source,
                })?;
                codec::decode(|| format!("checkpoint key {key:?}"), &value).map(Some)
            }
        }
    }

    pub fn audit_settings(&self) -> Result<Option<AuditSettings>, Error> {
        self.storage.get(keys::SM_CF, keys::AUDIT_SETTINGS, || {
            "audit settings".into()
        })
    }

    /// The hash of record `index`, if the chain holds it.
    pub fn audit_hash(&self, index: u64) -> Result<Option<Hash>, Error> {
        let record: Option<AuditRecord> =
            self.storage
                .get(keys::SM_CF, &keys::audit_record(index), || {
                    format!("audit record {index}")
                })?;
        Ok(record.map(|record| record.hash))
    }
}

/// The stored checkpoints, checked against the chain as it is verified record by record.
pub(super) struct AnchorCheck {
    by_index: BTreeMap<u64, Vec<Checkpoint>>,
    nodes: HashMap<NodeId, NodeRecord>,
    report: AnchorReport,
}

impl AnchorCheck {
    /// Reads the checkpoints, node records and settings as of `snapshot`. A checkpoint
    /// that does not decode is a failure at the position its key names.
    pub(super) fn read(
        reader: &StateReader,
        snapshot: &DbSnapshot<'_>,
    ) -> Result<Result<AnchorCheck, (u64, String)>, Error> {
        let mut by_index: BTreeMap<u64, Vec<Checkpoint>> = BTreeMap::new();
        let mut broken = None;
        let mut count = 0;
        let (start, end) = keys::checkpoints();
        reader.scan(snapshot, start, end, |key, value| {
            count += 1;
            match codec::decode::<Checkpoint>(|| format!("checkpoint key {key:?}"), value) {
                Ok(checkpoint) => by_index
                    .entry(checkpoint.index)
                    .or_default()
                    .push(checkpoint),
                Err(error) => broken = Some((0, error.to_string())),
            }
            Ok(broken.is_none())
        })?;
        if let Some(failure) = broken {
            return Ok(Err(failure));
        }
        let mut nodes = HashMap::new();
        let (start, end) = keys::nodes();
        reader.scan(snapshot, start, end, |key, value| {
            let record: NodeRecord = codec::decode(|| format!("node key {key:?}"), value)?;
            nodes.insert(record.node, record);
            Ok(true)
        })?;
        let settings = reader
            .value_at(snapshot, keys::AUDIT_SETTINGS, "audit settings")?
            .map(|bytes| codec::decode::<AuditSettings>(|| "audit settings".into(), &bytes))
            .transpose()?;
        let mut keyed_nodes: Vec<NodeId> = nodes
            .values()
            .filter(|record| !record.audit_keys.is_empty())
            .map(|record| record.node)
            .collect();
        keyed_nodes.sort();
        let mut records: Vec<NodeRecord> = nodes.values().cloned().collect();
        records.sort_by_key(|record| record.node);
        Ok(Ok(AnchorCheck {
            by_index,
            nodes,
            report: AnchorReport {
                checkpoint_count: count,
                interval: settings.map(|settings| settings.checkpoint_interval),
                keyed_nodes,
                nodes: records,
                ..AnchorReport::default()
            },
        }))
    }

    /// Checks the checkpoints of the verified record `record`.
    pub(super) fn on_record(&mut self, record: &AuditRecord) -> Option<(u64, String)> {
        let checkpoints = self.by_index.remove(&record.index)?;
        for checkpoint in checkpoints {
            if let Some(problem) = self.problem(&checkpoint, record.hash) {
                return Some((record.index, problem));
            }
            self.report.covered = record.index;
            self.report.covered_by = Some(checkpoint.node);
            self.report
                .per_signer
                .insert((checkpoint.node, checkpoint.key), record.index);
        }
        None
    }

    fn problem(&self, checkpoint: &Checkpoint, hash: Hash) -> Option<String> {
        let node = checkpoint.node;
        let index = checkpoint.index;
        let known = self
            .nodes
            .get(&node)
            .is_some_and(|record| record.knows(&checkpoint.key));
        if !known {
            return Some(format!(
                "checkpoint of node {node} at record {index} is signed with key {}, which was never registered for node {node}",
                checkpoint.key
            ));
        }
        if let Err(error) = checkpoint.verify_signature() {
            return Some(format!(
                "checkpoint of node {node} at record {index}: {error}"
            ));
        }
        if checkpoint.hash != hash {
            return Some(format!(
                "node {node} signed record {index} as {}, but the chain holds {hash}",
                checkpoint.hash
            ));
        }
        None
    }

    /// After the chain: a checkpoint of a record past its end proves records were removed.
    pub(super) fn finish(mut self, count: u64) -> (AnchorReport, Option<(u64, String)>) {
        let beyond = self.by_index.pop_last().and_then(|(index, checkpoints)| {
            let checkpoint = checkpoints.first()?;
            Some((
                count + 1,
                format!(
                    "node {} signed record {index}, but the chain ends at record {count}",
                    checkpoint.node
                ),
            ))
        });
        (self.report, beyond)
    }
}
