//! When to try a completion again: exponential backoff, or the provider's `Retry-After`.
//! Pure, so the schedule is tested without a server.

use std::time::Duration;

/// No wait between attempts is longer, whatever the backoff or `Retry-After` say, so a
/// misbehaving provider cannot park a task for hours.
pub(crate) const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// The wait before retry number `retry` (0 for the first retry): `backoff * 2^retry`, or the
/// provider's `Retry-After` when it sent one, capped at [`MAX_RETRY_DELAY`] either way.
pub(crate) fn delay_before_retry(
    retry: u32,
    backoff: Duration,
    retry_after: Option<Duration>,
) -> Duration {
    let delay = match retry_after {
        Some(retry_after) => retry_after,
        None => backoff
            .checked_mul(2_u32.checked_pow(retry).unwrap_or(u32::MAX))
            .unwrap_or(MAX_RETRY_DELAY),
    };
    delay.min(MAX_RETRY_DELAY)
}

/// `Retry-After` in seconds, as both providers send it. The HTTP-date form is ignored, and
/// the backoff applies instead.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let seconds: f64 = value.trim().parse().ok()?;
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    Some(Duration::try_from_secs_f64(seconds).unwrap_or(MAX_RETRY_DELAY))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let table = [
            (0, None, MS(100)),
            (1, None, MS(200)),
            (2, None, MS(400)),
            (9, None, MS(51_200).min(MAX_RETRY_DELAY)),
            (40, None, MAX_RETRY_DELAY),
            (0, Some(MS(3_000)), MS(3_000)),
            (3, Some(Duration::ZERO), Duration::ZERO),
            (0, Some(Duration::from_secs(3_600)), MAX_RETRY_DELAY),
        ];
        for (retry, retry_after, expected) in table {
            assert_eq!(
                delay_before_retry(retry, MS(100), retry_after),
                expected,
                "retry {retry}, retry-after {retry_after:?}"
            );
        }
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(MS(500)));
        assert_eq!(parse_retry_after("1e30"), Some(MAX_RETRY_DELAY));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("NaN"), None);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
