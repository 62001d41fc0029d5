//! `grpc.health.v1.Health` on the gRPC listener, for orchestrators' gRPC probes and load
//! balancers: the overall status (service `""`) is SERVING exactly when `/readyz` would
//! answer 200 (a member with a leader that confirmed its commit index, applied to within
//! `raft.catch_up_lag` of it), checked again every second. Like `/readyz` it needs no
//! token (`auth::layer` lets its path through) and tells nothing a probe should not know.

use std::time::Duration;

use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::cluster::Cluster;

/// How often readiness is checked again.
const INTERVAL: Duration = Duration::from_secs(1);

/// The path prefix of the health service's methods.
pub const HEALTH_PREFIX: &str = "/grpc.health.v1.Health/";

/// Keeps the overall status in step with readiness, until the node stops.
pub async fn run(
    reporter: HealthReporter,
    cluster: Cluster,
    catch_up_lag: u64,
) -> anyhow::Result<()> {
    let mut ticker = tokio::time::interval(INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = None;
    loop {
        ticker.tick().await;
        let ready = crate::http::readiness(&cluster, catch_up_lag).await.ready;
        if last != Some(ready) {
            let status = match ready {
                true => ServingStatus::Serving,
                false => ServingStatus::NotServing,
            };
            reporter.set_service_status("", status).await;
            last = Some(ready);
        }
    }
}
