//! Which firings a schedule is due for: pure, given the schedule's cron expression, time
//! zone, last recorded due time and catch-up rule, and the time now.

use std::str::FromStr;

use chrono::{TimeZone, Utc};
use croner::Cron;
use warden_core::CatchUp;

/// Due times older than this when the scheduler gets to them were missed (the cluster was
/// down or without a leader): the schedule's catch-up rule decides about them. Younger
/// ones (a failover, a slow tick) fire one by one.
pub const MISFIRE_GRACE_MS: u64 = 60_000;
/// Due times counted per look at most; a schedule further behind is caught up over
/// several ticks.
const MAX_COUNTED: usize = 10_000;
/// Firings on time proposed per schedule and tick at most.
const MAX_ON_TIME: usize = 60;

/// One firing to propose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Firing {
    pub due_ms: u64,
    pub run: bool,
    pub missed: u64,
}

/// A schedule's cron expression in its time zone.
#[derive(Debug, Clone)]
pub struct Calendar {
    cron: Cron,
    zone: chrono_tz::Tz,
}

impl Calendar {
    /// Five fields (minute hour day-of-month month day-of-week), or six with seconds
    /// first; `zone` an IANA name. `Err` says what is wrong, naming the field.
    pub fn parse(cron: &str, zone: &str) -> Result<Calendar, String> {
        let parsed = Cron::from_str(cron).map_err(|error| format!("cron: {error}"))?;
        let zone = chrono_tz::Tz::from_str(zone)
            .map_err(|_| format!("timezone: {zone:?} is not an IANA time zone name"))?;
        Ok(Calendar { cron: parsed, zone })
    }

    /// The first due times after `after_ms`, at most `limit`.
    pub fn next_after(&self, after_ms: u64, limit: usize) -> Vec<u64> {
        let Some(start) = Utc
            .timestamp_millis_opt(i64::try_from(after_ms).unwrap_or(i64::MAX))
            .single()
        else {
            return Vec::new();
        };
        // One search per due time: croner's own iterator skips every other second of a
        // per-second expression.
        let mut due = Vec::new();
        let mut current = start.with_timezone(&self.zone);
        while due.len() < limit {
            let Ok(next) = self.cron.find_next_occurrence(&current, false) else {
                break;
            };
            let Ok(ms) = u64::try_from(next.timestamp_millis()) else {
                break;
            };
            due.push(ms);
            current = next;
        }
        due
    }

    /// The firings due at `now_ms` for a schedule whose last recorded due time is
    /// `last_due_ms`, in due-time order.
    pub fn due(&self, last_due_ms: u64, now_ms: u64, catch_up: CatchUp) -> Vec<Firing> {
        let due: Vec<u64> = self
            .next_after(last_due_ms, MAX_COUNTED)
            .into_iter()
            .take_while(|due| *due <= now_ms)
            .collect();
        let (missed, on_time): (Vec<u64>, Vec<u64>) = due
            .into_iter()
            .partition(|due| now_ms - due > MISFIRE_GRACE_MS);
        let mut firings = Vec::new();
        if let Some(latest) = missed.last() {
            firings.push(Firing {
                due_ms: *latest,
                run: catch_up == CatchUp::RunOnce,
                missed: u64::try_from(missed.len() - 1).unwrap_or(u64::MAX),
            });
        }
        firings.extend(on_time.into_iter().take(MAX_ON_TIME).map(|due_ms| Firing {
            due_ms,
            run: true,
            missed: 0,
        }));
        firings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-07 (a Monday) at `h:m:s` UTC, in milliseconds.
    fn at(h: u64, m: u64, s: u64) -> u64 {
        1_796_601_600_000 + ((h * 60 + m) * 60 + s) * 1000
    }

    #[test]
    fn due_times_follow_the_cron_in_its_time_zone() {
        // 09:00 in Paris is 08:00 UTC in December.
        let calendar = Calendar::parse("0 9 * * MON", "Europe/Paris").expect("valid");
        assert_eq!(calendar.next_after(at(0, 0, 0), 1), vec![at(8, 0, 0)]);
        let every_second = Calendar::parse("* * * * * *", "UTC").expect("valid");
        assert_eq!(
            every_second.next_after(at(1, 0, 0), 3),
            vec![at(1, 0, 1), at(1, 0, 2), at(1, 0, 3)]
        );
    }

    #[test]
    fn on_time_firings_run_one_by_one_and_missed_ones_follow_the_catch_up_rule() {
        let calendar = Calendar::parse("*/10 * * * * *", "UTC").expect("valid");
        // Three due times within the grace (a failover): each runs.
        let firings = calendar.due(at(1, 0, 0), at(1, 0, 35), CatchUp::Skip);
        let dues: Vec<u64> = firings.iter().map(|firing| firing.due_ms).collect();
        assert_eq!(dues, vec![at(1, 0, 10), at(1, 0, 20), at(1, 0, 30)]);
        assert!(
            firings
                .iter()
                .all(|firing| firing.run && firing.missed == 0)
        );
        // Down for ten minutes: 53 due times are past the grace (the latest is fired or
        // skipped, 52 counted as skipped with it), 7 within it (09:00 to 10:00).
        for (rule, runs) in [(CatchUp::Skip, false), (CatchUp::RunOnce, true)] {
            let firings = calendar.due(at(1, 0, 0), at(1, 10, 0), rule);
            assert_eq!(
                firings[0],
                Firing {
                    due_ms: at(1, 8, 50),
                    run: runs,
                    missed: 52
                }
            );
            assert_eq!(firings.len(), 1 + 7);
            assert_eq!(firings[1].due_ms, at(1, 9, 0));
        }
        assert!(
            calendar
                .due(at(1, 0, 30), at(1, 0, 35), CatchUp::Skip)
                .is_empty()
        );
    }

    #[test]
    fn a_bad_expression_or_zone_is_named() {
        let error = Calendar::parse("61 * * * *", "UTC").expect_err("invalid minute");
        assert!(error.starts_with("cron: "), "{error}");
        let error = Calendar::parse("0 9 * * *", "Mars/Olympus").expect_err("invalid zone");
        assert!(error.contains("Mars/Olympus"), "{error}");
    }
}
