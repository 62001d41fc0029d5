//! One chaos run: start a cluster behind proxies, run the workload, apply the fault
//! schedule, heal, resolve unknown outcomes, collect every node's final state, and judge
//! the history and that state with every checker.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::Signal;
use serde::Serialize;
use warden_client::Consistency;
use warden_local_cluster::Started;

use crate::agents::{self, AgentRun, status_name};
use crate::checkers::{self, Violation};
use crate::cluster::ChaosCluster;
use crate::faults::{Fault, StoragePoint, Target};
use crate::history::{FinalState, HeadsState, History, NodeState, Op, Outcome, TaskState, Watched};
use crate::resume::{Kill, resume_times};
use crate::workload::{self, Destination, Recorder, submit_until};

pub const WORKSPACE: &str = "chaos";
/// The variable a `warden` built with the `failpoints` feature reads its failpoints from.
const FAILPOINTS_ENV: &str = "FAILPOINTS";
/// The paused agent every submission names; see `workload::prepare`.
pub const AGENT: &str = "bot";

fn destination() -> Destination {
    Destination {
        workspace: WORKSPACE.to_owned(),
        agent: AGENT.to_owned(),
    }
}

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub seed: u64,
    pub nodes: u64,
    pub clients: u32,
    pub faults: Vec<Fault>,
    /// The `warden` binary.
    pub exe: PathBuf,
    /// Where node data, the history and the final state go.
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub seed: u64,
    pub faults: Vec<Fault>,
    pub violations: Vec<String>,
    pub acknowledged: usize,
    pub unknown: usize,
    /// Leader fault injected -> next acknowledged submission, per leader fault.
    pub failover_ms: Vec<u64>,
    /// The same, for the SIGKILLs that keep the leader down (kill and restart, node down):
    /// what the failover target is about. A pause or partition of the leader also holds
    /// the calls in flight to it until they time out, and a storage fault's node dies
    /// twice.
    pub kill_failover_ms: Vec<u64>,
    /// Acknowledged submissions per second while a node was down.
    pub degraded_per_second: Vec<f64>,
    /// Last fault healed -> every node applied the same index.
    pub convergence_ms: u64,
    /// Owner SIGKILLed -> the task's next journal step at a later epoch, per task.
    pub resume_ms: Vec<u64>,
    /// Agent tasks, and how they ended (status -> count, from the first node).
    pub agent_tasks: usize,
    pub agent_outcomes: BTreeMap<String, usize>,
    /// Approval decisions the approver sent.
    pub decisions: usize,
    pub history: PathBuf,
    pub final_state: PathBuf,
}

/// How long the agent tasks may take to come to rest once every fault is healed.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the cluster may take to show progress again after a fault is healed.
const PROGRESS_TIMEOUT: Duration = Duration::from_secs(30);
const PROGRESS_STEP: u64 = 5;

pub async fn run(config: RunConfig) -> anyhow::Result<RunReport> {
    std::fs::create_dir_all(&config.dir)
        .with_context(|| format!("creating {}", config.dir.display()))?;
    let mut cluster =
        ChaosCluster::start(&config.exe, &config.dir, config.nodes, config.seed).await?;
    let outcome = drive(&config, &mut cluster).await;
    let stopped = cluster.shutdown().await;
    let report = outcome?;
    stopped?;
    Ok(report)
}

