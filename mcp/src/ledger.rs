//! The invocation ledger: a JSON Lines file with one line per completed tool invocation of
//! the ledger tool server, so tests can see which side effects really happened.
//!
//! Format, one object per line:
//! `{"seq": 3, "tool": "append", "arguments": {"entry": "x"}, "pid": 4242, "time_ms": 1700000000000}`.
//! `seq` counts from 1 per server process, so `(pid, seq)` identifies an invocation; the
//! order of lines is the order in which invocations completed. Several processes may append
//! to one ledger: the file is opened with `O_APPEND` and each line is written with a single
//! `write` call, then `fdatasync`ed before the invocation returns.

use std::{
    fs::{File, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};

use crate::Error;

/// One completed invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerEntry {
    pub seq: u64,
    pub tool: String,
    pub arguments: serde_json::Map<String, serde_json::Value>,
    pub pid: u32,
    pub time_ms: u64,
}

/// Reads every entry of a ledger, in file order. A missing file is an empty ledger.
pub fn read_ledger(path: impl AsRef<Path>) -> Result<Vec<LedgerEntry>, Error> {
    let path = path.as_ref();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(Error::ledger(path, error)),
    };
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str(line).map_err(|error| Error::LedgerCorrupt {
                path: path.to_owned(),
                line: index + 1,
                reason: error.to_string(),
            })
        })
        .collect()
}

/// Appends entries for one process.
#[derive(Debug)]
pub struct LedgerWriter {
    path: PathBuf,
    file: Mutex<File>,
    next_seq: AtomicU64,
}

impl LedgerWriter {
    /// Opens (creating it if needed) the ledger at `path` for appending.
    pub fn open(path: impl Into<PathBuf>) -> Result<LedgerWriter, Error> {
        let path = path.into();
        let file = open_append(&path)?;
        Ok(LedgerWriter {
            path,
            file: Mutex::new(file),
            next_seq: AtomicU64::new(1),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one entry durably. Blocking: call it off the async threads.
    pub fn append(
        &self,
        tool: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
    ) -> Result<LedgerEntry, Error> {
        let entry = LedgerEntry {
            seq: self.next_seq.fetch_add(1, Ordering::Relaxed),
            tool: tool.to_owned(),
            arguments,
            pid: std::process::id(),
            time_ms: now_ms(),
        };
        let mut line = serde_json::to_vec(&entry).map_err(|error| Error::LedgerCorrupt {
            path: self.path.clone(),
            line: 0,
            reason: error.to_string(),
        })?;
        line.push(b'\n');
        let file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        write_line_durably(&file, &self.path, &line)?;
        Ok(entry)
    }
}

/// Opens `path` with `O_APPEND`, creating it (and syncing its directory) when missing.
pub(crate) fn open_append(path: &Path) -> Result<File, Error> {
    let existed = path.exists();
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|error| Error::ledger(path, error))?;
    if !existed && let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        File::open(dir)
            .and_then(|dir| dir.sync_all())
            .map_err(|error| Error::ledger(dir, error))?;
    }
    Ok(file)
}

/// One `write` call (so concurrent appenders never interleave inside a line), then
/// `fdatasync`. A short write or a failed sync is an error, never retried: after a failed
/// fsync the kernel may already have dropped the data.
pub(crate) fn write_line_durably(mut file: &File, path: &Path, line: &[u8]) -> Result<(), Error> {
    let written = file
        .write(line)
        .map_err(|error| Error::ledger(path, error))?;
    if written != line.len() {
        return Err(Error::ledger(
            path,
            std::io::Error::other(format!("short write: {written} of {} bytes", line.len())),
        ));
    }
    file.sync_data().map_err(|error| Error::ledger(path, error))
}

fn now_ms() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_entries_read_back_in_order_with_sequence_numbers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger.jsonl");
        assert_eq!(read_ledger(&path).expect("missing ledger"), vec![]);

        let writer = LedgerWriter::open(&path).expect("open");
        let args = serde_json::json!({"entry": "a"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        writer.append("append", args.clone()).expect("append");
        writer
            .append("get", serde_json::Map::new())
            .expect("append");

        let entries = read_ledger(&path).expect("read");
        assert_eq!(entries.len(), 2);
        assert_eq!((entries[0].seq, entries[0].tool.as_str()), (1, "append"));
        assert_eq!(entries[0].arguments, args);
        assert_eq!(entries[0].pid, std::process::id());
        assert_eq!((entries[1].seq, entries[1].tool.as_str()), (2, "get"));
    }

    #[test]
    fn a_garbled_line_is_reported_with_its_number() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger.jsonl");
        let writer = LedgerWriter::open(&path).expect("open");
        writer
            .append("noop", serde_json::Map::new())
            .expect("append");
        let file = open_append(&path).expect("open");
        write_line_durably(&file, &path, b"{\"seq\": \n").expect("write");
        match read_ledger(&path) {
            Err(Error::LedgerCorrupt { line, .. }) => assert_eq!(line, 2),
            other => panic!("expected a corrupt line, got {other:?}"),
        }
    }
}
