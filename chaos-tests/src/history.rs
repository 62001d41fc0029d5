//! The record of a chaos run: every client operation (one JSON object per line) and the final state of every node.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::agent_history::{Decision, JournalStep, JournalWrite, LedgerLine, Watched};

/// One client operation, with its invocation and completion times in ms since the run started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    pub client: u32,
    pub start_ms: u64,
    pub end_ms: u64,
    pub op: Op,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Op {
    /// SubmitTask with this idempotency key and input (`input_hash` is a stable digest the harness computes; opaque here).
    Submit {
        workspace: String,
        idempotency_key: String,
        input_hash: String,
    },
    /// After the run, an unknown-outcome submission retried with the same key and input to learn what happened.
    Resolve {
        workspace: String,
        idempotency_key: String,
        input_hash: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// Acknowledged: the task id the server returned (deduplicated or not).
    Ok { task_id: String, deduplicated: bool },
    /// Definitely not applied: the server refused it (a code like "NOT_FOUND", "INVALID_ARGUMENT", "ALREADY_EXISTS").
    Failed { code: String, message: String },
    /// May or may not have been applied: UNAVAILABLE, timeout, connection cut.
    Unknown { reason: String },
}

/// The identity a submission is deduplicated by: an idempotency key is scoped to its workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskKey<'a> {
    pub workspace: &'a str,
    pub idempotency_key: &'a str,
}

impl fmt::Display for TaskKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.workspace, self.idempotency_key)
    }
}

impl Op {
    pub fn key(&self) -> TaskKey<'_> {
        match self {
            Op::Submit {
                workspace,
                idempotency_key,
                ..
            }
            | Op::Resolve {
                workspace,
                idempotency_key,
                ..
            } => TaskKey {
                workspace,
                idempotency_key,
            },
        }
    }

    pub fn input_hash(&self) -> &str {
        match self {
            Op::Submit { input_hash, .. } | Op::Resolve { input_hash, .. } => input_hash,
        }
    }

    pub fn is_resolve(&self) -> bool {
        matches!(self, Op::Resolve { .. })
    }
}

impl Operation {
    /// The task id the server acknowledged, if it did.
    pub fn acked_task_id(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Ok { task_id, .. } => Some(task_id),
            Outcome::Failed { .. } | Outcome::Unknown { .. } => None,
        }
    }

    /// A short description for violation messages, so a reader can find the line in the history.
    pub fn describe(&self) -> String {
        let kind = if self.op.is_resolve() {
            "resolve"
        } else {
            "submit"
        };
        format!(
            "{kind} by client {} at {}..{} ms",
            self.client, self.start_ms, self.end_ms
        )
    }
}

