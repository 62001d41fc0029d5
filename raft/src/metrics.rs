//! The help text of the metrics the storage layer records (snapshots); the node installs
//! the recorder and renders them.

use metrics::{describe_counter, describe_histogram};

/// Gives the recorder the help text of every metric this crate records.
pub fn describe() {
    describe_counter!(
        "warden_raft_snapshots_built_total",
        "Raft snapshots this node built of its state machine."
    );
    describe_histogram!(
        "warden_raft_snapshot_build_seconds",
        "Building one Raft snapshot, in seconds."
    );
    describe_counter!(
        "warden_raft_snapshots_installed_total",
        "Raft snapshots this node installed from its leader."
    );
}
