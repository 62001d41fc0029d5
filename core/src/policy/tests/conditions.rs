//! Conditions one by one, and rules whose conditions cannot be evaluated.

use serde_json::json;

use super::*;
use crate::policy::evaluate::human_duration;

fn holds(path: &str, test: Test, arguments: Value) -> Result<bool, ConditionError> {
    when(path, test).holds(&arguments)
}

#[test]
fn each_test_kind_on_present_and_missing_values() {
    let cases = [
        // Equals: JSON equality, numbers by value.
        ("$.n", equals(json!(1)), json!({"n": 1}), true),
        ("$.n", equals(json!(1)), json!({"n": 1.0}), true),
        ("$.n", equals(json!(1)), json!({"n": "1"}), false),
        ("$.n", equals(json!(-3)), json!({"n": -3}), true),
        ("$.n", equals(json!(u64::MAX)), json!({"n": u64::MAX}), true),
        (
            "$.n",
            equals(json!(u64::MAX)),
            json!({"n": u64::MAX - 1}),
            false,
        ),
        (
            "$.o",
            equals(json!({"a": [1, 2]})),
            json!({"o": {"a": [1.0, 2]}}),
            true,
        ),
        (
            "$.o",
            equals(json!({"a": [1, 2]})),
            json!({"o": {"a": [2, 1]}}),
            false,
        ),
        (
            "$.o",
            equals(json!({"a": 1})),
            json!({"o": {"a": 1, "b": 2}}),
            false,
        ),
        ("$.o", equals(json!(null)), json!({"o": null}), true),
        ("$.o", equals(json!(null)), json!({}), false),
        ("$", equals(json!({"x": true})), json!({"x": true}), true),
        // Prefix.
        (
            "$.p",
            Test::Prefix("/data/".into()),
            json!({"p": "/data/x"}),
            true,
        ),
        (
            "$.p",
            Test::Prefix("/data/".into()),
            json!({"p": "/dat"}),
            false,
        ),
        ("$.p", Test::Prefix("".into()), json!({"p": ""}), true),
        ("$.p", Test::Prefix("/data/".into()), json!({}), false),
        // Regex: matches anywhere unless anchored.
        ("$.s", Test::Regex("b+".into()), json!({"s": "abbbc"}), true),
        (
            "$.s",
            Test::Regex("^b+$".into()),
            json!({"s": "abbbc"}),
            false,
        ),
        ("$.s", Test::Regex("^b+$".into()), json!({"s": "bbb"}), true),
        ("$.s", Test::Regex("b".into()), json!({}), false),
        // Range: inclusive, either bound optional, integers exact.
        (
            "$.n",
            range(Some(json!(1)), Some(json!(10))),
            json!({"n": 1}),
            true,
        ),
        (
            "$.n",
            range(Some(json!(1)), Some(json!(10))),
            json!({"n": 10}),
            true,
        ),
        (
            "$.n",
            range(Some(json!(1)), Some(json!(10))),
            json!({"n": 10.5}),
            false,
        ),
        (
            "$.n",
            range(Some(json!(1)), Some(json!(10))),
            json!({"n": 0.999}),
            false,
        ),
        ("$.n", range(Some(json!(-5)), None), json!({"n": -5}), true),
        ("$.n", range(Some(json!(-5)), None), json!({"n": -6}), false),
        (
            "$.n",
            range(None, Some(json!(0.5))),
            json!({"n": -1e300}),
            true,
        ),
        (
            "$.n",
            range(None, Some(json!(i64::MAX))),
            json!({"n": u64::MAX}),
            false,
        ),
        ("$.n", range(Some(json!(0)), None), json!({"n": -0.0}), true),
        ("$.n", range(Some(json!(0)), None), json!({}), false),
        // Exists: presence, even of null.
        ("$.x", Test::Exists(true), json!({"x": null}), true),
        ("$.x", Test::Exists(true), json!({}), false),
        ("$.x", Test::Exists(false), json!({}), true),
        ("$.x", Test::Exists(false), json!({"x": false}), false),
        ("$.x.y", Test::Exists(false), json!({"x": 3}), true),
        // OneOf.
        (
            "$.m",
            one_of(&[json!("read"), json!(2)]),
            json!({"m": "read"}),
            true,
        ),
        (
            "$.m",
            one_of(&[json!("read"), json!(2)]),
            json!({"m": 2.0}),
            true,
        ),
        (
            "$.m",
            one_of(&[json!("read"), json!(2)]),
            json!({"m": "write"}),
            false,
        ),
        ("$.m", one_of(&[json!("read")]), json!({}), false),
    ];
    for (path, test, arguments, expected) in cases {
        assert_eq!(
            holds(path, test.clone(), arguments.clone()),
            Ok(expected),
            "{path} {test:?} on {arguments}"
        );
    }
}

