//! Injecting one fault of the schedule: signals, proxy rules, full disks and storage
//! failpoints, and what it measured (failover time, throughput while degraded).

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use anyhow::{Context, bail};
use nix::sys::signal::Signal;
use warden_client::Consistency;
use warden_local_cluster::Started;

use crate::agents::{self};
use crate::cluster::ChaosCluster;
use crate::faults::{Fault, StoragePoint, Target};
use crate::workload::Recorder;

use super::observe::{acknowledged_each_second, first_ack_after, wait_for_progress};
use super::{
    FAILPOINT_TIMEOUT, FAILPOINTS_ENV, PROGRESS_STEP, PURGE_TIMEOUT, UPGRADE_TIMEOUT, WORKSPACE,
};

#[derive(Default)]
pub(super) struct Measured {
    pub(super) failover_ms: Option<u64>,
    /// Acknowledged submissions per second while a node was down: one figure per kill, or
    /// one per second of a `NodeDown`.
    pub(super) degraded_per_second: Vec<f64>,
}

pub(super) async fn apply(
    cluster: &mut ChaosCluster,
    recorder: &Recorder,
    fault: &Fault,
) -> anyhow::Result<Measured> {
    let target = match fault {
        Fault::KillRestart { target, .. }
        | Fault::Pause { target, .. }
        | Fault::Isolate { target, .. }
        | Fault::OneWayOut { target, .. }
        | Fault::FlappingIsolate { target, .. }
        | Fault::RemoveNode { target }
        | Fault::NodeDown { target, .. }
        | Fault::Storage { target, .. } => Some(resolve_target(cluster, *target).await?),
        Fault::SlowLinks { .. }
        | Fault::RollingUpgrade
        | Fault::AddNode
        | Fault::NoMajority { .. } => None,
    };
    let was_leader = match target {
        Some(id) => cluster.leader(Duration::from_secs(30)).await? == id,
        None => false,
    };
    let injected_ms = recorder.now_ms();
    let acked_before = recorder.acknowledged();
    match (fault, target) {
        (Fault::KillRestart { .. }, Some(id)) => {
            cluster.nodes.kill(id).await?;
            recorder.mark_kill(id).await;
            tokio::time::sleep(fault.hold()).await;
            let down = fault.hold().as_secs_f64();
            let degraded = (recorder.acknowledged() - acked_before) as f64 / down;
            cluster.nodes.start_node(id).await?;
            return Ok(Measured {
                failover_ms: if was_leader {
                    first_ack_after(recorder, injected_ms).await
                } else {
                    None
                },
                degraded_per_second: vec![degraded],
            });
        }
        (Fault::NodeDown { .. }, Some(id)) => {
            cluster.nodes.kill(id).await?;
            recorder.mark_kill(id).await;
            let degraded_per_second = acknowledged_each_second(recorder, fault.hold()).await;
            cluster.nodes.start_node(id).await?;
            return Ok(Measured {
                failover_ms: if was_leader {
                    first_ack_after(recorder, injected_ms).await
                } else {
                    None
                },
                degraded_per_second,
            });
        }
        (
            Fault::Storage {
                point,
                crash,
                after,
                ..
            },
            Some(id),
        ) => {
            storage_fault(cluster, recorder, id, *point, *crash, *after).await?;
        }
        (Fault::NoMajority { .. }, _) => {
            cluster.cut_all()?;
            tokio::time::sleep(fault.hold()).await;
            cluster.heal();
        }
        (Fault::AddNode, _) => {
            cluster.add_node().await?;
        }
        (Fault::RemoveNode { .. }, Some(id)) => {
            cluster.remove_member(id).await?;
            // A removed leader serves until the change commits, so its failover starts
            // there, not when the change was asked for. From then on the node can commit
            // nothing, so its tasks must resume elsewhere, as after a kill.
            let removed_ms = recorder.now_ms();
            recorder.mark_kill(id).await;
            cluster.retire(id).await?;
            return Ok(Measured {
                failover_ms: if was_leader {
                    first_ack_after(recorder, removed_ms).await
                } else {
                    None
                },
                degraded_per_second: Vec::new(),
            });
        }
        (Fault::Pause { .. }, Some(id)) => {
            cluster.pause(id)?;
            tokio::time::sleep(fault.hold()).await;
            cluster.resume(id)?;
        }
        (Fault::Isolate { .. }, Some(id)) => {
            cluster.isolate(id)?;
            tokio::time::sleep(fault.hold()).await;
            cluster.heal();
        }
        (Fault::OneWayOut { .. }, Some(id)) => {
            for other in cluster.ids().into_iter().filter(|other| *other != id) {
                cluster.cut_one_way(id, other)?;
            }
            tokio::time::sleep(fault.hold()).await;
            cluster.heal();
        }
        (
            Fault::SlowLinks {
                delay_ms,
                jitter_ms,
                ..
            },
            _,
        ) => {
            cluster.slow_links(
                Duration::from_millis(*delay_ms),
                Duration::from_millis(*jitter_ms),
            )?;
            tokio::time::sleep(fault.hold()).await;
            cluster.heal();
        }
        (Fault::RollingUpgrade, _) => {
            for id in cluster.ids() {
                cluster.nodes.stop(id).await?;
                cluster.nodes.set_node_env(id, Vec::new());
                cluster.nodes.start_node(id).await?;
                wait_for_progress(recorder, PROGRESS_STEP)
                    .await
                    .with_context(|| format!("no progress after upgrading node {id}"))?;
            }
            cluster.wait_protocol_raised(UPGRADE_TIMEOUT).await?;
        }
        (Fault::FlappingIsolate { flaps, .. }, Some(id)) => {
            for _ in 0..*flaps {
                cluster.isolate(id)?;
                tokio::time::sleep(fault.hold()).await;
                cluster.heal();
                tokio::time::sleep(fault.hold()).await;
            }
        }
        (fault, None) => bail!("fault {fault:?} has no target"),
    }
    let failover_ms = if was_leader && !matches!(fault, Fault::OneWayOut { .. }) {
        first_ack_after(recorder, injected_ms).await
    } else {
        None
    };
    Ok(Measured {
        failover_ms,
        degraded_per_second: Vec::new(),
    })
}

