//! How task journal events read on a terminal: the `task journal` table and the lines
//! `task watch` prints as events arrive, each with a one-line summary of the event's
//! detail.

use serde_json::Value;
use warden_client::proto::TaskEvent;

use crate::output::{Table, format_time_ms, shorten};

/// Longest summary of an event's detail in a table cell or a watch line.
const SUMMARY_CHARS: usize = 100;
/// Longest string value inside a summary.
const VALUE_CHARS: usize = 40;

/// The journal as a table: SEQ, TIME, EPOCH, KIND, DETAIL.
pub fn render_table(events: &[TaskEvent]) -> String {
    let mut table = Table::new(vec!["SEQ", "TIME", "EPOCH", "KIND", "DETAIL"]);
    for event in events {
        table.push(vec![
            event.seq.to_string(),
            format_time_ms(event.time_ms),
            event.epoch.to_string(),
            event.kind.clone(),
            summarize_detail(&event.detail_json),
        ]);
    }
    table.render()
}

/// One event on one line, in the columns of `render_table` with fixed widths, so that
/// lines printed one at a time still line up.
pub fn render_line(event: &TaskEvent) -> String {
    let line = format!(
        "{:>4}  {}  {:>5}  {:<18}  {}",
        event.seq,
        format_time_ms(event.time_ms),
        event.epoch,
        event.kind,
        summarize_detail(&event.detail_json)
    );
    let mut text = format!("{}\n", line.trim_end());
    if let Some((name, whole)) = ending_text(event) {
        text.push_str(&format!("      {name}: {whole}\n"));
    }
    text
}

/// The whole reason (or result) of an event that ends or parks a task, when its summary
/// had to shorten it: the one text a watcher must be able to read in full.
fn ending_text(event: &TaskEvent) -> Option<(&'static str, String)> {
    let name = match event.kind.as_str() {
        "completed" => "result",
        "failed" | "needs_attention" | "cancelled" => "reason",
        _ => return None,
    };
    let detail: Value = serde_json::from_str(&event.detail_json).ok()?;
    let whole = detail.get(name)?.as_str()?;
    (whole.chars().count() > VALUE_CHARS || whole.contains('\n')).then(|| (name, whole.to_owned()))
}

/// The detail of an event as `key=value` pairs on one line, keys in alphabetical order
/// (how the JSON parser keeps them): strings shortened (and
/// quoted when they contain spaces), lists as their length, nested objects in braces,
/// nulls left out. Detail that is not a JSON object is shown as its text.
pub fn summarize_detail(detail_json: &str) -> String {
    let summary = match serde_json::from_str::<Value>(detail_json) {
        Ok(Value::Object(fields)) => pairs(&fields),
        Ok(Value::Null) => String::new(),
        Ok(other) => value(&other),
        Err(_) => detail_json.to_owned(),
    };
    shorten(&summary, SUMMARY_CHARS)
}

fn pairs(fields: &serde_json::Map<String, Value>) -> String {
    fields
        .iter()
        .filter(|(_, field)| !field.is_null())
        .map(|(name, field)| format!("{name}={}", value(field)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn value(field: &Value) -> String {
    match field {
        Value::String(text) => {
            let short = shorten(text, VALUE_CHARS);
            if short.is_empty() || short.contains([' ', '=', '"']) {
                format!("{short:?}")
            } else {
                short
            }
        }
        Value::Array(items) if items.is_empty() => "[]".to_owned(),
        Value::Array(items) => format!("[{} items]", items.len()),
        Value::Object(fields) => format!("{{{}}}", pairs(fields)),
        Value::Null | Value::Bool(_) | Value::Number(_) => field.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_becomes_key_value_pairs_on_one_line() {
        assert_eq!(summarize_detail(r#"{"agent":"bot"}"#), "agent=bot");
        assert_eq!(
            summarize_detail(
                r#"{"turn":1,"content":"two words\nand a line","tool_calls":[{},{}],"usage":{"input_tokens":10,"output_tokens":5},"gone":null}"#
            ),
            r#"content="two words and a line" tool_calls=[2 items] turn=1 usage={input_tokens=10 output_tokens=5}"#
        );
        assert_eq!(summarize_detail("{}"), "");
        assert_eq!(summarize_detail("null"), "");
        assert_eq!(summarize_detail("not json"), "not json");
        let long = format!(r#"{{"output":"{}"}}"#, "x".repeat(200));
        let summary = summarize_detail(&long);
        assert!(summary.chars().count() <= SUMMARY_CHARS, "{summary}");
        assert!(summary.starts_with("output=xxx"), "{summary}");
    }

    #[test]
    fn lines_have_fixed_columns() {
        let event = TaskEvent {
            seq: 7,
            time_ms: 1_740_830_400_123,
            epoch: 2,
            kind: "assigned".into(),
            detail_json: r#"{"node":1}"#.into(),
            ..TaskEvent::default()
        };
        assert_eq!(
            render_line(&event),
            "   7  2025-03-01T12:00:00.123Z      2  assigned            node=1\n"
        );
        let quiet = TaskEvent {
            detail_json: "{}".into(),
            ..event
        };
        assert!(render_line(&quiet).ends_with("assigned\n"));
    }

    #[test]
    fn a_long_failure_reason_is_printed_whole_below_its_line() {
        let reason = format!(
            "the model provider answered 401: {}",
            "key rejected ".repeat(10)
        );
        let failed = TaskEvent {
            seq: 9,
            kind: "failed".into(),
            detail_json: serde_json::json!({ "reason": reason }).to_string(),
            ..TaskEvent::default()
        };
        let text = render_line(&failed);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[1], format!("      reason: {reason}"));
        let short = TaskEvent {
            detail_json: r#"{"reason":"cancelled by alice"}"#.into(),
            ..failed
        };
        assert_eq!(render_line(&short).lines().count(), 1);
    }
}