async fn drive(config: &RunConfig, cluster: &mut ChaosCluster) -> anyhow::Result<RunReport> {
    let setup = cluster.client(true)?;
    setup
        .create_workspace(WORKSPACE)
        .await
        .context("creating the workspace")?;
    workload::prepare(&setup, WORKSPACE, AGENT)
        .await
        .context("creating the provider and the paused agent")?;
    let recorder = Recorder::new();
    let mut agents = AgentRun::start(
        cluster,
        &setup,
        &recorder,
        WORKSPACE,
        &config.exe,
        &config.dir,
    )
    .await
    .context("starting the agent workload")?;
    let stop = Arc::new(AtomicBool::new(false));
    let clients = (0..config.clients)
        .map(|index| cluster.client(index % 2 == 0))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut submitters = submit_until(clients, &destination(), &recorder, stop.clone()).await;
    wait_for_progress(&recorder, PROGRESS_STEP)
        .await
        .context("no progress before the first fault")?;

    let mut failover_ms = Vec::new();
    let mut kill_failover_ms = Vec::new();
    let mut degraded_per_second = Vec::new();
    for (number, fault) in config.faults.iter().enumerate() {
        recorder.mark_fault().await;
        let measured = apply(cluster, &recorder, fault)
            .await
            .with_context(|| format!("fault {number}: {fault:?}"))?;
        failover_ms.extend(measured.failover_ms);
        if fault.kills_and_keeps_down() {
            kill_failover_ms.extend(measured.failover_ms);
        }
        degraded_per_second.extend(measured.degraded_per_second);
        wait_for_progress(&recorder, PROGRESS_STEP)
            .await
            .with_context(|| format!("no progress after fault {number} healed: {fault:?}"))?;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    while let Some(joined) = submitters.join_next().await {
        joined.context("a submitter failed")?;
    }
    agents.stop_submitting().await?;

    let healed_at = Instant::now();
    cluster
        .nodes
        .wait_converged(Duration::from_secs(30))
        .await?;
    let convergence_ms = millis(healed_at.elapsed());

    resolve_unknown(cluster, &recorder).await?;
    agents.settle(&setup, SETTLE_TIMEOUT).await?;
    // Every node signs its head once more, so the chain is anchored up to the end.
    let signed = cluster
        .nodes
        .client()?
        .checkpoint_audit()
        .await
        .context("the final on-demand audit checkpoint")?;
    cluster
        .nodes
        .wait_converged(Duration::from_secs(30))
        .await?;
    let mut state = final_state(cluster).await?;
    state.heads = Some(heads_state(cluster, signed.checkpoints.len()).await?);
    agents.fill_state(cluster, &mut state).await?;
    let (decisions, watched) = agents.finish(&state, Duration::from_secs(20)).await?;
    let history = History {
        operations: recorder.operations().await,
        decisions,
        watched,
    };
    let resume_ms = resume_times_of(
        &recorder.kills().await,
        &recorder.fault_starts().await,
        &history,
        &state,
    );
    history
        .write_agent_files(&config.dir)
        .context("writing the agent workload's records")?;
    let history_path = config.dir.join("history.jsonl");
    let state_path = config.dir.join("final-state.json");
    history
        .write_jsonl(&history_path)
        .with_context(|| format!("writing {}", history_path.display()))?;
    state
        .write_json(&state_path)
        .with_context(|| format!("writing {}", state_path.display()))?;

    let violations: Vec<Violation> = checkers::check_all(&history, &state);
    let submissions = || {
        history
            .operations
            .iter()
            .filter(|op| matches!(op.op, Op::Submit { .. }))
    };
    let acknowledged = submissions()
        .filter(|op| matches!(op.outcome, Outcome::Ok { .. }))
        .count();
    let unknown = submissions()
        .filter(|op| matches!(op.outcome, Outcome::Unknown { .. }))
        .count();
    let mut agent_outcomes = BTreeMap::new();
    let agent_tasks = state.nodes.first().map_or(0, |node| {
        let tasks: Vec<&TaskState> = node
            .tasks
            .iter()
            .filter(|task| task.agent == agents::AGENT)
            .collect();
        for task in &tasks {
            *agent_outcomes.entry(task.status.clone()).or_default() += 1;
        }
        tasks.len()
    });
    Ok(RunReport {
        seed: config.seed,
        faults: config.faults.clone(),
        violations: violations
            .iter()
            .map(|v| format!("{}: {}", v.checker, v.message))
            .collect(),
        acknowledged,
        unknown,
        failover_ms,
        kill_failover_ms,
        degraded_per_second,
        convergence_ms,
        resume_ms,
        agent_tasks,
        agent_outcomes,
        decisions: history.decisions.len(),
        history: history_path,
        final_state: state_path,
    })
}

#[derive(Default)]
struct Measured {
    failover_ms: Option<u64>,
    /// Acknowledged submissions per second while a node was down: one figure per kill, or
    /// one per second of a `NodeDown`.
    degraded_per_second: Vec<f64>,
}

async fn apply(
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
        | Fault::RollingRestart
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
        (Fault::RollingRestart, _) => {
            for id in cluster.ids() {
                cluster.nodes.stop(id).await?;
                cluster.nodes.start_node(id).await?;
                wait_for_progress(recorder, PROGRESS_STEP)
                    .await
                    .with_context(|| format!("no progress after restarting node {id}"))?;
            }
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

/// How long a node started with a failpoint may run before the failpoint fires: it is on
/// the path of every replicated write, or of the snapshot the node is sent at once.
const FAILPOINT_TIMEOUT: Duration = Duration::from_secs(20);

/// How long the leader may take to purge its log past a downed node's end.
const PURGE_TIMEOUT: Duration = Duration::from_secs(60);

/// The storage fault: node `id` is killed, started with `point` set, left to run until the
/// failpoint stops it (the exit is checked to be the one asked for), and started again
/// without it.
async fn storage_fault(
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

/// Acknowledged submissions in each whole second of `window`, as the window passes; a
/// window shorter than a second gives one figure over all of it.
async fn acknowledged_each_second(recorder: &Recorder, window: Duration) -> Vec<f64> {
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

async fn resolve_target(cluster: &ChaosCluster, target: Target) -> anyhow::Result<u64> {
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
async fn busiest_owner(cluster: &ChaosCluster) -> anyhow::Result<Option<u64>> {
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

/// Time from `injected_ms` to the completion of the first submission acknowledged after
/// it that started after it too, waiting for one if needed.
async fn first_ack_after(recorder: &Recorder, injected_ms: u64) -> Option<u64> {
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

async fn wait_for_progress(recorder: &Recorder, step: u64) -> anyhow::Result<()> {
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
async fn resolve_unknown(cluster: &ChaosCluster, recorder: &Recorder) -> anyhow::Result<()> {
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
        let status = client.cluster_status().await?;
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
            applied_index: status.applied_index,
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

/// Every node's audit head and latest checkpoint, compared by one node.
async fn heads_state(cluster: &ChaosCluster, signed: usize) -> anyhow::Result<HeadsState> {
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

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Task resume times over the run: each SIGKILL against what the first watcher saw.
fn resume_times_of(
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
