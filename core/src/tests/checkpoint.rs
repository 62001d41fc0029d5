//! Signed checkpoints in `apply()`: accepted only from a registered member node, under
//! its registered key, with a valid signature over a hash the chain holds; every refusal
//! is audited and changes nothing else.

use crate::anchor::{self, CHECKPOINT_ACTION};
use crate::audit::{OUTCOME_ACCEPTED, OUTCOME_REJECTED};
use crate::memory::MemoryState;
use crate::*;

use super::fixtures::{create, request};

const ADMIN_TOKEN: TokenId = TokenId([1; 8]);

fn secret(node: u64) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[node as u8; 32])
}

fn key_of(node: u64) -> AuditKey {
    anchor::public_key(&secret(node))
}

fn admin() -> Principal {
    Principal::parse("user/admin").expect("valid principal")
}

fn as_admin(command: Command) -> Request {
    Request {
        time_ms: 1_000,
        principal: admin(),
        token: Some(ADMIN_TOKEN),
        command,
    }
}

fn as_node(node: u64, command: Command) -> Request {
    Request {
        time_ms: 1_000,
        principal: Principal::node(NodeId(node)),
        token: None,
        command,
    }
}

/// Node 1 bootstrapped the cluster with its key; node 2 was added with its own; node 3
/// was added without one. A few records follow.
fn cluster() -> MemoryState {
    let mut state = MemoryState::default();
    let mut index = 0;
    let mut apply = |state: &mut MemoryState, request: Request| {
        index += 1;
        let outcome = state.apply(index, &request);
        assert!(
            !matches!(outcome, Outcome::Rejected(_)),
            "{request:?}: {outcome:?}"
        );
    };
    apply(
        &mut state,
        request(
            1_000,
            Command::Bootstrap {
                principal: admin(),
                token: ADMIN_TOKEN,
                secret_hash: Hash::of(b"secret"),
                node: NodeId(1),
                audit_key: Some(key_of(1)),
                checkpoint_interval: 10,
            },
        ),
    );
    for (node, key) in [(2, Some(key_of(2))), (3, None)] {
        let change = MembershipChange::AddLearner {
            node: NodeId(node),
            address: format!("127.0.0.{node}:7400"),
            audit_key: key,
        };
        apply(
            &mut state,
            as_admin(Command::AuthorizeMembershipChange { change }),
        );
    }
    for name in ["acme", "globex"] {
        apply(&mut state, request(1_000, create(name)));
    }
    state
}

fn checkpoint_of(state: &MemoryState, signer: u64, node: u64, index: u64) -> Command {
    let hash = state.audit[index as usize - 1].hash;
    Command::AuditCheckpoint {
        checkpoint: anchor::sign(&secret(signer), NodeId(node), index, hash),
    }
}

/// Applies `request` and checks it was refused with `code`, audited as a refused
/// checkpoint, and changed nothing else.
fn assert_refused(state: &mut MemoryState, request: Request, code: Code) -> String {
    let before = state.clone();
    let outcome = state.apply(before.applied_index + 1, &request);
    let Outcome::Rejected(rejection) = outcome else {
        panic!("{request:?} was accepted: {outcome:?}");
    };
    assert_eq!(rejection.code, code, "{rejection}");
    let record = state.audit.last().expect("a record");
    assert_eq!(record.index, before.head.count + 1);
    assert_eq!(record.action, CHECKPOINT_ACTION);
    assert_eq!(record.outcome, OUTCOME_REJECTED);
    assert_eq!(state.checkpoints, before.checkpoints);
    assert_eq!(state.nodes, before.nodes);
    rejection.message
}

#[test]
fn a_registered_node_checkpoint_is_stored_and_recorded_inline() {
    let mut state = cluster();
    let command = checkpoint_of(&state, 2, 2, 4);
    let outcome = state.apply(10, &as_node(2, command.clone()));
    let Command::AuditCheckpoint { checkpoint } = command else {
        unreachable!()
    };
    assert_eq!(outcome, Outcome::CheckpointRecorded(checkpoint.clone()));
    assert_eq!(state.checkpoints.get(&(NodeId(2), 4)), Some(&checkpoint));
    let record = state.audit.last().expect("a record");
    assert_eq!(record.action, "audit.checkpoint");
    assert_eq!(record.outcome, OUTCOME_ACCEPTED);
    assert_eq!(record.resource, "cluster/node/2/audit");
    assert_eq!(Checkpoint::parse_detail(&record.detail), Some(checkpoint));
    // The head itself (the last record before the checkpoint's own) may be signed.
    let head = state.head.count;
    let outcome = state.apply(11, &as_node(1, checkpoint_of(&state, 1, 1, head)));
    assert!(
        matches!(outcome, Outcome::CheckpointRecorded(_)),
        "{outcome:?}"
    );
}

