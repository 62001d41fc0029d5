//! Observing a run: throughput per second, progress, resolving unknown outcomes, and
//! every node's final state and audit heads after healing.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use warden_client::Consistency;

use crate::agents::{self, status_name};
use crate::cluster::ChaosCluster;
use crate::history::{FinalState, HeadsState, History, NodeState, Op, Outcome, TaskState, Watched};
use crate::resume::{Kill, resume_times};
use crate::workload::{self, Destination, Recorder};

use super::{PROGRESS_TIMEOUT, WORKSPACE, destination};

/// Acknowledged submissions in each whole second of `window`, as the window passes; a
/// window shorter than a second gives one figure over all of it.
pub(super) async fn acknowledged_each_second(recorder: &Recorder, window: Duration) -> Vec<f64> {
    const SECOND: Duration = Duration::from_secs(1);
    let started = tokio::time::Instant::now();
    let ends = started + window;
    let mut samples = Vec::new();
    let mut sampled_at = started;
    let mut acked = recorder.acknowledged();
    while sampled_at + SECOND <= ends {
        sampled_at += SECOND;
        tokio::time::sleep_until(sampled_at).await;
        let now = recorder.acknowledged();
        samples.push((now - acked) as f64);
        acked = now;
    }
    tokio::time::sleep_until(ends).await;
    if samples.is_empty() && !window.is_zero() {
        samples.push((recorder.acknowledged() - acked) as f64 / window.as_secs_f64());
    }
    samples
}

/// Time from `injected_ms` to the completion of the first submission acknowledged after
/// it that started after it too, waiting for one if needed.
pub(super) async fn first_ack_after(recorder: &Recorder, injected_ms: u64) -> Option<u64> {
    let deadline = Instant::now() + PROGRESS_TIMEOUT;
    while Instant::now() < deadline {
        let first = recorder
            .operations()
            .await
            .iter()
            .filter(|op| op.start_ms >= injected_ms && matches!(op.outcome, Outcome::Ok { .. }))
            .map(|op| op.end_ms)
            .min();
        if let Some(end_ms) = first {
            return Some(end_ms.saturating_sub(injected_ms));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

pub(super) async fn wait_for_progress(recorder: &Recorder, step: u64) -> anyhow::Result<()> {
    let target = recorder.acknowledged() + step;
    let deadline = Instant::now() + PROGRESS_TIMEOUT;
    while recorder.acknowledged() < target {
        if Instant::now() > deadline {
            bail!("fewer than {step} submissions acknowledged within {PROGRESS_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Retries every submission whose outcome was unknown, with its key and input, to learn
/// whether it was applied; the answer goes into the history as a Resolve.
pub(super) async fn resolve_unknown(
    cluster: &ChaosCluster,
    recorder: &Recorder,
) -> anyhow::Result<()> {
    let client = cluster.client(true)?;
    let agent_destination = Destination {
        workspace: WORKSPACE.to_owned(),
        agent: agents::AGENT.to_owned(),
    };
    let unknown: Vec<String> = recorder
        .operations()
        .await
        .into_iter()
        .filter(|op| matches!(op.outcome, Outcome::Unknown { .. }))
        .filter_map(|op| match op.op {
            Op::Submit {
                idempotency_key, ..
            } => Some(idempotency_key),
            Op::Resolve { .. } => None,
        })
        .collect();
    for key in unknown {
        // The agent workload's keys are `a<n>...`, the plain submitters' `c<client>-<n>`.
        let destination = if key.starts_with('a') {
            agent_destination.clone()
        } else {
            destination()
        };
        let outcome = recorder
            .submit(&client, u32::MAX, true, &destination, &key)
            .await;
        if matches!(outcome, Outcome::Unknown { .. }) {
            bail!("submission {key} is still unknown after every fault healed");
        }
    }
    Ok(())
}

/// Every node's state through local reads, after convergence.
async fn final_state(cluster: &ChaosCluster) -> anyhow::Result<FinalState> {
    let mut nodes = Vec::new();
    for id in cluster.ids() {
        let client = cluster.nodes.client_of(id)?;
        let verdict = client.verify_audit(Consistency::Local).await?;
        let mut tasks = Vec::new();
        let mut token = String::new();
        loop {
            let page = client
                .list_tasks(WORKSPACE, 1000, token.clone(), Consistency::Local)
                .await?;
            tasks.extend(page.tasks.into_iter().map(|task| TaskState {
                status: status_name(task.status),
                id: task.id,
                workspace: task.workspace,
                idempotency_key: task.idempotency_key,
                input_hash: workload::digest(&task.input),
                agent: task.agent,
                journal: Vec::new(),
            }));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        nodes.push(NodeState {
            node_id: id,
            // The verification's own index: the records it counted are exactly those of
            // the entries up to it, even when the node applies more meanwhile.
            applied_index: verdict.applied_index,
            audit_count: verdict.record_count,
            audit_head: verdict.head_hash,
            audit_ok: verdict.ok,
            audit_problem: verdict.problem,
            checkpoint_count: verdict.checkpoint_count,
            checkpoint_covered: verdict.checkpoint_covered,
            tasks,
        });
    }
    Ok(FinalState {
        nodes,
        ..FinalState::default()
    })
}

/// How often the final state is read again when the nodes were read at different points.
const FINAL_REREADS: usize = 10;

/// Every node's final state, read when all of them have applied the same index. A node
/// signing a checkpoint in the background (the final checkpoints can cross its interval)
/// may add a record between two nodes' reads; such a read is taken again once the nodes
/// converge. A difference that persists stays in the state for the checkers to report.
pub(super) async fn settled_final_state(cluster: &ChaosCluster) -> anyhow::Result<FinalState> {
    let mut state = final_state(cluster).await?;
    for _ in 0..FINAL_REREADS {
        let first = state.nodes.first().map(|node| node.applied_index);
        if state
            .nodes
            .iter()
            .all(|node| Some(node.applied_index) == first)
        {
            break;
        }
        cluster
            .nodes
            .wait_converged(std::time::Duration::from_secs(30))
            .await?;
        state = final_state(cluster).await?;
    }
    Ok(state)
}

/// Every node's audit head and latest checkpoint, compared by one node.
pub(super) async fn heads_state(
    cluster: &ChaosCluster,
    signed: usize,
) -> anyhow::Result<HeadsState> {
    let heads = cluster
        .nodes
        .client()?
        .list_audit_heads(Consistency::Linearizable)
        .await
        .context("audit heads")?;
    let problems = heads
        .nodes
        .iter()
        .filter_map(|node| match (node.reachable, node.problem.is_empty()) {
            (true, true) => None,
            (true, false) => Some(format!("node {}: {}", node.node_id, node.problem)),
            (false, _) => Some(format!("node {} unreachable: {}", node.node_id, node.error)),
        })
        .collect();
    Ok(HeadsState {
        agree: heads.agree,
        problems,
        signed,
    })
}

pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Task resume times over the run: each SIGKILL against what the first watcher saw.
pub(super) fn resume_times_of(
    kills: &[Kill],
    fault_starts: &[u64],
    history: &History,
    state: &FinalState,
) -> Vec<u64> {
    let watched: Vec<&Watched> = history
        .watched
        .iter()
        .filter(|event| event.watcher == 0)
        .collect();
    resume_times(kills, fault_starts, &watched, &state.journals())
}
