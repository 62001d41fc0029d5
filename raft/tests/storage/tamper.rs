//! A stored audit record changed behind the node's back is caught by `verify_audit`.

use openraft::storage::RaftStateMachine;
use rocksdb::{DB, Options};
use warden_raft::{Storage, keys};

use crate::fixtures::{TestResult, create, open_temp, provider_and_agent, submit};

#[tokio::test]
async fn a_flipped_byte_in_audit_record_5_fails_verification_at_5() -> TestResult {
    let (dir, storage) = open_temp()?;
    let [provider, agent] = provider_and_agent(2, "acme");
    storage
        .state_machine()?
        .apply([
            create(1, "acme"),
            provider,
            agent,
            submit(4, "acme", 1, "a", "one"),
            // Record 5, in the middle of the chain.
            submit(5, "acme", 2, "b", "two"),
            submit(6, "acme", 3, "c", "three"),
            submit(7, "acme", 4, "d", "four"),
        ])
        .await?;
    assert!(storage.reader().verify_audit()?.is_ok());
    drop(storage);

    {
        let raw = DB::open_cf(&Options::default(), dir.path(), keys::ALL_CFS)?;
        let sm = raw.cf_handle(keys::SM_CF).ok_or("no sm column family")?;
        let key = keys::audit_record(5);
        let mut value = raw
            .get_cf(sm, &key)?
            .ok_or("audit record 5 is not stored")?;
        let middle = value.len() / 2;
        value[middle] ^= 0x01;
        raw.put_cf(sm, &key, value)?;
    }

    let verification = Storage::open(dir.path())?.reader().verify_audit()?;
    let (index, problem) = verification.failure.ok_or("tampering went unnoticed")?;
    assert_eq!(index, 5, "{problem}");
    assert_eq!(verification.record_count, 4);
    Ok(())
}