#[test]
fn tests_that_meet_the_wrong_type_or_a_broken_rule_are_errors() {
    let wrong_type = |test, expected, found| ConditionError::WrongType {
        test,
        expected,
        found,
    };
    let cases = [
        (
            holds("$.p", Test::Prefix("/".into()), json!({"p": 1})),
            wrong_type("prefix", "string", "number"),
        ),
        (
            holds("$.p", Test::Regex("x".into()), json!({"p": ["x"]})),
            wrong_type("regex", "string", "array"),
        ),
        (
            holds("$.n", range(Some(json!(1)), None), json!({"n": "2"})),
            wrong_type("range", "number", "string"),
        ),
        (
            holds("$.n", range(Some(json!(1)), None), json!({"n": null})),
            wrong_type("range", "number", "null"),
        ),
        (
            holds("$.a[", Test::Exists(true), json!({})),
            ConditionError::Path(PathError::UnclosedBracket),
        ),
    ];
    for (result, error) in cases {
        assert_eq!(result, Err(error));
    }
    // A broken test is an error even when the path is missing.
    let broken_json = Test::Equals {
        value_json: "{nope".to_owned(),
    };
    assert!(matches!(
        holds("$.missing", broken_json, json!({})),
        Err(ConditionError::Test(TestError::InvalidJson { .. }))
    ));
    assert!(matches!(
        holds("$.missing", Test::Regex("(".into()), json!({})),
        Err(ConditionError::Test(TestError::InvalidRegex { .. }))
    ));
}

#[test]
fn path_prefix_normalizes_before_matching_and_prefix_does_not() {
    let path_prefix = || Test::PathPrefix("tmp/".into());
    let cases = [
        ("tmp/a", true),
        ("tmp", true),
        ("./tmp//a/./b", true),
        ("tmp/x/../y", true),
        ("tmp/../etc/passwd", false),
        ("tmpfile", false),
        ("/tmp/a", false),
    ];
    for (value, expected) in cases {
        assert_eq!(
            holds("$.p", path_prefix(), json!({"p": value})),
            Ok(expected),
            "{value}"
        );
    }
    // The plain prefix is text: it lets the climb through, which is why paths use the above.
    assert_eq!(
        holds(
            "$.p",
            Test::Prefix("tmp/".into()),
            json!({"p": "tmp/../etc/passwd"})
        ),
        Ok(true)
    );
    // A value that climbs above its start cannot be evaluated, so its rule denies.
    for value in ["tmp/../../etc", "../tmp/a", "/../etc/passwd"] {
        assert_eq!(
            holds("$.p", path_prefix(), json!({"p": value})),
            Err(ConditionError::PathClimbsAboveRoot),
            "{value}"
        );
    }
    assert_eq!(
        holds(
            "$.p",
            Test::PathPrefix("/data".into()),
            json!({"p": "//data/../data/x"})
        ),
        Ok(true)
    );
    assert_eq!(
        holds("$.p", path_prefix(), json!({"p": 3})),
        Err(ConditionError::WrongType {
            test: "path_prefix",
            expected: "string",
            found: "number"
        })
    );
}

/// A policy that allows everything at priority 0 and has one more rule at priority 10
/// for `tools/run`.
fn allow_all_and(extra: PolicyRule) -> PolicySet {
    PolicySet {
        rules: vec![
            rule(
                "allow-all",
                0,
                Subject::Any,
                Target::Any,
                vec![],
                Effect::Allow,
            ),
            extra,
        ],
    }
}

fn alice() -> Caller {
    Caller::new("bot", "user/alice", &[Role::Operator])
}

#[test]
fn a_rule_that_slipped_past_validation_denies_with_its_id() {
    let cases = [
        (
            when("$.q", Test::Regex("(".to_owned())),
            r#"rule "broken" denies tools/run: cannot evaluate conditions[0] at "$.q": test.regex "(": unclosed group"#,
        ),
        (
            when("$.q[", Test::Exists(true)),
            r#"rule "broken" denies tools/run: cannot evaluate conditions[0] at "$.q[": path: unclosed bracket"#,
        ),
        (
            when(
                "$.q",
                Test::Equals {
                    value_json: "'single'".to_owned(),
                },
            ),
            r#"rule "broken" denies tools/run: cannot evaluate conditions[0] at "$.q": test.equals.value_json "'single'" is not valid JSON: expected value at line 1 column 1"#,
        ),
        (
            when(
                "$.q",
                Test::OneOf {
                    values_json: vec!["1".to_owned(), "x".to_owned()],
                },
            ),
            r#"rule "broken" denies tools/run: cannot evaluate conditions[0] at "$.q": test.one_of.values_json[1] "x" is not valid JSON: expected value at line 1 column 1"#,
        ),
    ];
    for (condition, reason) in cases {
        let policy = allow_all_and(rule(
            "broken",
            10,
            Subject::Any,
            tool("tools", "run"),
            vec![condition],
            Effect::Allow,
        ));
        let decision = alice().call(&policy, "tools/run", &json!({"q": "text"}));
        assert_eq!(decision.effect, Effect::Deny);
        assert_eq!(decision.rule, Some(rule_id("broken")));
        assert_eq!(decision.reason, reason);
        // The broken rule does not apply to calls outside its subject and target.
        let elsewhere = alice().call(&policy, "tools/other", &json!({"q": "text"}));
        assert_eq!(elsewhere.rule, Some(rule_id("allow-all")));
    }
}