/// Every operation of a run, in the order the clients recorded them, and what the
/// agent workload's approver and watchers saw (`agent_history.rs`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Submissions and their resolutions (`history.jsonl`).
    pub operations: Vec<Operation>,
    /// The approver's decisions (`decisions.jsonl`).
    pub decisions: Vec<Decision>,
    /// Every event each watcher received, in the order it received them (`watched.jsonl`).
    pub watched: Vec<Watched>,
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}:{line}: invalid operation")]
    InvalidLine {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: invalid final state")]
    InvalidState {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl History {
    pub fn write_jsonl(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let mut writer = BufWriter::new(File::create(path)?);
        for operation in &self.operations {
            serde_json::to_writer(&mut writer, operation)?;
            writer.write_all(b"\n")?;
        }
        // Flush explicitly: BufWriter's drop swallows the error, and a truncated history would be misjudged.
        writer.flush()
    }

    /// Reads a history, skipping blank lines (a crashed writer may leave one); line numbers start at 1.
    pub fn read_jsonl(path: impl AsRef<Path>) -> Result<History, HistoryError> {
        let path = path.as_ref();
        let io_error = |source| HistoryError::Io {
            path: path.to_path_buf(),
            source,
        };
        let reader = BufReader::new(File::open(path).map_err(io_error)?);
        let mut operations = Vec::new();
        for (index, line) in reader.lines().enumerate() {
            let line = line.map_err(io_error)?;
            if line.trim().is_empty() {
                continue;
            }
            let operation =
                serde_json::from_str(&line).map_err(|source| HistoryError::InvalidLine {
                    path: path.to_path_buf(),
                    line: index + 1,
                    source,
                })?;
            operations.push(operation);
        }
        Ok(History {
            operations,
            ..History::default()
        })
    }

    /// Writes the approver's decisions and the watchers' events as `decisions.jsonl` and
    /// `watched.jsonl` in `dir`.
    pub fn write_agent_files(&self, dir: &Path) -> io::Result<()> {
        crate::agent_history::write_jsonl(&self.decisions, &dir.join("decisions.jsonl"))?;
        crate::agent_history::write_jsonl(&self.watched, &dir.join("watched.jsonl"))
    }

    /// The SubmitTask calls made during the run, without the resolutions made after it.
    pub fn submissions(&self) -> impl Iterator<Item = &Operation> {
        self.operations
            .iter()
            .filter(|operation| !operation.op.is_resolve())
    }

    /// Every operation grouped by the key it was deduplicated by, each group in history order.
    pub fn by_key(&self) -> BTreeMap<TaskKey<'_>, Vec<&Operation>> {
        let mut groups: BTreeMap<TaskKey<'_>, Vec<&Operation>> = BTreeMap::new();
        for operation in &self.operations {
            groups
                .entry(operation.op.key())
                .or_default()
                .push(operation);
        }
        groups
    }
}

/// What one node holds at the end of a run (local reads after all faults healed and the cluster converged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeState {
    pub node_id: u64,
    pub applied_index: u64,
    pub audit_count: u64,
    /// Hex hash of the last audit record.
    pub audit_head: String,
    pub audit_ok: bool,
    /// Empty when `audit_ok`.
    pub audit_problem: String,
    /// Signed checkpoints the node stores (each verified with the chain by `audit verify`)
    /// and the highest record a valid one covers.
    #[serde(default)]
    pub checkpoint_count: u64,
    #[serde(default)]
    pub checkpoint_covered: u64,
    pub tasks: Vec<TaskState>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskState {
    pub id: String,
    pub workspace: String,
    pub idempotency_key: String,
    pub input_hash: String,
    /// The agent the task was submitted to.
    #[serde(default)]
    pub agent: String,
    /// `completed`, `waiting_approval`, ... (`TaskStatus` without its prefix, lowercase).
    #[serde(default)]
    pub status: String,
    /// The whole journal, for the tasks of agents that run (empty for a paused agent's).
    #[serde(default)]
    pub journal: Vec<JournalStep>,
}

impl TaskState {
    pub fn key(&self) -> TaskKey<'_> {
        TaskKey {
            workspace: &self.workspace,
            idempotency_key: &self.idempotency_key,
        }
    }
}

impl NodeState {
    /// The node's tasks by id; the checkers look tasks up once per acknowledgement, so a scan would be quadratic.
    pub fn tasks_by_id(&self) -> BTreeMap<&str, &TaskState> {
        self.tasks
            .iter()
            .map(|task| (task.id.as_str(), task))
            .collect()
    }
}

/// The final state of every node, in a JSON file next to the history, with what is
/// read once for the whole cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FinalState {
    pub nodes: Vec<NodeState>,
    /// The ledger tool server's record of every invocation that completed.
    #[serde(default)]
    pub ledger: Vec<LedgerLine>,
    /// The audit records of every journal write, in chain order.
    #[serde(default)]
    pub journal_writes: Vec<JournalWrite>,
    /// `audit heads` after the final on-demand checkpoint: whether every node's head
    /// agreed with the others' and with the signed checkpoints, and each problem named.
    #[serde(default)]
    pub heads: Option<HeadsState>,
}

/// What `ListAuditHeads` said at the end of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HeadsState {
    pub agree: bool,
    /// `node <id>: <problem or unreachable error>`, for each node that has one.
    pub problems: Vec<String>,
    /// How many nodes signed the final on-demand checkpoint.
    pub signed: usize,
}

