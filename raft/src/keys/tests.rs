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
        provider(&ws("w"), &ProviderName::parse("p").expect("valid provider")),
        mcp_server(&ws("w"), &ServerName::parse("s").expect("valid server")),
        agent(&ws("w"), &AgentName::parse("a").expect("valid agent")),
        policy(&ws("w")),
        budget(&ws("w"), &BudgetScope::Workspace),
        budget(
            &ws("w"),
            &BudgetScope::Agent(AgentName::parse("a").expect("valid agent")),
        ),
        switches(&ws("w")),
        active_task(&ws("w"), &TaskId::from_u128(u128::MAX)),
        journal_entry(&ws("w"), &TaskId::from_u128(u128::MAX), u64::MAX),
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

fn in_range((start, end): &(Vec<u8>, Vec<u8>), key: &[u8]) -> bool {
    start.as_slice() <= key && key < end.as_slice()
}

#[test]
fn journal_ranges_hold_exactly_their_tasks_entries() {
    // Neighbouring ids whose bytes end in 0xff, where the end of a range must carry, and
    // the largest id, whose range ends at the workspace separator.
    let tasks = [
        (ws("a"), TaskId::from_u128(0xfe)),
        (ws("a"), TaskId::from_u128(0xff)),
        (ws("a"), TaskId::from_u128(0x100)),
        (ws("a"), TaskId::from_u128(0x01ff)),
        (ws("a"), TaskId::from_u128(u128::MAX - 1)),
        (ws("a"), TaskId::from_u128(u128::MAX)),
        (ws("a-b"), TaskId::from_u128(0)),
        (ws("a0"), TaskId::from_u128(0)),
    ];
    let seqs = [0, 1, 0xff, 0x100, u64::MAX];
    for (workspace, task) in &tasks {
        let range = journal_from(workspace, task, 0);
        for (other_workspace, other_task) in &tasks {
            let own = (workspace, task) == (other_workspace, other_task);
            for seq in seqs {
                let key = journal_entry(other_workspace, other_task, seq);
                assert_eq!(
                    in_range(&range, &key),
                    own,
                    "range of {workspace}/{task} and entry {seq} of {other_workspace}/{other_task}"
                );
            }
        }
    }
}

#[test]
fn a_journal_range_starts_at_its_sequence() {
    let (workspace, task) = (ws("a"), TaskId::from_u128(0xff));
    let range = journal_from(&workspace, &task, 0x100);
    assert!(!in_range(&range, &journal_entry(&workspace, &task, 0xff)));
    assert!(in_range(&range, &journal_entry(&workspace, &task, 0x100)));
    assert!(in_range(
        &range,
        &journal_entry(&workspace, &task, u64::MAX)
    ));
    // Entries sort by sequence, not by the bytes' lexical length.
    assert!(journal_entry(&workspace, &task, 0xff) < journal_entry(&workspace, &task, 0x100));
}

#[test]
fn active_task_keys_round_trip_and_other_keys_do_not_parse() {
    let long = "a".repeat(WorkspaceId::MAX_LEN);
    for workspace in ["a", "a-b", long.as_str()] {
        for id in [0, 0xff, 0x0100, 1 << 120, u128::MAX] {
            let (workspace, id) = (ws(workspace), TaskId::from_u128(id));
            let key = active_task(&workspace, &id);
            assert_eq!(active_task_ids(&key), Some((workspace.clone(), id)));
            assert!(in_range(&active_tasks(), &key));
        }
    }
    let (workspace, id) = (ws("a"), TaskId::from_u128(7));
    assert_eq!(active_task_ids(&task(&workspace, &id)), None);
    assert_eq!(active_task_ids(&journal_entry(&workspace, &id, 0)), None);
    assert_eq!(active_task_ids(&[TAG_ACTIVE]), None);
    let mut no_separator = active_task(&workspace, &id);
    no_separator[2] = b'x';
    assert_eq!(active_task_ids(&no_separator), None);
    let truncated = active_task(&workspace, &id);
    assert_eq!(active_task_ids(&truncated[..truncated.len() - 1]), None);
    assert!(!in_range(&active_tasks(), &task(&workspace, &id)));
    assert!(!in_range(
        &active_tasks(),
        &journal_entry(&workspace, &id, 0)
    ));
}

#[test]
fn named_ranges_of_similar_workspaces_do_not_overlap() {
    type Kind = (
        &'static str,
        fn(&WorkspaceId, &str) -> Vec<u8>,
        fn(&WorkspaceId) -> (Vec<u8>, Vec<u8>),
    );
    let kinds: [Kind; 3] = [
        (
            "provider",
            |w, name| provider(w, &ProviderName::parse(name).expect("valid provider")),
            providers,
        ),
        (
            "mcp server",
            |w, name| mcp_server(w, &ServerName::parse(name).expect("valid server")),
            mcp_servers,
        ),
        (
            "agent",
            |w, name| agent(w, &AgentName::parse(name).expect("valid agent")),
            agents,
        ),
    ];
    let names = ["a", "b-0", "zzzz"];
    for (kind, key, range) in kinds {
        let own = range(&ws("a"));
        for name in names {
            assert!(in_range(&own, &key(&ws("a"), name)), "{kind} a/{name}");
            assert!(!in_range(&own, &key(&ws("a-b"), name)), "{kind} a-b/{name}");
            assert!(!in_range(&own, &key(&ws("b"), name)), "{kind} b/{name}");
        }
        // Nor do the ranges of different kinds in one workspace.
        for (other_kind, other_key, _) in kinds {
            if other_kind != kind {
                assert!(
                    !in_range(&own, &other_key(&ws("a"), "a")),
                    "{kind} range holds {other_kind} a/a"
                );
            }
        }
    }
}

#[test]
fn a_workspace_s_budgets_are_its_own_range_with_its_own_first() {
    let agent = |name: &str| BudgetScope::Agent(AgentName::parse(name).expect("valid agent"));
    let range = budgets(&ws("a"));
    let own = budget(&ws("a"), &BudgetScope::Workspace);
    assert!(in_range(&range, &own));
    assert!(in_range(&range, &budget(&ws("a"), &agent("z"))));
    assert!(own < budget(&ws("a"), &agent("a")));
    assert!(!in_range(
        &range,
        &budget(&ws("a-b"), &BudgetScope::Workspace)
    ));
    assert!(!in_range(&range, &budget(&ws("a-b"), &agent("a"))));
}

/// A tag left out of `is_sm_key` makes every snapshot image and backup holding such a
/// record be refused as foreign (as triggers and task authors once were).
#[test]
fn every_tag_is_in_the_state_machine_key_space() {
    let source = include_str!("../keys.rs");
    let mut tags = Vec::new();
    for line in source.lines() {
        let Some(rest) = line.strip_prefix("const TAG_") else {
            continue;
        };
        let value = rest
            .split("= 0x")
            .nth(1)
            .and_then(|hex| hex.strip_suffix(';'))
            .expect("a tag line reads `const TAG_NAME: u8 = 0xNN;`");
        tags.push(u8::from_str_radix(value, 16).expect("hex tag"));
    }
    assert!(tags.len() > 30, "found {} tags", tags.len());
    for tag in tags {
        assert!(
            is_sm_key(&[tag, 1, 2]),
            "tag {tag:#04x} is not in is_sm_key"
        );
    }
}
