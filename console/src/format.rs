//! How times, durations, statuses and JSON read on the pages.

use std::time::{Duration, UNIX_EPOCH};

use warden_proto::v1::TaskStatus;

/// `2026-12-07 06:49:04 UTC`; a dash for 0 (never).
pub fn time(ms: u64) -> String {
    if ms == 0 {
        return "-".to_owned();
    }
    let text =
        humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string();
    format!("{} UTC", text.trim_end_matches('Z').replacen('T', " ", 1))
}

/// How long until `at_ms`, to the second: `4m 12s`, or `expired`.
pub fn left(at_ms: u64, now_ms: u64) -> String {
    if at_ms <= now_ms {
        return "expired".to_owned();
    }
    humantime::format_duration(Duration::from_secs((at_ms - now_ms).div_ceil(1000))).to_string()
}

/// A status as the API names it in lower case: `waiting_approval`.
pub fn status(value: i32) -> String {
    TaskStatus::try_from(value)
        .map(|status| {
            status
                .as_str_name()
                .trim_start_matches("TASK_STATUS_")
                .to_ascii_lowercase()
        })
        .unwrap_or_else(|_| format!("unknown ({value})"))
}

/// Whether a task in `status` has ended for good.
pub fn finished(value: i32) -> bool {
    matches!(
        TaskStatus::try_from(value),
        Ok(TaskStatus::Completed
            | TaskStatus::Failed
            | TaskStatus::Cancelled
            | TaskStatus::TimedOut)
    )
}

/// The statuses a task list may be filtered by, as `status` names them.
pub const STATUSES: [TaskStatus; 10] = [
    TaskStatus::Pending,
    TaskStatus::Running,
    TaskStatus::WaitingApproval,
    TaskStatus::NeedsAttention,
    TaskStatus::WaitingForInput,
    TaskStatus::WaitingForChild,
    TaskStatus::Completed,
    TaskStatus::Failed,
    TaskStatus::Cancelled,
    TaskStatus::TimedOut,
];

/// The status named `name` (as `status` writes it); `None` for the empty name (any).
pub fn parse_status(name: &str) -> Result<Option<TaskStatus>, String> {
    if name.is_empty() {
        return Ok(None);
    }
    STATUSES
        .into_iter()
        .find(|candidate| status(*candidate as i32) == name)
        .map(Some)
        .ok_or_else(|| {
            let known: Vec<String> = STATUSES.iter().map(|known| status(*known as i32)).collect();
            format!(
                "status: unknown status {name:?} (one of {})",
                known.join(", ")
            )
        })
}

/// JSON text indented for reading; the text itself when it is not JSON.
pub fn pretty_json(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
        .unwrap_or_else(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_unknown_ones_are_refused() {
        for known in STATUSES {
            assert_eq!(parse_status(&status(known as i32)), Ok(Some(known)));
        }
        assert_eq!(parse_status(""), Ok(None));
        let refused = parse_status("sleeping").expect_err("unknown");
        assert!(refused.contains("waiting_approval"), "{refused}");
    }

    #[test]
    fn times_and_durations_read_plainly() {
        assert_eq!(time(0), "-");
        assert_eq!(time(1_000), "1970-01-01 00:00:01 UTC");
        assert_eq!(left(61_500, 0), "1m 2s");
        assert_eq!(left(5, 10), "expired");
        assert!(finished(TaskStatus::Completed as i32));
        assert!(!finished(TaskStatus::WaitingApproval as i32));
    }
}
