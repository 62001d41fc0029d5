//! The stored encoding: a policy set round-trips through bincode (the replicated state)
//! and through JSON.

use serde_json::json;

use super::matrix::workspace_policy;
use super::*;

fn bincode_round_trip<T>(value: &T) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let config = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(value, config).expect("encode");
    let (decoded, read) = bincode::serde::decode_from_slice(&bytes, config).expect("decode");
    assert_eq!(read, bytes.len(), "the whole encoding is read");
    decoded
}

/// The workspace policy plus a rule with every test kind and unusual numbers.
fn every_kind() -> PolicySet {
    let mut policy = workspace_policy();
    policy.rules.push(PolicyRule {
        description: "every test kind, with floats and extreme integers".to_owned(),
        ..rule(
            "every-kind",
            i32::MIN,
            Subject::Principal(principal("user/ünïcode")),
            tool("x", "y.z"),
            vec![
                when("$['odd key'][3]", equals(json!({"a": [1, 2.5, null]}))),
                when("$.p", Test::Prefix("pré".to_owned())),
                when("$.r", Test::Regex(r"^\d+$".to_owned())),
                when("$.f", range(Some(json!(-0.5)), Some(json!(1e300)))),
                when("$.i", range(Some(json!(i64::MIN)), Some(json!(u64::MAX)))),
                when("$.e", Test::Exists(false)),
                when("$.o", one_of(&[json!("a"), json!(1), json!([])])),
            ],
            approval(
                vec![
                    Approver::Role(Role::Auditor),
                    Approver::Principal(principal("user/bob")),
                ],
                2,
                u64::MAX,
            ),
        )
    });
    policy
}

#[test]
fn a_policy_set_round_trips_through_bincode() {
    let policy = every_kind();
    assert_eq!(policy.validate(), Ok(()));
    assert_eq!(bincode_round_trip(&policy), policy);
}

#[test]
fn a_decision_round_trips_through_bincode() {
    let policy = workspace_policy();
    let decision = Caller::new("clerk", "user/bob", &[Role::Operator]).call(
        &policy,
        "payments/refund",
        &json!({"amount_cents": 20_000}),
    );
    assert!(matches!(decision.effect, Effect::RequireApproval(_)));
    assert_eq!(bincode_round_trip(&decision), decision);
}

#[test]
fn a_policy_set_round_trips_through_json() {
    let policy = every_kind();
    let text = serde_json::to_string(&policy).expect("to json");
    let decoded: PolicySet = serde_json::from_str(&text).expect("from json");
    assert_eq!(decoded, policy);
}

#[test]
fn a_range_bound_that_is_not_a_number_does_not_decode() {
    let text = r#"{"range": {"min": "ten", "max": null}}"#;
    let error = serde_json::from_str::<Test>(text).expect_err("not a number");
    assert!(
        error.to_string().contains(r#"invalid JSON number "ten""#),
        "{error}"
    );
}
