//! Prometheus metrics: the recorder, a minimal HTTP `/metrics` endpoint rendered from
//! the recorder's handle (the exporter's own listener cannot report a port-0 address),
//! and gauges that follow openraft's metrics.

use std::time::Duration;

use metrics::gauge;
use metrics_exporter_prometheus::{BuildError, PrometheusBuilder, PrometheusHandle};
use openraft::ServerState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use warden_raft::Raft;

/// Latency buckets in seconds, from 100 µs to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Installs the process-wide recorder the `metrics` macros report to. The `metrics`
/// crate is built around one recorder per process, so only `main` calls this.
pub fn install_recorder() -> Result<PrometheusHandle, BuildError> {
    PrometheusBuilder::new()
        .set_buckets(LATENCY_BUCKETS)?
        .install_recorder()
}

/// Serves `GET /metrics` until the task is aborted. Each connection answers one
/// request and closes.
pub async fn serve(listener: TcpListener, handle: PrometheusHandle) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let handle = handle.clone();
                    connections.spawn(answer(stream, handle));
                }
                Err(error) => tracing::warn!(%error, "metrics listener accept failed"),
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn answer(mut stream: TcpStream, handle: PrometheusHandle) {
    let mut head = Vec::with_capacity(512);
    let mut buffer = [0u8; 512];
    // Read the request head, bounded in size and time.
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        while !head.windows(4).any(|window| window == b"\r\n\r\n") && head.len() < 8192 {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    if read.is_err() {
        return;
    }
    let request_line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let response = if request_line.starts_with(b"GET /metrics ") || request_line == b"GET /metrics"
    {
        let body = handle.render();
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    } else {
        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned()
    };
    if let Err(error) = stream.write_all(response.as_bytes()).await {
        tracing::debug!(%error, "metrics response not delivered");
    }
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
