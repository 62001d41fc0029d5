//! The ledger server's key-value store: an append-only JSON Lines file next to the ledger
//! (`<ledger>.kv`), one `{"key": .., "value": ..}` per `put`; the last line for a key wins.
//! Appending (rather than rewriting) keeps it safe for several processes at once.

use std::{
    fs::File,
    path::{Path, PathBuf},
    sync::Mutex,
};

use serde::{Deserialize, Serialize};

use crate::{
    Error,
    ledger::{open_append, write_line_durably},
};

#[derive(Debug, Serialize, Deserialize)]
struct KvLine {
    key: String,
    value: String,
}

#[derive(Debug)]
pub(crate) struct KvFile {
    path: PathBuf,
    file: Mutex<File>,
}

impl KvFile {
    /// The store that belongs to the ledger at `ledger_path`.
    pub(crate) fn beside_ledger(ledger_path: &Path) -> Result<KvFile, Error> {
        let mut name = ledger_path.as_os_str().to_owned();
        name.push(".kv");
        let path = PathBuf::from(name);
        let file = open_append(&path)?;
        Ok(KvFile {
            path,
            file: Mutex::new(file),
        })
    }

    /// Durably records `key = value`. Blocking.
    pub(crate) fn put(&self, key: &str, value: &str) -> Result<(), Error> {
        let line = KvLine {
            key: key.to_owned(),
            value: value.to_owned(),
        };
        let mut bytes = serde_json::to_vec(&line).map_err(|error| self.corrupt(0, error))?;
        bytes.push(b'\n');
        let file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        write_line_durably(&file, &self.path, &bytes)
    }

    /// The last value put for `key`. Blocking.
    pub(crate) fn get(&self, key: &str) -> Result<Option<String>, Error> {
        let text = std::fs::read_to_string(&self.path)
            .map_err(|error| Error::ledger(&self.path, error))?;
        let mut found = None;
        for (index, line) in text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.is_empty())
        {
            let line: KvLine =
                serde_json::from_str(line).map_err(|error| self.corrupt(index + 1, error))?;
            if line.key == key {
                found = Some(line.value);
            }
        }
        Ok(found)
    }

    fn corrupt(&self, line: usize, error: serde_json::Error) -> Error {
        Error::LedgerCorrupt {
            path: self.path.clone(),
            line,
            reason: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_put_wins_and_a_missing_key_is_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kv = KvFile::beside_ledger(&dir.path().join("ledger.jsonl")).expect("open");
        assert!(dir.path().join("ledger.jsonl.kv").exists());
        kv.put("k", "1").expect("put");
        kv.put("other", "x").expect("put");
        kv.put("k", "2").expect("put");
        assert_eq!(kv.get("k").expect("get"), Some("2".to_owned()));
        assert_eq!(kv.get("missing").expect("get"), None);
    }
}
