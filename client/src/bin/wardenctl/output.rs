//! How results reach the terminal: the output format, aligned tables, field lists,
//! lowercase enum names, timestamps and gRPC code names.

use std::io::{self, Write};

use clap::ValueEnum;
use tonic::Code;
use warden_client::proto::{MemberRole, TaskStatus};

/// The `--output` format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people
    Table,
    /// One JSON document
    Json,
}

/// Writes `text` to stdout. A closed pipe (`wardenctl ... | head`) is not an error.
pub fn emit(text: &str) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Writes `value` as pretty JSON followed by a newline.
pub fn emit_json(value: &serde_json::Value) -> io::Result<()> {
    emit(&format!("{value:#}\n"))
}

/// Columns padded to their widest cell, separated by two spaces.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: Vec<&'static str>) -> Self {
        Table {
            headers,
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|header| header.len()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let header_cells: Vec<String> = self
            .headers
            .iter()
            .map(|header| header.to_string())
            .collect();
        let mut text = String::new();
        for row in std::iter::once(&header_cells).chain(&self.rows) {
            let mut line = String::new();
            for (column, cell) in row.iter().enumerate() {
                if column > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                let width = widths.get(column).copied().unwrap_or(0);
                line.extend(std::iter::repeat_n(
                    ' ',
                    width.saturating_sub(cell.chars().count()),
                ));
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text
    }
}

/// `name  value` lines with the values aligned.
pub fn render_fields(fields: &[(&str, String)]) -> String {
    let width = fields.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    fields
        .iter()
        .map(|(name, value)| format!("{name:width$}  {value}\n"))
        .collect()
}

/// An optional number as text, `-` when unset.
pub fn or_dash<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| value.to_string())
}

/// `text` cut to `max` characters, with an ellipsis when cut, on one line.
pub fn shorten(text: &str, max: usize) -> String {
    let one_line = text.replace(['\n', '\r', '\t'], " ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut short: String = one_line.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}

/// `yes` or `no`.
pub fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

/// Milliseconds as a duration in the form `--deadline` and the other duration options
/// accept, largest units first: `30m`, `1h30m`, `1s500ms`; 0 as `0s`.
pub fn format_duration_ms(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    let units = [(3_600_000, "h"), (60_000, "m"), (1000, "s"), (1, "ms")];
    let mut rest = ms;
    let mut text = String::new();
    for (size, unit) in units {
        if rest >= size {
            text.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    text
}

/// The first 12 hex digits of a hash: enough to tell definitions apart at a glance.
pub fn short_hash(hash: &str) -> String {
    hash.chars().take(12).collect()
}

/// A task status as a lowercase word, e.g. `pending`, `waiting_approval`.
pub fn task_status_name(status: i32) -> String {
    let name = match TaskStatus::try_from(status) {
        Ok(TaskStatus::Unspecified) => "unspecified",
        Ok(TaskStatus::Pending) => "pending",
        Ok(TaskStatus::Running) => "running",
        Ok(TaskStatus::WaitingApproval) => "waiting_approval",
        Ok(TaskStatus::NeedsAttention) => "needs_attention",
        Ok(TaskStatus::Completed) => "completed",
        Ok(TaskStatus::Failed) => "failed",
        Ok(TaskStatus::Cancelled) => "cancelled",
        Ok(TaskStatus::TimedOut) => "timed_out",
        Ok(TaskStatus::WaitingForInput) => "waiting_for_input",
        Ok(TaskStatus::WaitingForChild) => "waiting_for_child",
        Err(_) => return format!("unknown({status})"),
    };
    name.to_owned()
}

/// A member role as a lowercase word: `voter` or `learner`.
pub fn role_name(role: i32) -> String {
    let name = match MemberRole::try_from(role) {
        Ok(MemberRole::Unspecified) => "unspecified",
        Ok(MemberRole::Voter) => "voter",
        Ok(MemberRole::Learner) => "learner",
        Err(_) => return format!("unknown({role})"),
    };
    name.to_owned()
}

/// The canonical gRPC name of a status code, as in `error: NOT_FOUND: ...`.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Milliseconds since the Unix epoch as an RFC 3339 UTC timestamp, e.g.
/// `2025-03-01T12:00:00.000Z`; 0 (unset) as `-`.
pub fn format_time_ms(time_ms: u64) -> String {
    if time_ms == 0 {
        return "-".to_owned();
    }
    let millis = time_ms % 1000;
    let seconds = time_ms / 1000;
    let (hour, minute, second) = (seconds / 3600 % 24, seconds / 60 % 60, seconds % 60);
    let (year, month, day) = civil_from_days(seconds / 86_400);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z")
}

/// The calendar date of a day count since 1970-01-01 (Howard Hinnant's algorithm,
/// restricted to dates after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_and_trims_line_ends() {
        let mut table = Table::new(vec!["ID", "ADDRESS", "ROLE"]);
        table.push(vec!["1".into(), "127.0.0.1:7400".into(), "voter".into()]);
        table.push(vec!["12".into(), "h:1".into(), "learner".into()]);
        assert_eq!(
            table.render(),
            "ID  ADDRESS         ROLE\n\
             1   127.0.0.1:7400  voter\n\
             12  h:1             learner\n"
        );
    }

    #[test]
    fn fields_align_values() {
        let text = render_fields(&[("node", "1".into()), ("committed", "7".into())]);
        assert_eq!(text, "node       1\ncommitted  7\n");
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(format_time_ms(0), "-");
        assert_eq!(format_time_ms(1), "1970-01-01T00:00:00.001Z");
        assert_eq!(format_time_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(
            format_time_ms(1_740_830_400_123),
            "2025-03-01T12:00:00.123Z"
        );
    }

    #[test]
    fn enums_are_lowercase_words() {
        assert_eq!(task_status_name(TaskStatus::Pending as i32), "pending");
        assert_eq!(
            task_status_name(TaskStatus::WaitingApproval as i32),
            "waiting_approval"
        );
        assert_eq!(task_status_name(99), "unknown(99)");
        assert_eq!(role_name(MemberRole::Voter as i32), "voter");
        assert_eq!(code_name(Code::NotFound), "NOT_FOUND");
    }

    #[test]
    fn durations_print_in_the_form_they_are_parsed() {
        for (ms, text) in [
            (0, "0s"),
            (500, "500ms"),
            (30_000, "30s"),
            (1_800_000, "30m"),
            (5_400_000, "1h30m"),
            (1_500, "1s500ms"),
        ] {
            assert_eq!(format_duration_ms(ms), text);
            if ms > 0 {
                let parsed = crate::args::parse_duration(text).expect("parses");
                assert_eq!(parsed.as_millis(), u128::from(ms), "{text}");
            }
        }
    }

    #[test]
    fn shorten_cuts_long_text_on_one_line() {
        assert_eq!(shorten("a\nb", 10), "a b");
        assert_eq!(shorten("abcdefghij", 5), "abcd…");
    }
}
