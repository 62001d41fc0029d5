//! Table-driven tests of `apply()` and property tests of its invariants: determinism,
//! one audit record per command, a chain that verifies and breaks on any edit, and
//! rejections that change nothing.

use proptest::prelude::*;

use crate::audit::{AuditHead, ChainVerifier, canonical_bytes};
use crate::memory::MemoryState;
use crate::*;

mod approval;
mod authz;
mod budgets;
mod catalog;
mod checkpoint;
mod delete;
mod execution;
mod fixtures;
mod groups;
mod network;
mod pause;
mod pinning;
mod protocol;
mod redecide;
mod schedules;
mod secrets;
mod settings;
mod triggers;
mod webhooks;
mod workspace_apply;

use fixtures::{create, request, setup, submit};

/// What each case expects of the outcome.
#[derive(Debug)]
enum Expect {
    Created,
    Submitted { task: u128, deduplicated: bool },
    Rejected(Code),
}

#[test]
fn apply_table() {
    let cases: Vec<(&str, Vec<Command>, Command, Expect)> = vec![
        (
            "create a workspace",
            vec![],
            create("acme"),
            Expect::Created,
        ),
        (
            "create an existing workspace",
            vec![create("acme")],
            create("acme"),
            Expect::Rejected(Code::AlreadyExists),
        ),
        (
            "submit into a workspace",
            setup("acme"),
            submit("acme", 7, "k", "in"),
            Expect::Submitted {
                task: 7,
                deduplicated: false,
            },
        ),
        (
            "submit into an unknown workspace",
            vec![],
            submit("acme", 7, "k", "in"),
            Expect::Rejected(Code::NotFound),
        ),
        (
            "resubmit with the same key and input",
            [setup("acme"), vec![submit("acme", 7, "k", "in")]].concat(),
            submit("acme", 8, "k", "in"),
            Expect::Submitted {
                task: 7,
                deduplicated: true,
            },
        ),
        (
            "resubmit with the same key and another input",
            [setup("acme"), vec![submit("acme", 7, "k", "in")]].concat(),
            submit("acme", 8, "k", "other"),
            Expect::Rejected(Code::AlreadyExists),
        ),
        (
            "the same key in another workspace is another task",
            [
                setup("acme"),
                setup("beta"),
                vec![submit("acme", 7, "k", "in")],
            ]
            .concat(),
            submit("beta", 8, "k", "in"),
            Expect::Submitted {
                task: 8,
                deduplicated: false,
            },
        ),
        (
            "a colliding task id is refused",
            [setup("acme"), vec![submit("acme", 7, "k1", "in")]].concat(),
            submit("acme", 7, "k2", "in"),
            Expect::Rejected(Code::AlreadyExists),
        ),
        (
            "a recorded rejection stays a rejection",
            vec![],
            Command::RecordRejection {
                action: Action::TaskSubmit,
                resource: "workspace/?".into(),
                payload_hash: Hash::of(b"raw"),
                rejection: Rejection::new(Code::InvalidArgument, "bad"),
            },
            Expect::Rejected(Code::InvalidArgument),
        ),
    ];
    for (name, setup, command, expect) in cases {
        let mut state = MemoryState::default();
        for (index, earlier) in setup.into_iter().enumerate() {
            state.apply(index as u64 + 1, &request(1, earlier));
        }
        let before = state.clone();
        let log_index = state.applied_index + 1;
        let outcome = state.apply(log_index, &request(2, command));
        let audit = state.audit.last().expect("an audit record");
        assert_eq!(
            state.audit.len(),
            before.audit.len() + 1,
            "{name}: exactly one audit record"
        );
        assert_eq!(audit.log_index, log_index, "{name}");
        match (expect, outcome) {
            (Expect::Created, Outcome::WorkspaceCreated(_)) => {
                assert_eq!(audit.outcome, "accepted", "{name}");
            }
            (
                Expect::Submitted { task, deduplicated },
                Outcome::TaskSubmitted {
                    task: got,
                    deduplicated: dedup,
                },
            ) => {
                assert_eq!(got.id, TaskId::from_u128(task), "{name}");
                assert_eq!(dedup, deduplicated, "{name}");
                assert_eq!(got.status, TaskStatus::Pending, "{name}");
                assert!(
                    audit.resource.ends_with(&got.id.to_string()),
                    "{name}: audited against the task"
                );
            }
            (Expect::Rejected(code), Outcome::Rejected(rejection)) => {
                assert_eq!(rejection.code, code, "{name}");
                assert_eq!(audit.outcome, "rejected", "{name}");
                assert!(
                    !audit.resource.contains("/task/"),
                    "{name}: no made-up task in {}",
                    audit.resource
                );
                assert!(
                    audit.detail.starts_with(code.as_str()),
                    "{name}: {}",
                    audit.detail
                );
                // A rejection changes nothing but the audit chain.
                assert_eq!(state.workspaces, before.workspaces, "{name}");
                assert_eq!(state.tasks, before.tasks, "{name}");
                assert_eq!(state.idempotency, before.idempotency, "{name}");
            }
            (expect, outcome) => panic!("{name}: expected {expect:?}, got {outcome:?}"),
        }
    }
}

