//! Applying a batch: the batch's domain writes, audit records and applied log id are one
//! write, so a fault on either side of it leaves the state of one batch or of the other,
//! never a mix; a batch lost before its write is applied again from the log.

use openraft::storage::RaftStateMachine;
use warden_raft::Storage;
use warden_raft::failpoints::{APPLY_AFTER_WRITE, APPLY_BEFORE_WRITE};
use warden_raft::types::Entry;

use crate::fixtures::{
    TestResult, create, log_id, membership, open_temp, provider_and_agent, submit,
};
use crate::{View, assert_injected, crash, view};

/// Applied and acknowledged before the fault.
fn first_batch() -> Vec<Entry> {
    let mut entries = vec![membership(1, &[1, 2, 3]), create(2, "acme")];
    entries.extend(provider_and_agent(3, "acme"));
    entries.push(submit(5, "acme", 10, "a", "one"));
    entries
}

/// Being applied when the fault strikes.
fn second_batch() -> Vec<Entry> {
    vec![
        submit(6, "acme", 20, "b", "two"),
        create(7, "beta"),
        submit(8, "acme", 30, "c", "three"),
    ]
}

/// The views of a store that applied the first batch, and of one that applied both.
async fn reference() -> Result<(View, View), Box<dyn std::error::Error + Send + Sync>> {
    let (_dir, storage) = open_temp()?;
    let mut machine = storage.state_machine()?;
    machine.apply(first_batch()).await?;
    let after_first = view(&storage)?;
    machine.apply(second_batch()).await?;
    Ok((after_first, view(&storage)?))
}

#[tokio::test]
async fn a_failed_apply_is_an_apply_error_and_leaves_one_whole_batch() -> TestResult {
    let _scenario = fail::FailScenario::setup();
    let (after_first, after_both) = reference().await?;
    assert_eq!(after_first.applied, Some(log_id(1, 5)));
    assert_eq!(after_both.applied, Some(log_id(1, 8)));
    for (failpoint, written) in [
        (APPLY_BEFORE_WRITE, &after_first),
        (APPLY_AFTER_WRITE, &after_both),
    ] {
        let (dir, storage) = open_temp()?;
        let mut machine = storage.state_machine()?;
        machine.apply(first_batch()).await?;
        fail::cfg(failpoint, "return")?;
        let error = machine
            .apply(second_batch())
            .await
            .expect_err("the apply succeeded past its failpoint");
        fail::remove(failpoint);
        assert!(
            error.to_string().starts_with("when Write Apply"),
            "{failpoint}: {error}"
        );
        assert_injected(&error, failpoint);
        // The failed apply returned no outcomes, so nothing of it was acknowledged, and
        // openraft stops the node on the error.
        assert_eq!(view(&storage)?, *written, "{failpoint}");
        drop((machine, storage));

        let storage = Storage::open(dir.path())?;
        assert_eq!(view(&storage)?, *written, "{failpoint} after a reopen");
    }
    Ok(())
}

#[tokio::test]
async fn a_crash_around_the_apply_write_recovers_by_applying_from_the_log() -> TestResult {
    let _scenario = fail::FailScenario::setup();
    let (after_first, after_both) = reference().await?;
    for (failpoint, written) in [
        (APPLY_BEFORE_WRITE, &after_first),
        (APPLY_AFTER_WRITE, &after_both),
    ] {
        let (dir, storage) = open_temp()?;
        let mut machine = storage.state_machine()?;
        machine.apply(first_batch()).await?;
        drop(storage);
        fail::cfg(failpoint, "panic")?;
        crash(async move { machine.apply(second_batch()).await }).await?;
        fail::remove(failpoint);

        let storage = Storage::open(dir.path())?;
        assert_eq!(view(&storage)?, *written, "{failpoint} after the crash");
        // On restart openraft applies the committed entries past the applied log id
        // again; here that is the second batch exactly when it was lost.
        let mut machine = storage.state_machine()?;
        let (applied, _) = machine.applied_state().await?;
        let unapplied: Vec<Entry> = second_batch()
            .into_iter()
            .filter(|entry| Some(entry.log_id) > applied)
            .collect();
        machine.apply(unapplied).await?;
        assert_eq!(view(&storage)?, after_both, "{failpoint} after recovery");
    }
    Ok(())
}