/// The storage fault: node `id` is killed, started with `point` set, left to run until the
/// failpoint stops it (the exit is checked to be the one asked for), and started again
/// without it.
pub(super) async fn storage_fault(
    cluster: &mut ChaosCluster,
    recorder: &Recorder,
    id: u64,
    point: StoragePoint,
    crash: bool,
    after: u32,
) -> anyhow::Result<()> {
    let log_end = cluster.log_end(id).await?;
    cluster.nodes.kill(id).await?;
    recorder.mark_kill(id).await;
    if point.needs_snapshot() {
        cluster.wait_purged_past(log_end, PURGE_TIMEOUT).await?;
    }
    let env = [(
        FAILPOINTS_ENV.to_owned(),
        point.failpoints_env(crash, after),
    )];
    let status = match cluster.nodes.launch(id, &env).await? {
        Started::Exited(status) => status,
        Started::Ready(_) => cluster
            .nodes
            .wait_exit(id, FAILPOINT_TIMEOUT)
            .await?
            .with_context(|| {
                format!(
                    "node {id} still runs {FAILPOINT_TIMEOUT:?} after it started with failpoint {}",
                    point.name()
                )
            })?,
    };
    // The node died again: what it ran since its restart fails over from here.
    recorder.mark_kill(id).await;
    let log = warden_local_cluster::tail(&cluster.nodes.log_path(id), 20);
    let expected = if crash {
        status.signal() == Some(Signal::SIGABRT as i32)
    } else {
        status.code().is_some_and(|code| code != 0) && log.contains(point.name())
    };
    if !expected {
        bail!(
            "node {id} stopped with {status} at failpoint {} (crash: {crash}), not as the failpoint does:\n{log}",
            point.name()
        );
    }
    cluster.nodes.start_node(id).await?;
    Ok(())
}

pub(super) async fn resolve_target(cluster: &ChaosCluster, target: Target) -> anyhow::Result<u64> {
    let leader = cluster.leader(Duration::from_secs(30)).await?;
    Ok(match target {
        Target::Leader => leader,
        Target::Node(id) => id,
        Target::Follower => cluster
            .ids()
            .into_iter()
            .find(|id| *id != leader)
            .context("no follower")?,
        Target::TaskOwner => busiest_owner(cluster).await?.unwrap_or(leader),
    })
}

/// The node running the most agent tasks now, if any runs.
pub(super) async fn busiest_owner(cluster: &ChaosCluster) -> anyhow::Result<Option<u64>> {
    let client = cluster.client(true)?;
    let page = client
        .list_tasks(WORKSPACE, 1000, String::new(), Consistency::Linearizable)
        .await?;
    // A node removed from the membership may still be named as the owner of the tasks
    // it ran until they are placed again: only members are targets.
    let members = cluster.ids();
    let mut running: BTreeMap<u64, usize> = BTreeMap::new();
    for task in page
        .tasks
        .iter()
        .filter(|task| task.agent == agents::AGENT && task.owner != 0)
    {
        if members.contains(&task.owner) {
            *running.entry(task.owner).or_default() += 1;
        }
    }
    Ok(running
        .into_iter()
        .max_by_key(|(_, tasks)| *tasks)
        .map(|(node, _)| node))
}
