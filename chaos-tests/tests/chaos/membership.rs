//! Membership changes and a node down for seconds, under load, as fixed CI scenarios: a
//! fourth node added and the original leader removed while clients submit, and one node
//! down for five seconds at a time to measure the throughput left (degraded throughput).

use std::collections::BTreeSet;

use crate::common::scenario;
use warden_chaos_tests::faults::{Fault, Target};
use warden_chaos_tests::summary::percentile;

#[tokio::test]
async fn a_node_added_then_the_leader_removed_under_load() {
    let (report, state) = scenario(
        201,
        vec![
            Fault::AddNode,
            Fault::RemoveNode {
                target: Target::Leader,
            },
        ],
    )
    .await;
    let members: BTreeSet<u64> = state.nodes.iter().map(|node| node.node_id).collect();
    println!(
        "final members {members:?}; failover after removing the leader {:?} ms; converged in {} ms",
        report.failover_ms, report.convergence_ms
    );
    // The checkers judged the final members only: the new node 4 and the two original
    // nodes that did not lead. Every one of them converged (the convergence checker).
    assert_eq!(members.len(), 3, "final members {members:?}");
    assert!(members.contains(&4), "node 4 is a member: {members:?}");
    assert!(members.iter().all(|id| (1..=4).contains(id)), "{members:?}");
    assert_eq!(
        report.failover_ms.len(),
        1,
        "removing the leader is a leader fault: {:?}",
        report.failover_ms
    );
}

#[tokio::test]
async fn throughput_with_one_node_down_for_five_seconds() {
    let (report, _) = scenario(
        202,
        vec![
            Fault::NodeDown {
                target: Target::Follower,
                down_ms: 5_000,
            },
            Fault::NodeDown {
                target: Target::Leader,
                down_ms: 5_000,
            },
        ],
    )
    .await;
    let degraded = &report.degraded_per_second;
    let p50 = percentile(degraded, 0.5).unwrap_or(0.0);
    let p99 = percentile(degraded, 0.99).unwrap_or(0.0);
    println!(
        "acknowledged/s with one node down: p50 {p50} p99 {p99}, each second {degraded:?}; \
         leader failover {:?} ms; converged in {} ms",
        report.failover_ms, report.convergence_ms
    );
    assert_eq!(
        degraded.len(),
        10,
        "one figure per second down: {degraded:?}"
    );
    // Two of three voters are a quorum: the cluster keeps acknowledging.
    assert!(p50 > 0.0, "no progress with one node down: {degraded:?}");
    assert_eq!(report.failover_ms.len(), 1, "{:?}", report.failover_ms);
}
