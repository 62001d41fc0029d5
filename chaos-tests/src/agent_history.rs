//! What the agent workload records beside the submissions: the approver's decisions and
//! every event the watchers received, during the run; and, at the end, each agent task's
//! journal, the tool server's own invocation ledger and the audit records of journal
//! writes. Each list is a JSON Lines file next to `history.jsonl`.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::history::{HistoryError, Outcome};

/// The statuses a task rests in (it ended, or waits for a person), each with the journal
/// entry that puts it there. After such an entry a task has no owner.
pub const RESTING: [(&str, &str); 6] = [
    ("completed", "completed"),
    ("failed", "failed"),
    ("cancelled", "cancelled"),
    ("timed_out", "timed_out"),
    ("needs_attention", "needs_attention"),
    ("waiting_approval", "approval_requested"),
];

/// One approver decision, with when it was sent (ms since the run started) and what the
/// server answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub start_ms: u64,
    pub end_ms: u64,
    pub task_id: String,
    pub call_id: String,
    pub arguments_hash: String,
    pub approve: bool,
    /// `Ok` carries the task id; a refusal (the request expired, was already decided)
    /// or an unknown outcome as for submissions.
    pub outcome: Outcome,
}

/// One event as a watcher of the workspace received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watched {
    pub watcher: u32,
    /// When the watcher received it, ms since the run started.
    pub received_ms: u64,
    pub task_id: String,
    pub seq: u64,
    pub log_index: u64,
    pub epoch: u64,
    pub kind: String,
}

/// One journal entry of a task as a node holds it at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalStep {
    pub seq: u64,
    pub epoch: u64,
    pub log_index: u64,
    pub kind: String,
    /// The event's fields as JSON (`TaskEvent.detail_json`).
    pub detail_json: String,
}

/// One completed invocation in the ledger tool server's own file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerLine {
    pub tool: String,
    /// `arguments.entry` for `append`, `arguments.key` for `put`.
    pub entry: String,
    pub pid: u32,
}

/// The audit record of one journal write, accepted or rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalWrite {
    pub log_index: u64,
    /// `task/<workspace>/<id>` or the like: holds the task id.
    pub resource: String,
    /// "accepted" or "rejected".
    pub outcome: String,
    /// `node N epoch E`, then the rejection for a rejected write.
    pub detail: String,
}

impl JournalWrite {
    /// The node and epoch the write came from, read from its detail.
    pub fn node_and_epoch(&self) -> Option<(u64, u64)> {
        let rest = self.detail.strip_prefix("node ")?;
        let (node, rest) = rest.split_once(" epoch ")?;
        let epoch = rest.split(':').next()?;
        Some((node.parse().ok()?, epoch.trim().parse().ok()?))
    }
}

pub fn write_jsonl<T: Serialize>(items: &[T], path: &Path) -> std::io::Result<()> {
    let mut writer = BufWriter::new(File::create(path)?);
    for item in items {
        serde_json::to_writer(&mut writer, item)?;
        writer.write_all(b"\n")?;
    }
    // BufWriter's drop swallows the error; a truncated file would be misjudged.
    writer.flush()
}

/// Reads a JSON Lines file, skipping blank lines; line numbers start at 1.
pub fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, HistoryError> {
    let io_error = |source| HistoryError::Io {
        path: path.to_path_buf(),
        source,
    };
    let reader = BufReader::new(File::open(path).map_err(io_error)?);
    let mut items = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(io_error)?;
        if line.trim().is_empty() {
            continue;
        }
        let item = serde_json::from_str(&line).map_err(|source| HistoryError::InvalidLine {
            path: path.to_path_buf(),
            line: index + 1,
            source,
        })?;
        items.push(item);
    }
    Ok(items)
}

/// The ledger tool server's file: one JSON object per completed invocation
/// (`{"seq", "tool", "arguments", "pid", "time_ms"}`); a missing file is an empty ledger.
pub fn read_ledger(path: &Path) -> Result<Vec<LedgerLine>, HistoryError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    #[derive(Deserialize)]
    struct Line {
        tool: String,
        arguments: serde_json::Value,
        pid: u32,
    }
    let lines: Vec<Line> = read_jsonl(path)?;
    Ok(lines
        .into_iter()
        .map(|line| {
            let field = if line.tool == "put" { "key" } else { "entry" };
            let entry = line.arguments[field]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            LedgerLine {
                tool: line.tool,
                entry,
                pid: line.pid,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_write_names_its_node_and_epoch() {
        let write = |detail: &str| JournalWrite {
            log_index: 7,
            resource: "task/chaos/t1".into(),
            outcome: "accepted".into(),
            detail: detail.into(),
        };
        assert_eq!(write("node 3 epoch 2").node_and_epoch(), Some((3, 2)));
        assert_eq!(
            write("node 1 epoch 4: FAILED_PRECONDITION stale epoch").node_and_epoch(),
            Some((1, 4))
        );
        assert_eq!(write("something else").node_and_epoch(), None);
    }
}
