//! Paging through the tasks of a workspace.

use openraft::storage::RaftStateMachine;
use warden_core::TaskId;
use warden_raft::StateReader;
use warden_raft::types::Entry;

use crate::fixtures::{TestResult, create, open_temp, provider_and_agent, submit, ws};

/// Reads every page of `workspace` and returns the pages' ids.
fn all_pages(
    reader: &StateReader,
    workspace: &str,
    limit: usize,
) -> Result<Vec<Vec<u128>>, warden_raft::Error> {
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let (tasks, next) = reader.tasks_page(&ws(workspace), after, limit)?;
        pages.push(tasks.iter().map(|task| task.id.as_u128()).collect());
        match next {
            Some(next) => after = Some(next),
            None => return Ok(pages),
        }
    }
}

#[tokio::test]
async fn pages_return_every_task_once_in_id_order() -> TestResult {
    let (_dir, storage) = open_temp()?;
    let mut entries: Vec<Entry> = vec![create(1, "acme"), create(2, "acme-2")];
    entries.extend(provider_and_agent(3, "acme"));
    entries.extend(provider_and_agent(5, "acme-2"));
    // Ids submitted out of order, interleaved with tasks of a workspace whose name
    // extends "acme", which must not leak into its pages.
    let ids: Vec<u128> = (0..21).map(|i| (i * 7919) % 101 + (1 << 90)).collect();
    for (i, id) in ids.iter().enumerate() {
        let index = 7 + 2 * i as u64;
        entries.push(submit(index, "acme", *id, &format!("key-{i}"), "input"));
        entries.push(submit(
            index + 1,
            "acme-2",
            *id,
            &format!("key-{i}"),
            "other",
        ));
    }
    storage.state_machine()?.apply(entries).await?;
    let reader = storage.reader();
    let mut sorted = ids.clone();
    sorted.sort_unstable();

    let pages = all_pages(&reader, "acme", 5)?;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![5, 5, 5, 5, 1]
    );
    assert_eq!(pages.concat(), sorted);

    // A limit that divides the count ends on a full page, without an empty extra one.
    let pages = all_pages(&reader, "acme", 7)?;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![7, 7, 7]
    );
    assert_eq!(pages.concat(), sorted);

    let (tasks, next) =
        reader.tasks_page(&ws("acme-2"), Some(TaskId::from_u128(sorted[19])), 10)?;
    assert_eq!(
        tasks
            .iter()
            .map(|t| (t.id.as_u128(), t.input.as_str()))
            .collect::<Vec<_>>(),
        vec![(sorted[20], "other")]
    );
    assert_eq!(next, None);

    let (tasks, next) = reader.tasks_page(&ws("nobody"), None, 10)?;
    assert!(tasks.is_empty() && next.is_none());
    Ok(())
}
