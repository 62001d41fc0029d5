//! Raft timing and log-compaction settings, and their translation to openraft's Config.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Defaults suit debug builds on a 2-core machine: openraft's own (50 ms heartbeat,
/// 150-300 ms election) cause spurious elections there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// How often the leader sends heartbeats.
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// A follower that hears no leader for a random time in [min, max) starts an election.
    #[serde(with = "humantime_serde")]
    pub election_timeout_min: Duration,
    #[serde(with = "humantime_serde")]
    pub election_timeout_max: Duration,
    /// Each snapshot chunk must arrive within this.
    #[serde(with = "humantime_serde")]
    pub install_snapshot_timeout: Duration,
    /// How long to wait for a TCP connection to a peer.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Build a snapshot once this many entries were applied since the last one.
    pub snapshot_after_entries: u64,
    /// Entries kept in the log behind a snapshot, so a slightly lagging follower catches
    /// up from the log rather than by snapshot.
    pub keep_entries_after_snapshot: u64,
    /// At most this many entries in one AppendEntries RPC.
    pub max_payload_entries: u64,
    /// A learner being added counts as caught up once it is at most this many entries
    /// behind the leader (openraft's `replication_lag_threshold`, whose default of 5000
    /// would let `add-node` return before a new node has any data).
    pub catch_up_lag: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            heartbeat_interval: Duration::from_millis(100),
            election_timeout_min: Duration::from_millis(400),
            election_timeout_max: Duration::from_millis(800),
            install_snapshot_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
            snapshot_after_entries: 10_000,
            keep_entries_after_snapshot: 1_000,
            max_payload_entries: 300,
            catch_up_lag: 100,
        }
    }
}

impl Options {
    /// Every problem with these settings, for start-up to report all at once.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.heartbeat_interval.is_zero() {
            problems.push("raft.heartbeat_interval must be positive".to_owned());
        }
        if self.election_timeout_min <= self.heartbeat_interval {
            problems
                .push("raft.election_timeout_min must exceed raft.heartbeat_interval".to_owned());
        }
        if self.election_timeout_max <= self.election_timeout_min {
            problems
                .push("raft.election_timeout_max must exceed raft.election_timeout_min".to_owned());
        }
        if self.snapshot_after_entries == 0 {
            problems.push("raft.snapshot_after_entries must be positive".to_owned());
        }
        if self.max_payload_entries == 0 {
            problems.push("raft.max_payload_entries must be positive".to_owned());
        }
        problems
    }

    pub fn to_openraft(&self, cluster_name: &str) -> Result<openraft::Config, String> {
        let config = openraft::Config {
            cluster_name: cluster_name.to_owned(),
            heartbeat_interval: millis(self.heartbeat_interval),
            election_timeout_min: millis(self.election_timeout_min),
            election_timeout_max: millis(self.election_timeout_max),
            install_snapshot_timeout: millis(self.install_snapshot_timeout),
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(self.snapshot_after_entries),
            max_in_snapshot_log_to_keep: self.keep_entries_after_snapshot,
            max_payload_entries: self.max_payload_entries,
            replication_lag_threshold: self.catch_up_lag,
            ..openraft::Config::default()
        };
        config.validate().map_err(|error| error.to_string())
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
