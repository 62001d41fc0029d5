//! openraft's storage conformance suite against a fresh RocksDB store per case.

use openraft::StorageIOError;
use openraft::testing::{StoreBuilder, Suite};
use tempfile::TempDir;
use warden_raft::types::{StorageError, TypeConfig};
use warden_raft::{LogStore, StateMachineStore, Storage};

struct TempStoreBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, TempDir> for TempStoreBuilder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachineStore), StorageError> {
        // The TempDir is the suite's guard: it outlives the stores and then removes the
        // database.
        let dir = tempfile::tempdir().map_err(|e| StorageIOError::write(&e))?;
        let storage = Storage::open(dir.path()).map_err(|e| StorageIOError::write(&e))?;
        let state_machine = storage
            .state_machine()
            .map_err(|e| StorageIOError::read_state_machine(&e))?;
        Ok((dir, storage.log_store(), state_machine))
    }
}

#[test]
fn passes_the_openraft_storage_suite() -> Result<(), Box<StorageError>> {
    Suite::test_all(TempStoreBuilder).map_err(Box::new)
}