#[test]
fn membership_records_take_the_previous_time() {
    let mut state = MemoryState::default();
    state.apply(1, &request(1234, create("acme")));
    let applied = apply_membership(&state.head, 2, "voters {1,2}");
    assert_eq!(applied.audit.time_ms, 1234);
    assert_eq!(applied.audit.principal, "system");
    assert_eq!(applied.audit.prev_hash, state.head.hash);
}

#[test]
fn ids_round_trip_and_refuse_garbage() {
    let id = TaskId::new(1_700_000_000_000, u128::MAX);
    assert_eq!(TaskId::parse(&id.to_string()), Ok(id));
    assert_eq!(TaskId::parse(&id.to_string().to_lowercase()), Ok(id));
    assert!(TaskId::new(1, 0) < TaskId::new(2, 0), "ids sort by time");
    for bad in [
        "",
        "short",
        "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
        "01ARZ3NDEKTSV4RRFFQ69G5FA!",
    ] {
        assert!(TaskId::parse(bad).is_err(), "{bad:?}");
    }
    for bad in ["", "Acme", "1acme", "acme-", "ac_me", &"a".repeat(64)] {
        assert!(WorkspaceId::parse(bad).is_err(), "{bad:?}");
    }
    assert!(WorkspaceId::parse("acme-2").is_ok());
    assert!(IdempotencyKey::parse(&"k".repeat(129)).is_err());
    assert!(IdempotencyKey::parse("tab\tkey").is_err());
}

/// The hash of the record in `canonical_encoding_is_stable`, computed independently
/// (Python: hashlib over the byte layout documented in `audit.rs`).
const PINNED_HASH: &str = "b6df1be7c242584d74dc71f5945922147603e473abbfa9eaa2b26ad76667fcfd";

#[test]
fn canonical_encoding_is_stable() {
    // A fixed record and its hash: changing the encoding breaks every stored chain, so
    // it must be a deliberate change of this value.
    let mut head = AuditHead::default();
    let record = head.append(audit::RecordBody {
        log_index: 3,
        time_ms: 1_700_000_000_000,
        principal: "anonymous".into(),
        action: "workspace.create".into(),
        resource: "workspace/acme".into(),
        outcome: "accepted".into(),
        detail: String::new(),
        payload_hash: Hash::of(b"payload"),
    });
    head = AuditHead::advanced(&record);
    assert_eq!(
        canonical_bytes(&record).len(),
        24 + 5 * 4 + 9 + 16 + 14 + 8 + 32
    );
    assert_eq!(record.hash, audit::chain_hash(&Hash::ZERO, &record));
    assert_eq!(head.count, 1);
    assert_eq!(record.hash.to_hex(), PINNED_HASH);
}

/// A workspace with its agent (three commands), or one submission.
fn arbitrary_step() -> impl Strategy<Value = Vec<Command>> {
    let workspace = prop::sample::select(vec!["acme", "beta", "gamma"]);
    let key = prop::sample::select(vec!["k1", "k2", "k3", "k4"]);
    let input = prop::sample::select(vec!["a", "b"]);
    prop_oneof![
        workspace.clone().prop_map(setup),
        (workspace, 1u128..50, key, input).prop_map(|(w, id, k, i)| vec![submit(w, id, k, i)]),
    ]
}

fn arbitrary_commands(min: usize, max: usize) -> impl Strategy<Value = Vec<Command>> {
    prop::collection::vec(arbitrary_step(), min..max).prop_map(|steps| steps.concat())
}

proptest! {
    #[test]
    fn replay_is_deterministic_and_the_chain_verifies(commands in arbitrary_commands(1, 40)) {
        let mut first = MemoryState::default();
        let mut second = MemoryState::default();
        for (index, command) in commands.iter().enumerate() {
            let request = request(index as u64 * 10, command.clone());
            let a = first.apply(index as u64 + 1, &request);
            let b = second.apply(index as u64 + 1, &request);
            prop_assert_eq!(a, b);
        }
        prop_assert_eq!(&first, &second);
        prop_assert_eq!(first.audit.len(), commands.len());
        let mut verifier = ChainVerifier::new();
        for record in &first.audit {
            prop_assert!(verifier.push(record).is_ok());
        }
        prop_assert_eq!(verifier.head(), first.head);
        // Each idempotency key maps to exactly one existing task with that key.
        for ((workspace, key), record) in &first.idempotency {
            let task = first.tasks.get(&(workspace.clone(), record.task_id));
            prop_assert!(task.is_some_and(|task| &task.idempotency_key == key));
        }
    }

    #[test]
    fn any_edit_to_a_record_breaks_the_chain_at_that_record(
        commands in arbitrary_commands(2, 20),
        victim in any::<prop::sample::Index>(),
        field in 0usize..5,
    ) {
        let mut state = MemoryState::default();
        for (index, command) in commands.iter().enumerate() {
            state.apply(index as u64 + 1, &request(index as u64, command.clone()));
        }
        let mut records = state.audit.clone();
        let target = victim.index(records.len());
        let record = &mut records[target];
        match field {
            0 => record.time_ms += 1,
            1 => record.principal.push('x'),
            2 => record.resource.push('x'),
            3 => record.outcome = if record.outcome == "accepted" { "rejected".into() } else { "accepted".into() },
            _ => record.payload_hash = Hash::of(b"forged"),
        }
        let mut verifier = ChainVerifier::new();
        let failure = records.iter().find_map(|record| verifier.push(record).err());
        prop_assert_eq!(failure.map(|error| error.index()), Some(target as u64 + 1));
    }
}
