//! Settings of the tool sessions: connection, egress, idle shutdown and restart policy.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use warden_egress::Policy;

use crate::confine::StdioSandbox;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionOptions {
    /// Time to start a server (or reach its URL) and complete the MCP handshake.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Time for `tools/list`.
    #[serde(with = "humantime_serde")]
    pub list_timeout: Duration,
    /// A session with no call in flight and none started for this long shuts down, and its
    /// server process ends; the next call starts a new one.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// A failed session is restarted after `restart_backoff_min`, doubling with each further
    /// failure within `restart_window`, up to `restart_backoff_max`.
    #[serde(with = "humantime_serde")]
    pub restart_backoff_min: Duration,
    #[serde(with = "humantime_serde")]
    pub restart_backoff_max: Duration,
    /// After this many failures within `restart_window`, a session is no longer restarted:
    /// calls fail with `Error::RestartLimit` until the window has passed.
    pub max_restarts_in_window: usize,
    #[serde(with = "humantime_serde")]
    pub restart_window: Duration,
    /// How stdio servers are confined.
    pub stdio: StdioSandbox,
    /// Where HTTP servers may be reached: the node's egress policy.
    pub egress: Policy,
}

impl Default for SessionOptions {
    fn default() -> SessionOptions {
        SessionOptions {
            connect_timeout: Duration::from_secs(10),
            list_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            restart_backoff_min: Duration::from_millis(100),
            restart_backoff_max: Duration::from_secs(10),
            max_restarts_in_window: 5,
            restart_window: Duration::from_secs(60),
            stdio: StdioSandbox::default(),
            egress: Policy::default(),
        }
    }
}

impl SessionOptions {
    /// Every problem with these settings, for start-up to report all at once.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, value) in [
            ("connect_timeout", self.connect_timeout),
            ("list_timeout", self.list_timeout),
            ("idle_timeout", self.idle_timeout),
            ("restart_window", self.restart_window),
        ] {
            if value.is_zero() {
                problems.push(format!("mcp.{name} must be positive"));
            }
        }
        if self.restart_backoff_min > self.restart_backoff_max {
            problems.push("mcp.restart_backoff_min must not exceed restart_backoff_max".to_owned());
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_from_human_readable_strings() {
        let options: SessionOptions =
            serde_json::from_str(r#"{"idle_timeout": "2m", "max_restarts_in_window": 3}"#)
                .expect("parse");
        assert_eq!(options.idle_timeout, Duration::from_secs(120));
        assert_eq!(options.max_restarts_in_window, 3);
        assert_eq!(
            options.connect_timeout,
            SessionOptions::default().connect_timeout
        );
        assert!(options.problems().is_empty());
    }
}
