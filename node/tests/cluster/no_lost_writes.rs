//! No acknowledged submission is lost: clients submit continuously while nodes are
//! killed and restarted; afterwards every acknowledged task is present exactly once on
//! every node, and each idempotency key names at most one task.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::common::{AGENT, add_paused_agent, all_tasks, eventually, start, wait_converged};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

const WORKERS: u64 = 3;

#[derive(Default)]
struct History {
    /// Idempotency key -> task id, for acknowledged submissions.
    acknowledged: BTreeMap<String, String>,
    /// Keys whose submission ended in an error: the outcome is unknown.
    unknown: BTreeSet<String>,
}

#[tokio::test]
async fn acknowledged_submissions_survive_kills_and_restarts() {
    let mut cluster = start(3, &[]).await;
    let setup = cluster.client().expect("client");
    setup
        .create_workspace("acme")
        .await
        .expect("create workspace");
    add_paused_agent(&setup, "acme").await;

    let history = Arc::new(Mutex::new(History::default()));
    let acked_count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = JoinSet::new();
    for worker in 0..WORKERS {
        let client = cluster.client().expect("client");
        let (history, acked_count, stop) = (history.clone(), acked_count.clone(), stop.clone());
        workers.spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("w{worker}-{n}");
                n += 1;
                let input = format!("input of {key}");
                let result = client
                    .submit_task("acme", AGENT, &input, Some(key.clone()))
                    .await;
                let mut history = history.lock().await;
                match result {
                    Ok(submitted) => {
                        let id = submitted.response.task.expect("task").id;
                        history.acknowledged.insert(key, id);
                        acked_count.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        history.unknown.insert(key);
                    }
                }
            }
        });
    }

    // Kill the leader, then a follower, twice over; after each restart wait for the
    // clients to make progress again.
    for round in 0..4 {
        let leader = cluster
            .wait_for_leader(Duration::from_secs(30))
            .await
            .expect("leader");
        let victim = if round % 2 == 0 {
            leader
        } else {
            cluster
                .running()
                .into_iter()
                .find(|id| *id != leader)
                .expect("a follower")
        };
        let before = acked_count.load(Ordering::Relaxed);
        cluster.kill(victim).await.expect("kill");
        eventually(
            "progress with a node down",
            Duration::from_secs(30),
            || async { (acked_count.load(Ordering::Relaxed) > before + 20).then_some(()) },
        )
        .await;
        cluster.start_node(victim).await.expect("restart");
        let after_restart = acked_count.load(Ordering::Relaxed);
        eventually(
            "progress after the restart",
            Duration::from_secs(30),
            || async { (acked_count.load(Ordering::Relaxed) > after_restart + 20).then_some(()) },
        )
        .await;
        println!("round {round}: killed and restarted node {victim}");
    }
    stop.store(true, Ordering::Relaxed);
    while let Some(joined) = workers.join_next().await {
        joined.expect("worker");
    }

    // Resolve unknown outcomes by retrying with the same key: the retry either finds the
    // task the first attempt created or creates the only one.
    let client = cluster.client().expect("client");
    let mut history = history.lock().await;
    let unknown: Vec<String> = history.unknown.iter().cloned().collect();
    for key in unknown {
        let submitted = client
            .submit_task("acme", AGENT, &format!("input of {key}"), Some(key.clone()))
            .await
            .expect("resolve");
        history
            .acknowledged
            .insert(key, submitted.response.task.expect("task").id);
    }
    println!(
        "{} acknowledged, {} resolved from unknown outcomes",
        history.acknowledged.len(),
        history.unknown.len()
    );

    wait_converged(&cluster, Duration::from_secs(30)).await;
    let expected: BTreeSet<&String> = history.acknowledged.values().collect();
    for id in 1..=3 {
        let tasks = all_tasks(&cluster, id, "acme").await;
        let mut per_key: BTreeMap<&str, usize> = BTreeMap::new();
        for task in &tasks {
            *per_key.entry(task.idempotency_key.as_str()).or_default() += 1;
        }
        let duplicated: Vec<_> = per_key.iter().filter(|(_, count)| **count > 1).collect();
        assert!(
            duplicated.is_empty(),
            "node {id}: keys with several tasks: {duplicated:?}"
        );
        let ids: BTreeSet<&String> = tasks.iter().map(|task| &task.id).collect();
        assert_eq!(ids.len(), tasks.len(), "node {id} lists a task twice");
        let missing: Vec<_> = expected.difference(&ids).collect();
        assert!(
            missing.is_empty(),
            "node {id} lost acknowledged tasks: {missing:?}"
        );
        let extra: Vec<_> = ids.difference(&expected).collect();
        assert!(
            extra.is_empty(),
            "node {id} holds tasks nobody submitted: {extra:?}"
        );
    }
}
