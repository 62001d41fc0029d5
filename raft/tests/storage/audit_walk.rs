//! Walking the audit chain back from its end with filters: newest first, pages that meet
//! without gaps or overlaps, a bound on the records one call examines.

use warden_raft::{AuditFilter, Storage};

use crate::fixtures::TestResult;
use crate::format::write_history;

#[tokio::test]
async fn pages_walk_back_from_the_end_and_meet_without_gaps() -> TestResult {
    let dir = tempfile::tempdir()?;
    write_history(dir.path()).await?;
    let reader = Storage::open(dir.path())?.reader();
    let all = reader.audit_range(1, 1_000)?;
    assert_eq!(all.len(), 8);

    let everything = AuditFilter::default();
    let first = reader.audit_before(0, &everything, 3, 1_000)?;
    let indexes: Vec<u64> = first.records.iter().map(|record| record.index).collect();
    assert_eq!(indexes, [8, 7, 6], "newest first");
    assert_eq!(first.next_before, 6);
    let mut walked = indexes;
    let mut before = first.next_before;
    while before > 0 {
        let page = reader.audit_before(before, &everything, 3, 1_000)?;
        walked.extend(page.records.iter().map(|record| record.index));
        before = page.next_before;
    }
    assert_eq!(
        walked,
        (1..=8).rev().collect::<Vec<u64>>(),
        "no gap, no overlap"
    );

    // A filter keeps only matching records; the bound on examined records cuts a page
    // short and says where to go on.
    let action = all[0].action.clone();
    let filter = AuditFilter {
        action: Some(action.clone()),
        ..AuditFilter::default()
    };
    let expected: Vec<u64> = all
        .iter()
        .rev()
        .filter(|record| record.action == action)
        .map(|record| record.index)
        .collect();
    let page = reader.audit_before(0, &filter, 100, 1_000)?;
    let found: Vec<u64> = page.records.iter().map(|record| record.index).collect();
    assert_eq!(found, expected);
    assert_eq!(page.next_before, 0, "reached the first record");
    let bounded = reader.audit_before(0, &filter, 100, 2)?;
    assert_eq!(bounded.next_before, 7, "stopped after examining 8 and 7");

    let workspace = AuditFilter {
        workspace: Some("acme".to_owned()),
        ..AuditFilter::default()
    };
    for record in reader.audit_before(0, &workspace, 100, 1_000)?.records {
        assert!(
            record.resource == "workspace/acme" || record.resource.starts_with("workspace/acme/"),
            "{record:?}"
        );
    }
    let prefix_only = AuditFilter {
        workspace: Some("acm".to_owned()),
        ..AuditFilter::default()
    };
    assert!(
        reader
            .audit_before(0, &prefix_only, 100, 1_000)?
            .records
            .is_empty(),
        "a workspace name is matched whole, not as a prefix"
    );
    Ok(())
}
