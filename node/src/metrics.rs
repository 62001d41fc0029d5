//! Prometheus metrics: the recorder (served by `http.rs`, because the exporter's own
//! listener cannot report a port-0 address), the help text of every metric the node
//! records, build information, and gauges that follow openraft's metrics.

use metrics::{describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{BuildError, PrometheusBuilder, PrometheusHandle};
use openraft::ServerState;
use warden_raft::Raft;

/// Latency buckets in seconds, from 100 µs to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Installs the process-wide recorder the `metrics` macros report to, with the help text
/// of every metric (the node's, the runtime's, the storage's, the process's) and
/// `warden_build_info`. The `metrics` crate is built around one recorder per process, so
/// only `main` calls this.
pub fn install_recorder() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets(LATENCY_BUCKETS)?
        .install_recorder()?;
    describe();
    warden_actors::metrics::describe();
    warden_raft::metrics::describe();
    metrics_process::Collector::default().describe();
    gauge!("warden_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Ok(handle)
}

/// Gives the recorder the help text of every metric this crate records.
fn describe() {
    describe_gauge!(
        "warden_build_info",
        "Always 1; the version of the warden binary in its label."
    );
    describe_gauge!("warden_raft_term", "This node's current Raft term.");
    describe_gauge!(
        "warden_cluster_protocol",
        "The protocol the cluster runs, as this node has applied it (docs/upgrades.md)."
    );
    describe_gauge!(
        "warden_raft_leader_id",
        "The node id of the leader this node knows (0: none)."
    );
    describe_gauge!("warden_raft_is_leader", "1 while this node leads, else 0.");
    describe_gauge!(
        "warden_raft_last_log_index",
        "Index of the last entry in this node's log."
    );
    describe_gauge!(
        "warden_raft_applied_index",
        "Index of the last entry this node applied to its state machine."
    );
    describe_gauge!(
        "warden_raft_apply_lag",
        "Entries in this node's log not yet applied."
    );
    describe_gauge!(
        "warden_raft_log_entries",
        "Entries this node's log holds (not yet purged after a snapshot)."
    );
    describe_gauge!(
        "warden_raft_snapshot_index",
        "Index of the last entry this node's latest snapshot covers."
    );
    describe_gauge!(
        "warden_raft_members",
        "Members (voters and learners) of the membership this node knows."
    );
    describe_gauge!(
        "warden_raft_committed_index",
        "Index of the last entry this node knows to be committed."
    );
    describe_counter!(
        "warden_rpc_requests_total",
        "gRPC calls this node answered, by method and status code."
    );
    describe_histogram!(
        "warden_rpc_duration_seconds",
        "gRPC calls this node answered, by method and status code, in seconds."
    );
    describe_counter!(
        "warden_schedule_firings_total",
        "Schedule firings this node recorded as leader, by result (run: a task submitted or refused; skipped: missed while no leader could fire)."
    );
    describe_counter!(
        "warden_trigger_requests_total",
        "Requests to webhook triggers this node took, by result (accepted, unauthorized, invalid, duplicate, refused, unavailable)."
    );
    describe_counter!(
        "warden_webhook_attempts_total",
        "Webhook delivery attempts this node made as leader, by result (delivered, retry, gave_up)."
    );
    describe_gauge!(
        "warden_webhook_deliveries_due",
        "Webhook deliveries whose next attempt was due at the leader's last look (at most 4,096)."
    );
    describe_counter!(
        "warden_controller_ticks_total",
        "Placement rounds the controller ran while this node led."
    );
    describe_counter!(
        "warden_traces_dropped_total",
        "Ended tasks whose trace was not built because the queue was full."
    );
    describe_counter!(
        "warden_trace_spans_sent_total",
        "Spans of task traces sent to the OTLP collector."
    );
    describe_counter!(
        "warden_trace_export_errors_total",
        "Batches of task traces the OTLP collector did not accept."
    );
    describe_counter!(
        "warden_task_failovers_total",
        "Tasks this node's controller moved off an owner that died or went silent."
    );
    describe_gauge!(
        "warden_tasks_active",
        "Tasks of the whole cluster not yet ended, by status, as this node has applied them."
    );
    describe_gauge!(
        "warden_tasks_stalled",
        "Tasks whose tool call has an unknown outcome and waits for a human to resolve it."
    );
    describe_gauge!(
        "warden_watchers",
        "Task and workspace watch streams this node serves."
    );
}

/// Mirrors openraft's metrics into gauges whenever they change, until Raft stops.
pub async fn follow_raft(raft: Raft) {
    let mut receiver = raft.metrics();
    loop {
        {
            let metrics = receiver.borrow_and_update();
            let last_log = metrics.last_log_index.unwrap_or(0);
            let applied = metrics.last_applied.map_or(0, |log_id| log_id.index);
            let purged = metrics.purged.map_or(0, |log_id| log_id.index);
            gauge!("warden_raft_term").set(metrics.current_term as f64);
            gauge!("warden_raft_leader_id").set(metrics.current_leader.unwrap_or(0) as f64);
            gauge!("warden_raft_is_leader").set(if metrics.state == ServerState::Leader {
                1.0
            } else {
                0.0
            });
            gauge!("warden_raft_last_log_index").set(last_log as f64);
            gauge!("warden_raft_applied_index").set(applied as f64);
            gauge!("warden_raft_apply_lag").set(last_log.saturating_sub(applied) as f64);
            gauge!("warden_raft_log_entries").set(last_log.saturating_sub(purged) as f64);
            gauge!("warden_raft_snapshot_index")
                .set(metrics.snapshot.map_or(0, |log_id| log_id.index) as f64);
            gauge!("warden_raft_members")
                .set(metrics.membership_config.membership().nodes().count() as f64);
            gauge!("warden_raft_committed_index")
                .set(crate::cluster::committed_index(&metrics) as f64);
        }
        if receiver.changed().await.is_err() {
            return;
        }
    }
}
