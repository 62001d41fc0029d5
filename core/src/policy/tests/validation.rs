//! `PolicySet::validate`: each problem names the rule and the field at fault.

use serde_json::json;

use super::matrix::workspace_policy;
use super::*;

/// The workspace policy with one more rule, `extra`, changed by `change`.
fn invalid(change: impl FnOnce(&mut PolicyRule)) -> Result<(), String> {
    let mut extra = rule(
        "extra",
        0,
        Subject::Any,
        Target::Any,
        vec![when("$.ok", Test::Exists(true))],
        approval(
            vec![Approver::Principal(principal("user/alice"))],
            1,
            60_000,
        ),
    );
    change(&mut extra);
    let mut policy = workspace_policy();
    policy.rules.push(extra);
    policy.validate().map_err(|error| error.to_string())
}

fn set_condition(test: Test) -> impl FnOnce(&mut PolicyRule) {
    move |rule| rule.conditions.push(when("$.x", test))
}

fn set_requirement(change: impl FnOnce(&mut ApprovalRequirement)) -> impl FnOnce(&mut PolicyRule) {
    move |rule| {
        if let Effect::RequireApproval(requirement) = &mut rule.effect {
            change(requirement);
        }
    }
}

/// An id that `RuleId::parse` would refuse, as deserializing can produce.
fn raw_id(text: &str) -> RuleId {
    serde_json::from_value(json!(text)).expect("rule id from a string")
}

#[test]
fn a_valid_extra_rule_passes() {
    assert_eq!(invalid(|_| {}), Ok(()));
}

/// A change that makes the extra rule invalid.
type Change = Box<dyn FnOnce(&mut PolicyRule)>;

#[test]
fn each_problem_names_the_rule_and_the_field() {
    let cases: Vec<(Change, &str)> = vec![
        (
            Box::new(|rule| rule.id = rule_id("fs-reads")),
            r#"rule "fs-reads": id is used by more than one rule"#,
        ),
        (
            Box::new(|rule| rule.id = raw_id("Extra")),
            r#"rule "Extra": id must start with a letter"#,
        ),
        (
            Box::new(|rule| rule.id = raw_id("extra_1")),
            r#"rule "extra_1": id may contain only a-z, 0-9 and '-'"#,
        ),
        (
            Box::new(|rule| rule.description = "x".repeat(513)),
            r#"rule "extra": description is 513 bytes, at most 512 are allowed"#,
        ),
        (
            Box::new(|rule| rule.conditions.push(when("$.a[", Test::Exists(true)))),
            r#"rule "extra": conditions[1].path "$.a[": unclosed bracket"#,
        ),
        (
            Box::new(|rule| rule.conditions[0].path = "a".to_owned()),
            r#"rule "extra": conditions[0].path "a": must start with '$'"#,
        ),
        (
            Box::new(set_condition(Test::Regex("a)".to_owned()))),
            r#"rule "extra": conditions[1].test.regex "a)": unopened group"#,
        ),
        (
            Box::new(set_condition(Test::Equals {
                value_json: "tru".to_owned(),
            })),
            r#"rule "extra": conditions[1].test.equals.value_json "tru" is not valid JSON: EOF while parsing a value at line 1 column 3"#,
        ),
        (
            Box::new(set_condition(Test::OneOf {
                values_json: vec!["1".to_owned(), "[".to_owned()],
            })),
            r#"rule "extra": conditions[1].test.one_of.values_json[1] "[" is not valid JSON: EOF while parsing a list at line 1 column 1"#,
        ),
        (
            Box::new(set_condition(Test::OneOf {
                values_json: vec![],
            })),
            r#"rule "extra": conditions[1].test.one_of needs at least one value"#,
        ),
        (
            Box::new(set_condition(Test::PathPrefix(String::new()))),
            r#"rule "extra": conditions[1].test.path_prefix "": must not be empty"#,
        ),
        (
            Box::new(set_condition(Test::PathPrefix("tmp/../etc".to_owned()))),
            r#"rule "extra": conditions[1].test.path_prefix "tmp/../etc": must not contain a '..' segment"#,
        ),
        (
            Box::new(set_condition(range(None, None))),
            r#"rule "extra": conditions[1].test.range needs a min or a max"#,
        ),
        (
            Box::new(set_condition(range(Some(json!(10)), Some(json!(9.5))))),
            r#"rule "extra": conditions[1].test.range min 10 is greater than max 9.5"#,
        ),
        (
            Box::new(set_requirement(|r| r.approvers.clear())),
            r#"rule "extra": effect.approvers must not be empty"#,
        ),
        (
            Box::new(set_requirement(|r| {
                r.approvers.push(Approver::Role(Role::Approver));
                r.approvers.push(Approver::Role(Role::Approver));
            })),
            r#"rule "extra": effect.approvers lists role approver more than once"#,
        ),
        (
            Box::new(set_requirement(|r| r.quorum = 0)),
            r#"rule "extra": effect.quorum must be at least 1"#,
        ),
        (
            Box::new(set_requirement(|r| r.quorum = 2)),
            r#"rule "extra": effect.quorum 2 exceeds the 1 approving principals"#,
        ),
        (
            Box::new(set_requirement(|r| r.expiry_ms = 0)),
            r#"rule "extra": effect.expiry_ms must be more than 0"#,
        ),
    ];
    for (change, message) in cases {
        assert_eq!(invalid(change), Err(message.to_owned()));
    }
}

#[test]
fn a_quorum_over_roles_is_not_bounded_by_the_list() {
    let changed = invalid(set_requirement(|r| {
        r.approvers.push(Approver::Role(Role::Approver));
        r.quorum = 5;
    }));
    assert_eq!(changed, Ok(()));
}

#[test]
fn a_range_with_equal_bounds_or_one_bound_is_valid() {
    for test in [
        range(Some(json!(3)), Some(json!(3.0))),
        range(Some(json!(-1)), None),
        range(None, Some(json!(0.25))),
    ] {
        assert_eq!(invalid(set_condition(test)), Ok(()));
    }
}

#[test]
fn a_set_holds_at_most_256_rules() {
    let rules: Vec<PolicyRule> = (0..PolicySet::MAX_RULES)
        .map(|i| {
            rule(
                &format!("r{i}"),
                0,
                Subject::Any,
                Target::Any,
                vec![],
                Effect::Allow,
            )
        })
        .collect();
    let mut policy = PolicySet { rules };
    assert_eq!(policy.validate(), Ok(()));
    policy.rules.push(rule(
        "one-more",
        0,
        Subject::Any,
        Target::Any,
        vec![],
        Effect::Allow,
    ));
    assert_eq!(
        policy.validate().map_err(|error| error.to_string()),
        Err("policy has 257 rules, at most 256 are allowed".to_owned())
    );
}

#[test]
fn rule_ids_parse_like_names() {
    for good in ["a", "no-prod-writes", "r2-d2", &"a".repeat(64)] {
        assert!(RuleId::parse(good).is_ok(), "{good}");
    }
    for bad in [
        "",
        "2fast",
        "-a",
        "Upper",
        "under_score",
        "dot.ted",
        &"a".repeat(65),
    ] {
        assert!(RuleId::parse(bad).is_err(), "{bad}");
    }
}
