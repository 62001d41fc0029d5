//! The node's wall clock in Unix milliseconds, read where a time is proposed or measured
//! (ids, proposal times, the resume gap); `apply()` never reads one.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}
