//! Integers a 64-bit number cannot hold. Tool arguments are parsed into `serde_json`
//! values, which keep an integer exactly only within i64/u64 and turn a wider one into a
//! float, so a tool would receive another number than the model wrote. Such arguments are
//! refused instead, with the literal named: found by scanning the JSON text as the model
//! sent it, outside strings.

/// The first integer literal in the JSON `text` that neither i64 nor u64 holds.
pub(crate) fn first_wide_integer(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut at = 0;
    let mut in_string = false;
    while at < bytes.len() {
        let byte = bytes[at];
        if in_string {
            match byte {
                b'\\' => at += 1,
                b'"' => in_string = false,
                _ => {}
            }
            at += 1;
            continue;
        }
        match byte {
            b'"' => {
                in_string = true;
                at += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = at;
                while at < bytes.len()
                    && matches!(bytes[at], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    at += 1;
                }
                let literal = &text[start..at];
                let integer = !literal.contains(['.', 'e', 'E']);
                if integer && literal.parse::<i64>().is_err() && literal.parse::<u64>().is_err() {
                    return Some(literal);
                }
            }
            _ => at += 1,
        }
    }
    None
}

/// The refusal of arguments holding a wide integer: names whose arguments and the literal.
pub(crate) fn refusal(whose: &str, literal: &str) -> String {
    format!(
        "{whose} arguments hold the integer {literal}, which is beyond 64 bits: a tool would receive it rounded, so the response is refused"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_beyond_64_bits_are_found_outside_strings_only() {
        assert_eq!(
            first_wide_integer(r#"{"a": 1, "b": -2, "c": 1.5e300}"#),
            None
        );
        assert_eq!(
            first_wide_integer(r#"{"max": 18446744073709551615, "min": -9223372036854775808}"#),
            None
        );
        assert_eq!(
            first_wide_integer(r#"{"amount": 18446744073709551616}"#),
            Some("18446744073709551616")
        );
        assert_eq!(
            first_wide_integer(r#"{"n": [1, -9223372036854775809]}"#),
            Some("-9223372036854775809")
        );
        assert_eq!(
            first_wide_integer(
                r#"{"s": "123456789012345678901234567890", "t": "\"99999999999999999999\""}"#
            ),
            None
        );
        assert_eq!(first_wide_integer(r#"{"k99999999999999999999": 0}"#), None);
    }

    /// What would happen without the check: the value the tool sees is not the model's.
    #[test]
    fn a_wide_integer_does_not_survive_a_json_value() {
        let text = r#"{"amount": 123456789012345678901234567890}"#;
        let value: serde_json::Value = serde_json::from_str(text).expect("json");
        assert_ne!(value.to_string(), text.replace(' ', ""));
    }
}
