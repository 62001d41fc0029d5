//! When to restart a failing tool session: exponential backoff over a sliding window of
//! failures, and when to stop restarting. Pure: the supervisor passes the time in.

use std::{collections::VecDeque, time::Duration};

use tokio::time::Instant;

use crate::SessionOptions;

/// The failures of one session key within the restart window.
#[derive(Debug, Default)]
pub(crate) struct FailureHistory {
    failures: VecDeque<Instant>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    RestartAfter(Duration),
    /// Too many failures in the window: no restart before this instant.
    GiveUpUntil(Instant),
}

impl FailureHistory {
    pub(crate) fn record(&mut self, now: Instant, options: &SessionOptions) -> Verdict {
        while self
            .failures
            .front()
            .is_some_and(|failed| now.duration_since(*failed) >= options.restart_window)
        {
            self.failures.pop_front();
        }
        self.failures.push_back(now);
        let count = self.failures.len();
        if count > options.max_restarts_in_window {
            let first = self.failures.front().copied().unwrap_or(now);
            return Verdict::GiveUpUntil(first + options.restart_window);
        }
        let doublings = u32::try_from(count - 1).unwrap_or(u32::MAX).min(20);
        let delay = options
            .restart_backoff_min
            .saturating_mul(1 << doublings)
            .min(options.restart_backoff_max);
        Verdict::RestartAfter(delay)
    }

    pub(crate) fn len(&self) -> usize {
        self.failures.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> SessionOptions {
        SessionOptions {
            restart_backoff_min: Duration::from_millis(100),
            restart_backoff_max: Duration::from_millis(500),
            max_restarts_in_window: 4,
            restart_window: Duration::from_secs(60),
            ..SessionOptions::default()
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum_then_gives_up_for_the_window() {
        let start = Instant::now();
        let mut history = FailureHistory::default();
        let verdicts: Vec<Verdict> = (0..5)
            .map(|n| history.record(start + Duration::from_secs(n), &options()))
            .collect();
        assert_eq!(
            verdicts,
            vec![
                Verdict::RestartAfter(Duration::from_millis(100)),
                Verdict::RestartAfter(Duration::from_millis(200)),
                Verdict::RestartAfter(Duration::from_millis(400)),
                Verdict::RestartAfter(Duration::from_millis(500)),
                Verdict::GiveUpUntil(start + Duration::from_secs(60)),
            ]
        );
        assert_eq!(history.len(), 5);
    }

    #[test]
    fn failures_older_than_the_window_are_forgotten() {
        let start = Instant::now();
        let mut history = FailureHistory::default();
        history.record(start, &options());
        history.record(start + Duration::from_secs(1), &options());
        let later = start + Duration::from_millis(60_500);
        assert_eq!(
            history.record(later, &options()),
            Verdict::RestartAfter(Duration::from_millis(200))
        );
        assert_eq!(history.len(), 2);
        assert_eq!(
            history.record(later + Duration::from_secs(60), &options()),
            Verdict::RestartAfter(Duration::from_millis(100))
        );
    }

    #[test]
    fn an_enormous_failure_count_does_not_overflow() {
        let options = SessionOptions {
            max_restarts_in_window: usize::MAX,
            ..options()
        };
        let start = Instant::now();
        let mut history = FailureHistory::default();
        let mut last = Verdict::RestartAfter(Duration::ZERO);
        for n in 0..100 {
            last = history.record(start + Duration::from_millis(n), &options);
        }
        assert_eq!(last, Verdict::RestartAfter(Duration::from_millis(500)));
    }
}