#[test]
fn a_broken_condition_denies_even_when_another_condition_is_false() {
    for conditions in [
        vec![
            when("$.mode", equals(json!("write"))),
            when("$.size", range(None, Some(json!(10)))),
        ],
        vec![
            when("$.size", range(None, Some(json!(10)))),
            when("$.mode", equals(json!("write"))),
        ],
    ] {
        let policy = allow_all_and(rule(
            "small-writes",
            10,
            Subject::Any,
            tool("tools", "run"),
            conditions,
            Effect::Allow,
        ));
        let decision = alice().call(
            &policy,
            "tools/run",
            &json!({"mode": "read", "size": "big"}),
        );
        assert_eq!(
            (decision.effect, decision.rule),
            (Effect::Deny, Some(rule_id("small-writes")))
        );
    }
}

#[test]
fn a_broken_rule_loses_to_a_higher_priority_and_beats_an_equal_priority_allow() {
    let broken = |priority| {
        rule(
            "broken",
            priority,
            Subject::Any,
            Target::Any,
            vec![when("$.q", Test::Regex("[".to_owned()))],
            Effect::Allow,
        )
    };
    let higher = allow_all_and(broken(-1));
    let decision = alice().call(&higher, "tools/run", &json!({}));
    assert_eq!(
        (decision.effect, decision.rule),
        (Effect::Allow, Some(rule_id("allow-all")))
    );
    let equal = allow_all_and(broken(0));
    let decision = alice().call(&equal, "tools/run", &json!({}));
    assert_eq!(
        (decision.effect, decision.rule),
        (Effect::Deny, Some(rule_id("broken")))
    );
}

#[test]
fn an_oversized_regex_is_rejected_and_denies() {
    let pattern = r"\w{1000}";
    let policy = allow_all_and(rule(
        "huge",
        10,
        Subject::Any,
        Target::Any,
        vec![when("$.q", Test::Regex(pattern.to_owned()))],
        Effect::Allow,
    ));
    let problem = format!(
        "test.regex {pattern:?}: compiles to more than the limit of {REGEX_SIZE_LIMIT} bytes"
    );
    assert_eq!(
        policy.validate().map_err(|error| error.to_string()),
        Err(format!(r#"rule "huge": conditions[0].{problem}"#))
    );
    let decision = alice().call(&policy, "tools/run", &json!({"q": "x"}));
    assert_eq!(
        (decision.effect, decision.rule.clone()),
        (Effect::Deny, Some(rule_id("huge")))
    );
    assert!(decision.reason.ends_with(&problem), "{}", decision.reason);
    // A pattern of ordinary size compiles.
    let ordinary = only(rule(
        "ordinary",
        0,
        Subject::Any,
        Target::Any,
        vec![when(
            "$.q",
            Test::Regex(r"^[a-z0-9._-]{1,64}@example\.com$".to_owned()),
        )],
        Effect::Allow,
    ));
    assert_eq!(ordinary.validate(), Ok(()));
}

#[test]
fn subjects_match_agent_principal_submitter_and_roles() {
    let subjects = [
        (Subject::Any, [true, true, true]),
        (
            Subject::Agent(AgentName::parse("bot").expect("agent")),
            [true, false, false],
        ),
        (
            Subject::Principal(principal("agent/acme/bot")),
            [true, false, false],
        ),
        (
            Subject::Principal(principal("user/alice")),
            [true, false, true],
        ),
        (Subject::Role(Role::Operator), [true, false, false]),
        (Subject::Role(Role::Approver), [false, false, true]),
    ];
    let callers = [
        Caller::new("bot", "user/alice", &[Role::Operator]),
        Caller::new("other", "user/bob", &[Role::Viewer]),
        Caller::new("helper", "user/alice", &[Role::Approver, Role::Viewer]),
    ];
    for (subject, expected) in subjects {
        let policy = only(rule(
            "r",
            0,
            subject.clone(),
            Target::Any,
            vec![],
            Effect::Allow,
        ));
        let allowed = callers
            .each_ref()
            .map(|caller| caller.call(&policy, "tools/run", &json!({})).effect == Effect::Allow);
        assert_eq!(allowed, expected, "{subject:?}");
    }
}

#[test]
fn durations_read_in_the_largest_units() {
    let cases = [
        (0, "0s"),
        (1, "1ms"),
        (1_500, "1500ms"),
        (45_000, "45s"),
        (600_000, "10m"),
        (5_400_000, "1h30m"),
        (86_400_000, "1d"),
        (90_061_000, "1d1h1m1s"),
    ];
    for (duration_ms, text) in cases {
        assert_eq!(human_duration(duration_ms), text);
    }
}
