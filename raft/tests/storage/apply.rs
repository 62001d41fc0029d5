//! Applying entries through the state machine and reading the result back.

use openraft::storage::RaftStateMachine;
use warden_core::{Code, Outcome, TaskId};
use warden_raft::types::Entry;

use crate::fixtures::{
    TestResult, blank, create, log_id, membership, open_temp, provider_and_agent, submit, ws,
};

/// Every kind of entry and outcome, in an order where later entries depend on earlier
/// ones: log index `i` sits at position `i - 1`.
fn mixed_entries() -> Vec<Entry> {
    let mut entries = vec![blank(1), membership(2, &[1, 2, 3]), create(3, "acme")];
    entries.extend(provider_and_agent(4, "acme"));
    entries.extend([
        submit(6, "acme", 10, "k1", "build it"),
        // Same key, same input: the first task, deduplicated.
        submit(7, "acme", 11, "k1", "build it"),
        // Same key, another input: refused.
        submit(8, "acme", 12, "k1", "something else"),
        submit(9, "ghost", 13, "k2", "x"),
        create(10, "acme"),
    ]);
    entries
}

fn task_of(outcome: &Outcome) -> Option<(TaskId, bool)> {
    match outcome {
        Outcome::TaskSubmitted { task, deduplicated } => Some((task.id, *deduplicated)),
        _ => None,
    }
}

fn rejection_code(outcome: &Outcome) -> Option<Code> {
    match outcome {
        Outcome::Rejected(rejection) => Some(rejection.code),
        _ => None,
    }
}

#[tokio::test]
async fn one_batch_sees_its_own_writes_and_audits_every_non_blank_entry() -> TestResult {
    let (_dir, storage) = open_temp()?;
    let mut state_machine = storage.state_machine()?;

    let outcomes = state_machine.apply(mixed_entries()).await?;

    assert_eq!(outcomes.len(), 10);
    assert_eq!(outcomes[0], Outcome::Noop);
    assert_eq!(outcomes[1], Outcome::MembershipChanged);
    assert!(matches!(&outcomes[2], Outcome::WorkspaceCreated(w) if w.id == ws("acme")));
    assert!(matches!(&outcomes[3], Outcome::ProviderPut(p) if p.workspace == ws("acme")));
    assert!(matches!(&outcomes[4], Outcome::AgentSaved(a) if a.workspace == ws("acme")));
    assert_eq!(task_of(&outcomes[5]), Some((TaskId::from_u128(10), false)));
    assert_eq!(task_of(&outcomes[6]), Some((TaskId::from_u128(10), true)));
    assert_eq!(rejection_code(&outcomes[7]), Some(Code::AlreadyExists));
    assert_eq!(rejection_code(&outcomes[8]), Some(Code::NotFound));
    assert_eq!(rejection_code(&outcomes[9]), Some(Code::AlreadyExists));

    let reader = storage.reader();
    let workspaces = reader.workspaces()?;
    assert_eq!(
        workspaces.iter().map(|w| w.id.clone()).collect::<Vec<_>>(),
        vec![ws("acme")]
    );
    let task = reader
        .task(&ws("acme"), &TaskId::from_u128(10))?
        .ok_or("task 10 is missing")?;
    assert_eq!(task.input, "build it");
    assert_eq!(task.log_index, 6);
    for refused in [11, 12] {
        assert_eq!(reader.task(&ws("acme"), &TaskId::from_u128(refused))?, None);
    }
    assert_eq!(reader.task(&ws("ghost"), &TaskId::from_u128(13))?, None);
    assert_eq!(reader.workspace(&ws("ghost"))?, None);

    // Nine non-blank entries, nine records, chained in log order.
    let records = reader.audit_range(1, 100)?;
    assert_eq!(
        records.iter().map(|r| r.log_index).collect::<Vec<_>>(),
        vec![2, 3, 4, 5, 6, 7, 8, 9, 10]
    );
    assert_eq!(
        records.iter().map(|r| r.index).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5, 6, 7, 8, 9]
    );
    assert_eq!(
        records[0].detail,
        "voters {1,2,3} learners {}: node 1 at 127.0.0.1:5001, node 2 at 127.0.0.1:5002, node 3 at 127.0.0.1:5003"
    );
    // The submission to the missing workspace.
    assert_eq!(records[7].log_index, 9);
    assert_eq!(records[7].outcome, "rejected");
    assert_eq!(reader.audit_range(8, 1)?, records[7..8].to_vec());

    let head = reader.audit_head()?;
    assert_eq!(head.count, 9);
    assert_eq!(head, state_machine.audit_head());
    let verification = reader.verify_audit()?;
    assert_eq!(verification.failure, None);
    assert_eq!(verification.record_count, 9);
    assert_eq!(verification.head_hash, Some(head.hash));

    assert_eq!(reader.applied_log_id()?, Some(log_id(1, 10)));
    let (applied, stored_membership) = state_machine.applied_state().await?;
    assert_eq!(applied, Some(log_id(1, 10)));
    assert_eq!(stored_membership.log_id(), &Some(log_id(1, 2)));
    Ok(())
}

