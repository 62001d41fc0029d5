//! The node's HTTP listener (`metrics_listen`): Prometheus text on `/metrics`, liveness
//! on `/healthz` and readiness on `/readyz`, for load balancers and orchestrators. It
//! serves no API and needs no token, like etcd's `/health`; what it shows (ids, indexes,
//! metrics) is what an operator's monitoring reads anyway.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use tokio::net::TcpListener;

use crate::cluster::Cluster;

/// How long `/readyz` waits for the leader to confirm its read index.
const READ_INDEX_WAIT: Duration = Duration::from_secs(2);

/// What the handlers read.
pub struct HttpState {
    pub metrics: PrometheusHandle,
    /// The process's CPU, memory, file descriptors and threads, read at each scrape.
    pub process: metrics_process::Collector,
    pub cluster: Cluster,
    /// `raft.catch_up_lag`: how far behind the leader's commit index a ready node may be.
    pub catch_up_lag: u64,
}

/// Serves until the task is dropped.
pub async fn serve(listener: TcpListener, state: HttpState) -> anyhow::Result<()> {
    let app = axum::Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(Arc::new(state));
    axum::serve(listener, app).await.context("http listener")
}

async fn metrics(State(state): State<Arc<HttpState>>) -> impl IntoResponse {
    state.process.collect();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// Live while Raft runs: a node whose storage failed stops Raft, and then the process.
#[derive(Debug, Serialize)]
struct Liveness {
    live: bool,
    node_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

async fn healthz(State(state): State<Arc<HttpState>>) -> (StatusCode, Json<Liveness>) {
    let problem = match &state.cluster.raft().metrics().borrow().running_state {
        Ok(()) => None,
        Err(fatal) => Some(format!("raft stopped: {fatal}")),
    };
    let code = match problem {
        None => StatusCode::OK,
        Some(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    let liveness = Liveness {
        live: problem.is_none(),
        node_id: state.cluster.node_id(),
        problem,
    };
    (code, Json(liveness))
}

/// Ready to serve reads and writes: a member of the cluster, with a leader that confirms
/// its commit index, and applied to within `raft.catch_up_lag` entries of it.
#[derive(Debug, Serialize)]
pub(crate) struct Readiness {
    pub(crate) ready: bool,
    node_id: u64,
    member: bool,
    leader: Option<u64>,
    applied_index: u64,
    /// The commit index the leader confirmed with a quorum (`None`: it did not answer).
    leader_read_index: Option<u64>,
    /// Why the node is not ready, one line each.
    problems: Vec<String>,
}

async fn readyz(State(state): State<Arc<HttpState>>) -> (StatusCode, Json<Readiness>) {
    let readiness = readiness(&state.cluster, state.catch_up_lag).await;
    let code = match readiness.ready {
        true => StatusCode::OK,
        false => StatusCode::SERVICE_UNAVAILABLE,
    };
    (code, Json(readiness))
}

/// Whether this node is ready to serve: what `/readyz` and the gRPC health service answer.
pub(crate) async fn readiness(cluster: &Cluster, catch_up_lag: u64) -> Readiness {
    let node_id = cluster.node_id();
    let mut problems = Vec::new();
    let (member, leader, applied_index) = {
        let metrics = cluster.raft().metrics();
        let metrics = metrics.borrow();
        if let Err(fatal) = &metrics.running_state {
            problems.push(format!("raft stopped: {fatal}"));
        }
        let member = metrics
            .membership_config
            .membership()
            .nodes()
            .any(|(id, _)| *id == node_id);
        (
            member,
            metrics.current_leader,
            metrics.last_applied.map_or(0, |log_id| log_id.index),
        )
    };
    if !member {
        problems.push(
            "not a member of a cluster: not initialized (wardenctl cluster init) or not added (wardenctl cluster add-node)"
                .to_owned(),
        );
    }
    let leader_read_index = match leader {
        None => {
            problems.push("no known leader".to_owned());
            None
        }
        Some(_) => match tokio::time::timeout(READ_INDEX_WAIT, cluster.leader_read_index()).await {
            Ok(Ok(Some(index))) => Some(index),
            Ok(Ok(None)) | Err(_) => {
                problems.push(format!(
                    "the leader did not confirm its commit index within {READ_INDEX_WAIT:?}"
                ));
                None
            }
            Ok(Err(error)) => {
                problems.push(format!("reading the leader's commit index: {error}"));
                None
            }
        },
    };
    if let Some(index) = leader_read_index {
        let behind = index.saturating_sub(applied_index);
        if behind > catch_up_lag {
            problems.push(format!(
                "applied index {applied_index} is {behind} entries behind the leader's commit index {index} (raft.catch_up_lag is {catch_up_lag})"
            ));
        }
    }
    Readiness {
        ready: problems.is_empty(),
        node_id,
        member,
        leader,
        applied_index,
        leader_read_index,
        problems,
    }
}
