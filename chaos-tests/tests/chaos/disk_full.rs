//! Disk full: every node keeps its database on its own small tmpfs, and one node's tmpfs
//! is filled up while clients submit tasks. That node must stop on its failed write (the
//! process exits and its log names the storage error) instead of going on, while the other
//! two keep acknowledging. Once the space is freed and the node restarted it catches up:
//! all three converge to the same applied index and audit head, and every acknowledged
//! submission is on every node. Once with a follower's disk, once with the leader's.
//!
//! Mounting a tmpfs needs root; elsewhere the tests print why and pass without running.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::common::warden_exe;
use tokio::sync::Mutex;
use tokio::task::JoinSet;
use warden_chaos_tests::tmpfs::{self, Tmpfs};
use warden_client::proto::{Agent, Provider, VerifyAuditResponse};
use warden_client::{Client, Consistency};
use warden_local_cluster::{LocalCluster, probe};

/// Each node's database disk. Small enough that RocksDB's preallocation of a whole
/// write-ahead log file (about 70 MiB) fails, so the log grows page by page and the first
/// write past a full disk fails.
const DISK_MIB: u64 = 48;
const SETTINGS: &[(&str, &str)] = &[
    ("limits.write_timeout", "3s"),
    ("limits.read_timeout", "3s"),
    // A node down for a while comes back behind a snapshot, so catching up installs one.
    ("raft.snapshot_after_entries", "500"),
    ("raft.keep_entries_after_snapshot", "100"),
];
const WORKSPACE: &str = "acme";
const AGENT: &str = "bot";
const WORKERS: u64 = 3;
/// Acknowledgements each phase waits for, to show progress.
const PROGRESS: u64 = 30;
const WITHIN: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
enum Victim {
    Follower,
    Leader,
}

#[tokio::test]
async fn a_follower_whose_disk_fills_stops_and_catches_up_after_a_restart() {
    disk_full(Victim::Follower).await;
}

#[tokio::test]
async fn a_leader_whose_disk_fills_stops_and_a_new_leader_takes_the_writes() {
    disk_full(Victim::Leader).await;
}

