//! JSON path parsing, its errors, and looking values up.

use serde_json::json;

use super::*;
use crate::policy::path::Segment;

fn member(name: &str) -> Segment {
    Segment::Member(name.to_owned())
}

#[test]
fn paths_parse_into_segments() {
    let cases = [
        ("$", vec![]),
        ("$.a.b", vec![member("a"), member("b")]),
        (
            "$.items[0].name",
            vec![member("items"), Segment::Element(0), member("name")],
        ),
        ("$['odd key']", vec![member("odd key")]),
        ("$[\"odd key\"].x", vec![member("odd key"), member("x")]),
        ("$['it\\'s']", vec![member("it's")]),
        ("$[\"say \\\"hi\\\"\"]", vec![member("say \"hi\"")]),
        ("$['back\\\\slash']", vec![member("back\\slash")]),
        ("$['a.b[0]']", vec![member("a.b[0]")]),
        ("$['héllo']", vec![member("héllo")]),
        ("$['']", vec![member("")]),
        ("$.Mixed_Case-9", vec![member("Mixed_Case-9")]),
        ("$[10][2]", vec![Segment::Element(10), Segment::Element(2)]),
    ];
    for (text, segments) in cases {
        assert_eq!(JsonPath::parse(text), Ok(JsonPath { segments }), "{text}");
    }
}

#[test]
fn malformed_paths_say_what_is_wrong() {
    let cases = [
        ("", PathError::MissingRoot),
        ("a.b", PathError::MissingRoot),
        (".a", PathError::MissingRoot),
        ("$.", PathError::EmptyMember { at: 2 }),
        ("$.a..b", PathError::EmptyMember { at: 4 }),
        ("$.é", PathError::EmptyMember { at: 2 }),
        ("$.a[", PathError::UnclosedBracket),
        ("$[0", PathError::UnclosedBracket),
        ("$['a'", PathError::UnclosedBracket),
        ("$['a", PathError::UnterminatedQuote),
        ("$['a\\", PathError::UnterminatedQuote),
        ("$['a\\n']", PathError::BadEscape { found: 'n', at: 5 }),
        ("$[x]", PathError::BadBracket { at: 2 }),
        ("$[-1]", PathError::BadBracket { at: 2 }),
        ("$[]", PathError::BadBracket { at: 2 }),
        (
            "$[99999999999999999999999]",
            PathError::IndexTooLarge { at: 2 },
        ),
        ("$a", PathError::Unexpected { found: 'a', at: 1 }),
        ("$.a b", PathError::Unexpected { found: ' ', at: 3 }),
        ("$['a'x]", PathError::Unexpected { found: 'x', at: 5 }),
        ("$[0 ]", PathError::Unexpected { found: ' ', at: 3 }),
        ("$[1a]", PathError::Unexpected { found: 'a', at: 3 }),
    ];
    for (text, error) in cases {
        assert_eq!(JsonPath::parse(text), Err(error), "{text:?}");
    }
    assert_eq!(PathError::UnclosedBracket.to_string(), "unclosed bracket");
    assert_eq!(
        PathError::Unexpected { found: 'x', at: 5 }.to_string(),
        "unexpected 'x' at byte 5"
    );
}

#[test]
fn lookup_follows_members_and_elements() {
    let arguments = json!({
        "a": {"b": [{"name": "x"}, null]},
        "odd key": 1,
    });
    let cases = [
        ("$", Some(&arguments)),
        ("$.a.b[0].name", Some(&json!("x"))),
        ("$.a.b[1]", Some(&Value::Null)),
        ("$['odd key']", Some(&json!(1))),
        ("$.a.b[2]", None),
        ("$.a.b.name", None),
        ("$.a[0]", None),
        ("$.a.b[0].name.more", None),
        ("$.missing", None),
    ];
    for (text, expected) in cases {
        let path = JsonPath::parse(text).expect("valid path");
        assert_eq!(path.lookup(&arguments), expected, "{text}");
    }
}
