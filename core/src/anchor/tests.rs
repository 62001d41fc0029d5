//! The checkpoint encoding, pinned, and its signatures.

use super::*;

fn secret(seed: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
}

#[test]
fn the_signed_bytes_are_the_documented_layout() {
    let hash = Hash([0xab; 32]);
    let bytes = signed_bytes(NodeId(0x0102), 0x0a0b_0c0d, &hash);
    let mut expected = b"warden-audit-checkpoint-v1\0".to_vec();
    expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0x01, 0x02]);
    expected.extend_from_slice(&[0, 0, 0, 0, 0x0a, 0x0b, 0x0c, 0x0d]);
    expected.extend_from_slice(&[0xab; 32]);
    assert_eq!(bytes.to_vec(), expected);
    assert_eq!(CHECKPOINT_DOMAIN.len(), 27);
}

#[test]
fn keys_follow_rfc_8032() {
    // RFC 8032, section 7.1, test 1: the public key of this secret, and its signature of
    // the empty message.
    let seed: [u8; 32] =
        hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .expect("hex")
            .try_into()
            .expect("32 bytes");
    let secret = ed25519_dalek::SigningKey::from_bytes(&seed);
    assert_eq!(
        public_key(&secret).to_hex(),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    let signature = secret.sign(b"");
    assert_eq!(
        hex::encode(signature.to_bytes()),
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    );
}

#[test]
fn a_signed_checkpoint_verifies_and_any_change_breaks_it() {
    let checkpoint = sign(&secret(7), NodeId(2), 40, Hash([9; 32]));
    assert_eq!(checkpoint.verify_signature(), Ok(()));
    let key = checkpoint.key;

    let mut other_index = checkpoint.clone();
    other_index.index = 41;
    let mut other_node = checkpoint.clone();
    other_node.node = NodeId(3);
    let mut other_hash = checkpoint.clone();
    other_hash.hash = Hash([8; 32]);
    for changed in [other_index, other_node, other_hash] {
        assert_eq!(
            changed.verify_signature(),
            Err(SignatureError::Invalid(key))
        );
    }

    let mut other_key = checkpoint.clone();
    other_key.key = public_key(&secret(8));
    assert_eq!(
        other_key.verify_signature(),
        Err(SignatureError::Invalid(other_key.key))
    );
    let mut short = checkpoint.clone();
    short.signature.pop();
    assert_eq!(short.verify_signature(), Err(SignatureError::BadLength(63)));
}

#[test]
fn the_detail_reads_back() {
    let checkpoint = sign(&secret(7), NodeId(12), 1000, Hash([3; 32]));
    let detail = checkpoint.detail();
    assert!(detail.starts_with("checkpoint v1 node=12 index=1000 hash=0303"));
    assert_eq!(Checkpoint::parse_detail(&detail), Some(checkpoint.clone()));
    assert_eq!(Checkpoint::parse_detail(&format!("{detail} extra=1")), None);
    assert_eq!(
        Checkpoint::parse_detail("add node 2 at a:1 as a learner"),
        None
    );
}

#[test]
fn a_node_record_names_its_current_key_while_it_is_a_member() {
    let (first, second) = (public_key(&secret(1)), public_key(&secret(2)));
    let record = NodeRecord::registered(None, NodeId(2), Some(first), 4);
    let mut record = NodeRecord::registered(Some(record), NodeId(2), Some(second), 9);
    assert_eq!(record.keyed_since, 4);
    assert_eq!(record.audit_keys, vec![first, second]);
    assert_eq!(record.current_key(), Some(second));
    assert!(record.knows(&first));
    record.member = false;
    assert_eq!(record.current_key(), None);
    assert!(record.knows(&second));
    let keyless = NodeRecord::registered(Some(record), NodeId(2), None, 12);
    assert!(keyless.member);
    assert_eq!(keyless.current_key(), None);
    assert_eq!(keyless.audit_keys, vec![first, second]);
}