async fn disk_full(victim: Victim) {
    if !tmpfs::is_root().expect("reading the uid") {
        println!("skipped: mounting a tmpfs for the node databases needs root");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = SETTINGS
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    let mut cluster = LocalCluster::new(warden_exe(), dir.path(), settings);
    // The node keeps its RocksDB database in `<data dir>/db`; its log and other files stay
    // on the real disk.
    let disks: BTreeMap<u64, Tmpfs> = (1..=3)
        .map(|id| {
            let disk = Tmpfs::mount(&cluster.node_dir(id).join("db"), DISK_MIB)
                .unwrap_or_else(|error| panic!("{error:#}"));
            (id, disk)
        })
        .collect();
    if let Err(error) = cluster.bootstrap(3).await {
        panic!("cluster did not start: {error:#}\n{}", logs(&cluster));
    }
    let setup = cluster.client().expect("client");
    setup.create_workspace(WORKSPACE).await.expect("workspace");
    add_paused_agent(&setup).await;
    let workload = Workload::start(&cluster);
    workload.progress("acknowledgements before the fault").await;

    let leader = cluster
        .wait_for_leader(Duration::from_secs(30))
        .await
        .expect("leader");
    let target = match victim {
        Victim::Leader => leader,
        Victim::Follower => cluster
            .running()
            .into_iter()
            .find(|id| *id != leader)
            .expect("a follower"),
    };
    let target_applied = status(&cluster, target).await.applied_index;
    let filled = disks[&target].fill().expect("fill the disk");
    let full_at = Instant::now();
    let exited = tokio::time::timeout(WITHIN, cluster.any_exit())
        .await
        .unwrap_or_else(|_| panic!("node {target} kept running on a full disk"));
    let stopped_after = full_at.elapsed();
    assert_eq!(exited, target, "node {exited} stopped, not node {target}");
    // The storage error is logged, and the process ended with an error (main prints
    // `error: ...` and exits with status 2), not by a signal or a clean stop.
    let log = std::fs::read_to_string(cluster.log_path(target)).expect("node log");
    let storage_error = log
        .lines()
        .find(|line| line.contains("ERROR") && line.contains("No space left on device"));
    let exit_error = log.lines().rfind(|line| line.starts_with("error: "));
    let (Some(_), Some(exit_error)) = (storage_error, exit_error) else {
        panic!(
            "node {target} did not stop on its storage error:\n{}",
            warden_local_cluster::tail(&cluster.log_path(target), 20)
        )
    };
    println!(
        "{victim:?} {target}: {} MiB filler, stopped {stopped_after:?} after the disk filled: {exit_error}",
        filled >> 20
    );

    // The two others keep acknowledging (a new leader first, when the leader stopped).
    let new_leader = cluster
        .wait_for_leader(Duration::from_secs(30))
        .await
        .expect("a leader among the other two");
    assert_ne!(new_leader, target);
    let down_at = Instant::now();
    workload
        .progress("acknowledgements with the node down")
        .await;
    println!(
        "node {new_leader} leads; progress {:?} after the stop",
        down_at.elapsed()
    );
    // Until the leader's log no longer holds what the stopped node lacks: it catches up
    // from a snapshot, installed on the disk that was full.
    eventually("the leader to purge past the stopped node", || async {
        let purged = status(&cluster, new_leader).await.purged_index;
        purged
            .is_some_and(|purged| purged > target_applied)
            .then_some(())
    })
    .await;

    disks[&target].free().expect("free the disk");
    cluster.start_node(target).await.expect("restart");
    workload
        .progress("acknowledgements after the restart")
        .await;
    let acknowledged = workload.finish(&cluster).await;

    let converged = check_nodes(&cluster, &acknowledged).await;
    println!(
        "{} acknowledged submissions on all 3 nodes, applied index {converged}; node {target} holds a snapshot at {:?}",
        acknowledged.len(),
        status(&cluster, target).await.snapshot_index
    );
    cluster.stop_all().await.expect("stop");
    drop(disks);
}

async fn status(cluster: &LocalCluster, id: u64) -> warden_client::proto::ClusterStatusResponse {
    let client = cluster.client_of(id).expect("client");
    client
        .cluster_status()
        .await
        .unwrap_or_else(|error| panic!("status of node {id}: {error}"))
}

/// Each node's verification of its audit chain, taken when all three stood at the same
/// applied index, and that index. Audit checkpoints the nodes sign (one whenever the chain
/// grew past the interval; a node back from a full disk signs once it caught up) may still
/// commit after the clients stop, so a round that sees two indexes is taken again.
async fn verified_at_one_index(cluster: &LocalCluster) -> (u64, Vec<VerifyAuditResponse>) {
    for _ in 0..20 {
        let converged = cluster.wait_converged(WITHIN).await.expect("converged");
        let mut audits = Vec::new();
        for id in 1..=3 {
            let audit = cluster
                .client_of(id)
                .expect("client")
                .verify_audit(Consistency::Local)
                .await
                .unwrap_or_else(|error| panic!("verify on node {id}: {error}"));
            audits.push(audit);
        }
        if audits.iter().all(|audit| audit.applied_index == converged) {
            return (converged, audits);
        }
    }
    panic!("the nodes never stood at one applied index at once");
}

/// Every node at one applied index (returned), with one verified audit chain and every
/// acknowledged task, one per key.
async fn check_nodes(cluster: &LocalCluster, acknowledged: &BTreeMap<String, String>) -> u64 {
    let expected: BTreeSet<&String> = acknowledged.values().collect();
    let (converged, audits) = verified_at_one_index(cluster).await;
    let mut heads = BTreeSet::new();
    for (id, audit) in (1..=3).zip(audits) {
        let client = cluster.client_of(id).expect("client");
        assert!(audit.ok, "node {id}: {}", audit.problem);
        heads.insert((audit.record_count, audit.head_hash));
        let tasks = all_tasks(&client, id).await;
        let keys: BTreeSet<&str> = tasks.iter().map(|t| t.idempotency_key.as_str()).collect();
        assert_eq!(
            keys.len(),
            tasks.len(),
            "node {id}: a key with several tasks"
        );
        let ids: BTreeSet<&String> = tasks.iter().map(|task| &task.id).collect();
        let missing: Vec<_> = expected.difference(&ids).collect();
        assert!(
            missing.is_empty(),
            "node {id} lost acknowledged tasks: {missing:?}"
        );
    }
    assert_eq!(heads.len(), 1, "the nodes' audit heads differ: {heads:?}");
    converged
}

/// What the clients saw.
#[derive(Default)]
struct History {
    /// Key -> task id, for acknowledged submissions.
    acknowledged: BTreeMap<String, String>,
    /// Keys whose submission ended in an error: the outcome is unknown.
    unknown: BTreeSet<String>,
}

/// Clients submitting tasks with idempotency keys until finished.
struct Workload {
    history: Arc<Mutex<History>>,
    acknowledged: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    workers: JoinSet<()>,
}

impl Workload {
    fn start(cluster: &LocalCluster) -> Workload {
        let history = Arc::new(Mutex::new(History::default()));
        let acknowledged = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = JoinSet::new();
        for worker in 0..WORKERS {
            let client = cluster.client().expect("client");
            let (history, acknowledged, stop) =
                (history.clone(), acknowledged.clone(), stop.clone());
            workers.spawn(async move {
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let key = format!("w{worker}-{n}");
                    let result = client
                        .submit_task(WORKSPACE, AGENT, input(&key), Some(key.clone()))
                        .await;
                    let task = result.ok().and_then(|submitted| submitted.response.task);
                    let mut history = history.lock().await;
                    match task {
                        Some(task) => {
                            history.acknowledged.insert(key, task.id);
                            acknowledged.fetch_add(1, Ordering::Relaxed);
                        }
                        None => {
                            history.unknown.insert(key);
                            drop(history);
                            // No leader for the moment: back off rather than spin.
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            });
        }
        Workload {
            history,
            acknowledged,
            stop,
            workers,
        }
    }

    /// Waits for `PROGRESS` more acknowledgements.
    async fn progress(&self, what: &str) {
        let target = self.acknowledged.load(Ordering::Relaxed) + PROGRESS;
        eventually(what, || async {
            (self.acknowledged.load(Ordering::Relaxed) >= target).then_some(())
        })
        .await;
    }

    /// Stops the clients and resolves every unknown outcome by submitting its key again:
    /// that finds the task the first attempt created or creates the only one. Returns key
    /// -> task id for every submission.
    async fn finish(mut self, cluster: &LocalCluster) -> BTreeMap<String, String> {
        self.stop.store(true, Ordering::Relaxed);
        while let Some(joined) = self.workers.join_next().await {
            joined.expect("worker");
        }
        let client = cluster.client().expect("client");
        let History {
            mut acknowledged,
            unknown,
        } = std::mem::take(&mut *self.history.lock().await);
        for key in unknown {
            let submitted = client
                .submit_task(WORKSPACE, AGENT, input(&key), Some(key.clone()))
                .await
                .unwrap_or_else(|error| panic!("resolving {key}: {error}"));
            let task = submitted.response.task.expect("a submitted task");
            acknowledged.insert(key, task.id);
        }
        acknowledged
    }
}

fn input(key: &str) -> String {
    format!("input of {key}")
}

/// Gives the workspace a provider nobody calls and the paused agent `bot`: its tasks are
/// accepted and replicated but never run.
async fn add_paused_agent(client: &Client) {
    client
        .put_provider(Provider {
            workspace: WORKSPACE.to_owned(),
            name: "model".to_owned(),
            kind: "openai".to_owned(),
            base_url: "http://127.0.0.1:9/v1".to_owned(),
            model: "none".to_owned(),
            ..Provider::default()
        })
        .await
        .expect("provider");
    client
        .create_agent(Agent {
            workspace: WORKSPACE.to_owned(),
            name: AGENT.to_owned(),
            provider: "model".to_owned(),
            paused: true,
            ..Agent::default()
        })
        .await
        .expect("agent");
}

/// Every task of the workspace as node `id` has applied it.
async fn all_tasks(client: &Client, id: u64) -> Vec<warden_client::proto::Task> {
    probe::all_tasks(client, id, WORKSPACE).await
}

/// Polls `check` until it returns Some, failing after `WITHIN`.
async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    probe::eventually(what, WITHIN, check).await
}

fn logs(cluster: &LocalCluster) -> String {
    (1..=3)
        .map(|id| {
            let tail = warden_local_cluster::tail(&cluster.log_path(id), 30);
            format!("--- node {id}\n{tail}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}
