//! The agent workload over a run's lifetime: started beside the submitters, stopped with
//! them, then drained (the approver decides what is pending and every task comes to
//! rest), and finally read back into the history and the final state.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use tokio::task::JoinSet;
use warden_client::proto::TaskStatus;
use warden_client::{Client, Consistency};

use super::{
    AGENT, AgentSetup, Decisions, WatchLog, approve_until, prepare, submit_agent_tasks, watch_until,
};
use crate::agent_history::{RESTING, read_ledger};
use crate::cluster::ChaosCluster;
use crate::history::{Decision, FinalState, JournalStep, JournalWrite, Watched};
use crate::workload::Recorder;

/// How often an agent task is submitted: each takes about two seconds, so several run
/// at any time and a node's death always interrupts some.
const PACE: Duration = Duration::from_millis(150);
/// Watchers of the workspace.
const WATCHERS: u32 = 2;

struct Loop {
    stop: Arc<AtomicBool>,
    tasks: JoinSet<()>,
}

impl Loop {
    fn new() -> Loop {
        Loop {
            stop: Arc::new(AtomicBool::new(false)),
            tasks: JoinSet::new(),
        }
    }

    async fn stop(&mut self, what: &str) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        while let Some(joined) = self.tasks.join_next().await {
            joined.with_context(|| format!("the {what} failed"))?;
        }
        Ok(())
    }
}

pub struct AgentRun {
    setup: AgentSetup,
    workspace: String,
    submitter: Loop,
    approver: Loop,
    watchers: Loop,
    decisions: Decisions,
    watched: WatchLog,
}

/// A task status as the final state records it: `completed`, `waiting_approval`, ...
pub fn status_name(status: i32) -> String {
    TaskStatus::try_from(status)
        .unwrap_or(TaskStatus::Unspecified)
        .as_str_name()
        .trim_start_matches("TASK_STATUS_")
        .to_ascii_lowercase()
}

impl AgentRun {
    /// Configures the workspace and starts the agent submitter, the approver and the
    /// watchers. `exe` is the `warden` binary; the ledger tool server sits beside it.
    pub async fn start(
        cluster: &ChaosCluster,
        admin: &Client,
        recorder: &Recorder,
        workspace: &str,
        exe: &Path,
        dir: &Path,
    ) -> anyhow::Result<AgentRun> {
        let tools = exe.with_file_name("warden-ledger-tools");
        let setup = prepare(admin, workspace, &tools, dir).await?;
        let mut run = AgentRun {
            setup,
            workspace: workspace.to_owned(),
            submitter: Loop::new(),
            approver: Loop::new(),
            watchers: Loop::new(),
            decisions: Decisions::default(),
            watched: WatchLog::default(),
        };
        for watcher in 0..WATCHERS {
            watch_until(
                &mut run.watchers.tasks,
                watcher,
                cluster.client(true)?,
                recorder,
                workspace,
                run.watched.clone(),
                run.watchers.stop.clone(),
            );
        }
        submit_agent_tasks(
            &mut run.submitter.tasks,
            cluster.client(true)?,
            recorder,
            workspace,
            PACE,
            run.submitter.stop.clone(),
        );
        approve_until(
            &mut run.approver.tasks,
            run.setup.approver.clone(),
            recorder,
            workspace,
            run.decisions.clone(),
            run.approver.stop.clone(),
        );
        Ok(run)
    }

    pub async fn stop_submitting(&mut self) -> anyhow::Result<()> {
        self.submitter.stop("agent task submitter").await
    }

    /// Waits, up to `within`, until every agent task rests and no approval is pending (the
    /// approver keeps deciding meanwhile, and stops after). Returns the tasks still moving
    /// or waiting (the `settled` checker judges them).
    pub async fn settle(&mut self, client: &Client, within: Duration) -> anyhow::Result<usize> {
        let deadline = Instant::now() + within;
        let moving = loop {
            let moving = self.moving(client).await?;
            if moving == 0 || Instant::now() > deadline {
                break moving;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        self.approver.stop("approver").await?;
        Ok(moving)
    }

    async fn moving(&self, client: &Client) -> anyhow::Result<usize> {
        let mut moving = 0;
        let mut token = String::new();
        loop {
            let page = client
                .list_tasks(
                    &self.workspace,
                    1000,
                    token.clone(),
                    Consistency::Linearizable,
                )
                .await?;
            moving += page
                .tasks
                .iter()
                .filter(|task| task.agent == AGENT)
                .filter(|task| {
                    let status = status_name(task.status);
                    status == "waiting_approval"
                        || !RESTING.iter().any(|(resting, _)| *resting == status)
                })
                .count();
            if page.next_page_token.is_empty() {
                return Ok(moving);
            }
            token = page.next_page_token;
        }
    }

    /// Adds to `state` each agent task's journal on every node, the ledger and the audit
    /// records of journal writes.
    pub async fn fill_state(
        &self,
        cluster: &ChaosCluster,
        state: &mut FinalState,
    ) -> anyhow::Result<()> {
        for node in &mut state.nodes {
            let client = cluster.nodes.client_of(node.node_id)?;
            for task in node.tasks.iter_mut().filter(|task| task.agent == AGENT) {
                task.journal = journal(&client, &self.workspace, &task.id).await?;
            }
        }
        state.ledger = read_ledger(&self.setup.ledger)?;
        if let Some(node) = state.nodes.first() {
            let client = cluster.nodes.client_of(node.node_id)?;
            let mut records = std::pin::pin!(client.export_audit(0, Consistency::Local));
            while let Some(record) = records.next().await {
                let record = record.context("exporting the audit chain")?;
                if record.action == "task.step" {
                    state.journal_writes.push(JournalWrite {
                        log_index: record.log_index,
                        resource: record.resource,
                        outcome: record.outcome,
                        detail: record.detail,
                    });
                }
            }
        }
        Ok(())
    }

    /// Waits, up to `within`, until every watcher has received each agent task's whole
    /// journal as `state` holds it, then stops them; returns the decisions and the events.
    pub async fn finish(
        mut self,
        state: &FinalState,
        within: Duration,
    ) -> anyhow::Result<(Vec<Decision>, Vec<Watched>)> {
        // The last seq of each journal (they start at 0).
        let wanted: BTreeMap<&str, u64> = state
            .journals()
            .into_iter()
            .map(|(task, journal)| (task, journal.len() as u64 - 1))
            .collect();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let caught_up = {
                let watched = self.watched.lock().await;
                (0..WATCHERS).all(|watcher| {
                    wanted.iter().all(|(task, last)| {
                        watched.iter().any(|event| {
                            event.watcher == watcher && event.task_id == *task && event.seq == *last
                        })
                    })
                })
            };
            if caught_up {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.watchers.stop("watcher").await?;
        let decisions = self.decisions.lock().await.clone();
        let watched = self.watched.lock().await.clone();
        Ok((decisions, watched))
    }
}

async fn journal(client: &Client, workspace: &str, id: &str) -> anyhow::Result<Vec<JournalStep>> {
    let mut steps = Vec::new();
    loop {
        // Sequence numbers start at 0, with `submitted`.
        let from = steps.len() as u64;
        let page = client
            .get_journal(workspace, id, from, 1000, Consistency::Local)
            .await
            .with_context(|| format!("reading the journal of {id}"))?;
        if page.events.is_empty() {
            return Ok(steps);
        }
        steps.extend(page.events.into_iter().map(|event| JournalStep {
            seq: event.seq,
            epoch: event.epoch,
            log_index: event.log_index,
            kind: event.kind,
            detail_json: event.detail_json,
        }));
    }
}
