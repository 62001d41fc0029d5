//! One chaos run: start a cluster behind proxies, run the workload, apply the fault
//! schedule, heal, resolve unknown outcomes, collect every node's final state, and judge
//! the history and that state with every checker.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use crate::agents::{self, AgentRun};
use crate::checkers::{self, Violation};
use crate::cluster::ChaosCluster;
use crate::faults::Fault;
use crate::history::{History, Op, Outcome, TaskState};
use crate::workload::{self, Destination, Recorder, submit_until};

mod inject;
mod observe;

use inject::apply;
use observe::{
    heads_state, millis, resolve_unknown, resume_times_of, settled_final_state, wait_for_progress,
};

pub const WORKSPACE: &str = "chaos";
/// The variable a `warden` built with the `failpoints` feature reads its failpoints from.
const FAILPOINTS_ENV: &str = "FAILPOINTS";
/// How long after a rolling upgrade every node may take to apply the new protocol.
const UPGRADE_TIMEOUT: Duration = Duration::from_secs(30);
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
    // A rolling upgrade needs a cluster that starts on the older build.
    let older = config
        .faults
        .iter()
        .any(|fault| matches!(fault, Fault::RollingUpgrade));
    let mut cluster =
        ChaosCluster::start(&config.exe, &config.dir, config.nodes, config.seed, older).await?;
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
    let mut state = settled_final_state(cluster).await?;
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

/// How long a node started with a failpoint may run before the failpoint fires: it is on
/// the path of every replicated write, or of the snapshot the node is sent at once.
const FAILPOINT_TIMEOUT: Duration = Duration::from_secs(20);

/// How long the leader may take to purge its log past a downed node's end.
const PURGE_TIMEOUT: Duration = Duration::from_secs(60);