#[tokio::test]
async fn one_entry_per_batch_gives_the_same_outcomes_and_chain() -> TestResult {
    let (_dir_batched, batched) = open_temp()?;
    let (_dir_single, single) = open_temp()?;
    let batched_outcomes = batched.state_machine()?.apply(mixed_entries()).await?;
    let mut state_machine = single.state_machine()?;
    let mut single_outcomes = Vec::new();
    for entry in mixed_entries() {
        single_outcomes.extend(state_machine.apply([entry]).await?);
    }
    assert_eq!(batched_outcomes, single_outcomes);
    assert_eq!(
        batched.reader().audit_head()?,
        single.reader().audit_head()?
    );
    assert_eq!(
        batched.reader().audit_range(1, 100)?,
        single.reader().audit_range(1, 100)?
    );
    Ok(())
}

#[tokio::test]
async fn a_reopened_state_machine_continues_the_chain() -> TestResult {
    let (dir, storage) = open_temp()?;
    storage.state_machine()?.apply(mixed_entries()).await?;
    let head_before = storage.reader().audit_head()?;
    drop(storage);

    let storage = warden_raft::Storage::open(dir.path())?;
    let mut state_machine = storage.state_machine()?;
    assert_eq!(state_machine.audit_head(), head_before);
    let (applied, _) = state_machine.applied_state().await?;
    assert_eq!(applied, Some(log_id(1, 10)));

    let outcomes = state_machine
        .apply([submit(11, "acme", 20, "k9", "more")])
        .await?;
    assert_eq!(task_of(&outcomes[0]), Some((TaskId::from_u128(20), false)));
    let verification = storage.reader().verify_audit()?;
    assert_eq!(
        (verification.record_count, verification.failure),
        (10, None)
    );
    Ok(())
}

#[tokio::test]
async fn an_empty_apply_changes_nothing() -> TestResult {
    let (_dir, storage) = open_temp()?;
    let mut state_machine = storage.state_machine()?;
    assert!(state_machine.apply(Vec::<Entry>::new()).await?.is_empty());
    assert_eq!(state_machine.applied_state().await?.0, None);
    assert_eq!(storage.reader().applied_log_id()?, None);
    Ok(())
}

#[tokio::test]
async fn a_verification_counts_exactly_the_records_of_the_index_it_reports() -> TestResult {
    let (_dir, storage) = open_temp()?;
    let mut state_machine = storage.state_machine()?;
    state_machine.apply(mixed_entries()).await?;
    let reader = storage.reader().clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let verifier = {
        let stop = stop.clone();
        // Verifies over and over while entries are applied: each verification must be of
        // one applied state, never of the records of one index and the index of another.
        tokio::task::spawn_blocking(move || {
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let verification = reader.verify_audit()?;
                seen.push((verification.applied_index, verification.record_count));
            }
            Ok::<_, warden_raft::Error>(seen)
        })
    };
    // Index 1 is blank; every later entry adds one record.
    for index in 11..=400 {
        let task = u128::from(index) + 100;
        state_machine
            .apply([submit(index, "acme", task, &format!("k{index}"), "x")])
            .await?;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = verifier.await??;
    assert!(!seen.is_empty());
    for (applied_index, record_count) in &seen {
        assert_eq!(*record_count, applied_index - 1, "verified {seen:?}");
    }
    let last = storage.reader().verify_audit()?;
    assert_eq!((last.applied_index, last.record_count), (400, 399));
    Ok(())
}