#[test]
fn a_bad_signature_is_refused_and_audited() {
    let mut state = cluster();
    let Command::AuditCheckpoint { mut checkpoint } = checkpoint_of(&state, 2, 2, 3) else {
        unreachable!()
    };
    checkpoint.signature[0] ^= 1;
    let message = assert_refused(
        &mut state,
        as_node(2, Command::AuditCheckpoint { checkpoint }),
        Code::PermissionDenied,
    );
    assert!(message.contains("does not verify"), "{message}");
}

#[test]
fn a_hash_the_chain_does_not_hold_is_refused_and_audited() {
    let mut state = cluster();
    let checkpoint = anchor::sign(&secret(2), NodeId(2), 3, Hash([0xee; 32]));
    let message = assert_refused(
        &mut state,
        as_node(2, Command::AuditCheckpoint { checkpoint }),
        Code::FailedPrecondition,
    );
    assert!(message.contains("record 3 has hash"), "{message}");
}

#[test]
fn an_index_beyond_the_chain_is_refused() {
    let mut state = cluster();
    let beyond = state.head.count + 1;
    let checkpoint = anchor::sign(&secret(2), NodeId(2), beyond, Hash([1; 32]));
    assert_refused(
        &mut state,
        as_node(2, Command::AuditCheckpoint { checkpoint }),
        Code::InvalidArgument,
    );
    let checkpoint = anchor::sign(&secret(2), NodeId(2), 0, Hash::ZERO);
    assert_refused(
        &mut state,
        as_node(2, Command::AuditCheckpoint { checkpoint }),
        Code::InvalidArgument,
    );
}

#[test]
fn only_the_node_itself_signs_under_its_registered_key() {
    let mut state = cluster();
    // Node 1 proposing node 2's (validly signed) checkpoint.
    let command = checkpoint_of(&state, 2, 2, 3);
    assert_refused(
        &mut state,
        as_node(1, command.clone()),
        Code::PermissionDenied,
    );
    // Neither a user nor the system may.
    assert_refused(
        &mut state,
        as_admin(command.clone()),
        Code::PermissionDenied,
    );
    assert_refused(&mut state, request(1_000, command), Code::PermissionDenied);
    // Node 2 signing with node 1's key.
    let signed_by_one = checkpoint_of(&state, 1, 2, 3);
    let message = assert_refused(
        &mut state,
        as_node(2, signed_by_one),
        Code::PermissionDenied,
    );
    assert!(message.contains("registered with key"), "{message}");
    // Node 3 joined without a key; node 4 never joined.
    for node in [3, 4] {
        let command = checkpoint_of(&state, node, node, 3);
        assert_refused(&mut state, as_node(node, command), Code::FailedPrecondition);
    }
}

#[test]
fn a_removed_node_signs_no_more_but_its_keys_stay_known() {
    let mut state = cluster();
    let outcome = state.apply(10, &as_node(2, checkpoint_of(&state, 2, 2, 3)));
    assert!(
        matches!(outcome, Outcome::CheckpointRecorded(_)),
        "{outcome:?}"
    );
    let remove = MembershipChange::Remove { node: NodeId(2) };
    let outcome = state.apply(
        11,
        &as_admin(Command::AuthorizeMembershipChange { change: remove }),
    );
    assert!(
        matches!(outcome, Outcome::MembershipChangeAuthorized(_)),
        "{outcome:?}"
    );
    let record = state.nodes.get(&NodeId(2)).expect("registered");
    assert!(!record.member);
    assert!(record.knows(&key_of(2)));
    let command = checkpoint_of(&state, 2, 2, 4);
    assert_refused(&mut state, as_node(2, command), Code::FailedPrecondition);
}

#[test]
fn bootstrap_and_membership_records_name_the_keys() {
    let state = cluster();
    assert!(
        state.audit[0].detail.contains(&format!(
            "node 1, audit key {}, checkpoint interval 10",
            key_of(1)
        )),
        "{}",
        state.audit[0].detail
    );
    assert!(
        state.audit[1]
            .detail
            .contains(&format!("audit key {}", key_of(2)))
    );
    assert!(state.audit[2].detail.contains("without an audit key"));
    assert_eq!(
        state.audit_settings,
        Some(AuditSettings {
            checkpoint_interval: 10
        })
    );
}

#[test]
fn bootstrap_refuses_an_interval_below_the_minimum() {
    let mut state = MemoryState::default();
    let outcome = state.apply(
        1,
        &request(
            1_000,
            Command::Bootstrap {
                principal: admin(),
                token: ADMIN_TOKEN,
                secret_hash: Hash::of(b"secret"),
                node: NodeId(1),
                audit_key: None,
                checkpoint_interval: 1,
            },
        ),
    );
    assert!(
        matches!(&outcome, Outcome::Rejected(rejection) if rejection.code == Code::InvalidArgument),
        "{outcome:?}"
    );
    assert_eq!(state.bootstrapped, None);
}