impl FinalState {
    /// Each agent task's journal as the first node holds it, by task id (the checkers
    /// compare the nodes with each other separately).
    pub fn journals(&self) -> BTreeMap<&str, &[JournalStep]> {
        self.nodes
            .first()
            .map(|node| {
                node.tasks
                    .iter()
                    .filter(|task| !task.journal.is_empty())
                    .map(|task| (task.id.as_str(), task.journal.as_slice()))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn write_json(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let mut writer = BufWriter::new(File::create(path)?);
        serde_json::to_writer_pretty(&mut writer, self)?;
        writer.write_all(b"\n")?;
        writer.flush()
    }

    pub fn read_json(path: impl AsRef<Path>) -> Result<FinalState, HistoryError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| HistoryError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| HistoryError::InvalidState {
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A path under the system temp dir that no other test (or concurrent run) uses.
    fn unique_temp_path(name: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default();
        std::env::temp_dir().join(format!(
            "warden-chaos-{name}-{}-{nanos}",
            std::process::id()
        ))
    }

    fn sample() -> History {
        let submit = |key: &str| Op::Submit {
            workspace: "ws".into(),
            idempotency_key: key.into(),
            input_hash: format!("h-{key}"),
        };
        History {
            operations: vec![
                Operation {
                    client: 1,
                    start_ms: 5,
                    end_ms: 9,
                    op: submit("k1"),
                    outcome: Outcome::Ok {
                        task_id: "t1".into(),
                        deduplicated: false,
                    },
                },
                Operation {
                    client: 2,
                    start_ms: 6,
                    end_ms: 30,
                    op: submit("k2"),
                    outcome: Outcome::Unknown {
                        reason: "deadline exceeded".into(),
                    },
                },
                Operation {
                    client: 2,
                    start_ms: 31,
                    end_ms: 33,
                    op: submit("k3"),
                    outcome: Outcome::Failed {
                        code: "INVALID_ARGUMENT".into(),
                        message: "input empty".into(),
                    },
                },
                Operation {
                    client: 0,
                    start_ms: 100,
                    end_ms: 101,
                    op: Op::Resolve {
                        workspace: "ws".into(),
                        idempotency_key: "k2".into(),
                        input_hash: "h-k2".into(),
                    },
                    outcome: Outcome::Ok {
                        task_id: "t2".into(),
                        deduplicated: true,
                    },
                },
            ],
            ..History::default()
        }
    }

    #[test]
    fn history_round_trips_through_jsonl() -> anyhow::Result<()> {
        let path = unique_temp_path("roundtrip.jsonl");
        let history = sample();
        history.write_jsonl(&path)?;
        let read = History::read_jsonl(&path);
        std::fs::remove_file(&path)?;
        assert_eq!(read?, history);
        Ok(())
    }

    #[test]
    fn jsonl_uses_tagged_variants() -> anyhow::Result<()> {
        // The harness, replay tools and humans read these files, so the shape is part of the format.
        let line = serde_json::to_string(&sample().operations[0])?;
        assert!(
            line.contains(r#""op":{"type":"submit","workspace":"ws""#),
            "{line}"
        );
        assert!(
            line.contains(r#""outcome":{"result":"ok","task_id":"t1","deduplicated":false}"#),
            "{line}"
        );
        Ok(())
    }

    #[test]
    fn corrupt_line_is_reported_by_number() -> anyhow::Result<()> {
        let path = unique_temp_path("corrupt.jsonl");
        sample().write_jsonl(&path)?;
        let mut text = std::fs::read_to_string(&path)?;
        // A blank line 3 must still count, so the corrupt line is line 4.
        let lines: Vec<&str> = text.lines().collect();
        text = format!(
            "{}\n{}\n\n{{\"client\": 1, \"start_ms\": \n{}\n",
            lines[0], lines[1], lines[2]
        );
        std::fs::write(&path, text)?;
        let result = History::read_jsonl(&path);
        std::fs::remove_file(&path)?;
        match result {
            Err(HistoryError::InvalidLine { line, .. }) => assert_eq!(line, 4),
            other => panic!("expected an invalid line error, got {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn missing_file_names_the_path() {
        let path = unique_temp_path("missing.jsonl");
        let error = History::read_jsonl(&path)
            .err()
            .map(|error| error.to_string());
        assert_eq!(error, Some(format!("cannot read {}", path.display())));
    }

    #[test]
    fn final_state_round_trips_through_json() -> anyhow::Result<()> {
        let path = unique_temp_path("final.json");
        let state = FinalState {
            nodes: vec![NodeState {
                node_id: 1,
                applied_index: 42,
                audit_count: 40,
                audit_head: "ab12".into(),
                audit_ok: true,
                audit_problem: String::new(),
                checkpoint_count: 3,
                checkpoint_covered: 80,
                tasks: vec![TaskState {
                    id: "t1".into(),
                    workspace: "ws".into(),
                    idempotency_key: "k1".into(),
                    input_hash: "h-k1".into(),
                    ..TaskState::default()
                }],
            }],
            ..FinalState::default()
        };
        state.write_json(&path)?;
        let read = FinalState::read_json(&path);
        std::fs::remove_file(&path)?;
        assert_eq!(read?, state);
        Ok(())
    }

    #[test]
    fn by_key_groups_in_history_order() {
        let history = sample();
        let groups = history.by_key();
        assert_eq!(groups.len(), 3);
        let k2 = TaskKey {
            workspace: "ws",
            idempotency_key: "k2",
        };
        let clients: Vec<u32> = groups[&k2]
            .iter()
            .map(|operation| operation.client)
            .collect();
        assert_eq!(clients, vec![2, 0]);
        assert_eq!(history.submissions().count(), 3);
    }
}
