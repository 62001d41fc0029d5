//! Tests of the key layout: ranges that must not overlap, orders that must hold.

use super::*;

fn ws(name: &str) -> WorkspaceId {
    // Every name used below is valid; a typo should fail loudly.
    WorkspaceId::parse(name).expect("valid workspace name")
}

#[test]
fn task_ranges_of_similar_workspaces_do_not_overlap() {
    let (start, end) = tasks_after(&ws("a"), None);
    let other = task(&ws("a-b"), &TaskId::from_u128(0));
    let own_low = task(&ws("a"), &TaskId::from_u128(0));
    let own_high = task(&ws("a"), &TaskId::from_u128(u128::MAX));
    assert!(!(start.as_slice() <= other.as_slice() && other.as_slice() < end.as_slice()));
    assert!(start <= own_low && own_low < end);
    assert!(start <= own_high && own_high < end);
}

#[test]
fn tasks_after_excludes_the_cursor_and_keeps_the_next_id() {
    let (start, _) = tasks_after(&ws("a"), Some(&TaskId::from_u128(5)));
    assert!(task(&ws("a"), &TaskId::from_u128(5)) < start);
    assert!(start < task(&ws("a"), &TaskId::from_u128(6)));
}

#[test]
fn audit_keys_sort_by_index_and_round_trip() {
    assert!(audit_record(255) < audit_record(256));
    assert_eq!(audit_record_index(&audit_record(17)), Some(17));
    assert_eq!(audit_record_index(&workspace(&ws("x"))), None);
    let (start, end) = audit_records_from(1);
    assert!(start <= audit_record(u64::MAX) && audit_record(u64::MAX) < end);
}

#[test]
fn every_sm_key_is_inside_the_sm_range() {
    let keys = [
        APPLIED.to_vec(),
        MEMBERSHIP.to_vec(),
        AUDIT_HEAD.to_vec(),
        workspace(&ws("w")),
        task(&ws("w"), &TaskId::from_u128(u128::MAX)),
        idempotency(&ws("w"), &IdempotencyKey::parse("~~~").expect("valid key")),
        audit_record(u64::MAX),
    ];
    for key in keys {
        assert!(is_sm_key(&key), "{key:?}");
        assert!(
            SM_START <= key.as_slice() && key.as_slice() < SM_END,
            "{key:?}"
        );
    }
    assert!(!is_sm_key(&[0xff]));
}

#[test]
fn log_bounds_cover_the_largest_index() {
    assert!(log_entry(u64::MAX).as_slice() < log_end().as_slice());
    assert_eq!(log_end_after(u64::MAX), log_end());
    assert_eq!(log_end_after(4), log_entry(5).to_vec());
    assert_eq!(log_entry_index(&log_entry(42)), Some(42));
}
