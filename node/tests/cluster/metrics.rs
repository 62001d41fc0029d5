//! Each node serves Prometheus text on `/metrics`: Raft state, RPC counts and latency
//! histograms per method and code, build information and the process's resources, each
//! with its help text.

use crate::common::{AGENT, add_paused_agent, metric_value, scrape, start};

#[tokio::test]
async fn metrics_endpoint_reports_raft_state_and_rpcs() {
    let cluster = start(3, &[]).await;
    let client = cluster.client().expect("client");
    client.create_workspace("acme").await.expect("create");
    add_paused_agent(&client, "acme").await;
    for n in 0..5 {
        client
            .submit_task("acme", AGENT, &format!("t{n}"), None)
            .await
            .expect("submit");
    }
    assert!(client.create_workspace("acme").await.is_err());
    let leader = cluster
        .wait_for_leader(std::time::Duration::from_secs(10))
        .await
        .expect("leader");
    let text = scrape(&cluster, leader).await;

    assert_eq!(
        metric_value(&text, "warden_raft_is_leader", &[]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric_value(&text, "warden_raft_leader_id", &[]),
        Some(leader as f64)
    );
    assert!(metric_value(&text, "warden_raft_term", &[]).unwrap_or(0.0) >= 1.0);
    assert!(metric_value(&text, "warden_raft_applied_index", &[]).unwrap_or(0.0) >= 7.0);
    assert!(metric_value(&text, "warden_raft_committed_index", &[]).is_some());
    assert!(metric_value(&text, "warden_raft_apply_lag", &[]).is_some());
    assert!(metric_value(&text, "warden_raft_log_entries", &[]).is_some());
    for name in ["warden_raft_snapshot_index", "warden_raft_members"] {
        assert!(metric_value(&text, name, &[]).is_some(), "{name} missing");
    }

    // Submissions may have been served by any node; count them across the cluster.
    let mut submitted = 0.0;
    let mut refused = 0.0;
    for id in 1..=3 {
        let text = scrape(&cluster, id).await;
        submitted += metric_value(
            &text,
            "warden_rpc_requests_total",
            &["TaskService/SubmitTask", "code=\"OK\""],
        )
        .unwrap_or(0.0);
        refused += metric_value(
            &text,
            "warden_rpc_requests_total",
            &["CreateWorkspace", "code=\"ALREADY_EXISTS\""],
        )
        .unwrap_or(0.0);
    }
    assert_eq!(submitted, 5.0);
    assert_eq!(refused, 1.0);
    assert!(
        text.contains("warden_rpc_duration_seconds_bucket"),
        "latency is a histogram"
    );

    // Help text, build information and the process's own resources.
    for help in [
        "# HELP warden_raft_term ",
        "# HELP warden_rpc_requests_total ",
        "# HELP warden_rpc_duration_seconds ",
        "# HELP warden_build_info ",
        "# HELP process_resident_memory_bytes ",
    ] {
        assert!(text.contains(help), "no {help:?} in {text}");
    }
    let version = format!("version=\"{}\"", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        metric_value(&text, "warden_build_info", &[&version]),
        Some(1.0),
        "{text}"
    );
    assert!(metric_value(&text, "process_resident_memory_bytes", &[]).unwrap_or(0.0) > 0.0);
    assert!(metric_value(&text, "process_open_fds", &[]).unwrap_or(0.0) > 0.0);
    assert!(metric_value(&text, "process_cpu_seconds_total", &[]).is_some());

    // The dashboard's process_* queries name metrics the node serves (its warden_* ones
    // are checked against the sources by tidy/tests/tidy.rs).
    let dashboard = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana/warden.json"),
    )
    .expect("the dashboard");
    let named: std::collections::BTreeSet<&str> = dashboard
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("process_"))
        .collect();
    assert!(named.len() >= 3, "the dashboard names {named:?}");
    for name in named {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "the dashboard queries {name}, which the node does not serve"
        );
    }
}
