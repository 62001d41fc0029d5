//! `warden demo`: Warden's main job end to end on a local 3-node cluster. Tasks are
//! submitted, the leader is SIGKILLed mid-stream, the cluster elects a new one and keeps
//! acknowledging, the killed node comes back and catches up, and every node proves it
//! holds the same verified audit chain.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use warden_client::Consistency;

use warden_local_cluster::LocalCluster;

const WORKSPACE: &str = "demo";

pub async fn run(data_dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let temporary;
    let base = match data_dir {
        Some(dir) => dir,
        None => {
            temporary = std::env::temp_dir().join(format!("warden-demo-{}", std::process::id()));
            temporary.clone()
        }
    };
    let exe = std::env::current_exe().context("locating the warden binary")?;
    let mut cluster = LocalCluster::new(exe, &base, Vec::new());
    let result = narrate(&mut cluster).await;
    cluster.stop_all().await?;
    println!("\nnode data and logs are in {}", base.display());
    result
}

async fn narrate(cluster: &mut LocalCluster) -> anyhow::Result<ExitCode> {
    step("starting a 3-node cluster (3 processes on loopback)");
    cluster.bootstrap(3).await?;
    let leader = cluster.wait_for_leader(Duration::from_secs(30)).await?;
    for id in 1..=3 {
        println!("  node {id} at {}", cluster.endpoint(id)?);
    }
    println!("  leader: node {leader}");

    let client = cluster.client()?;
    step("creating workspace \"demo\" and submitting tasks");
    if let Err(error) = client.create_workspace(WORKSPACE).await {
        // A rerun over the same data directory finds the workspace already there.
        if error.code() != Some(tonic::Code::AlreadyExists) {
            return Err(error.into());
        }
    }
    let mut acknowledged = Vec::new();
    for n in 1..=5 {
        let submitted = client
            .submit_task(
                WORKSPACE,
                &format!("summarize incident #{n}"),
                Some(format!("demo-{n}")),
            )
            .await?;
        let task = submitted.response.task.context("no task in the response")?;
        println!("  task {} (log index {})", task.id, task.log_index);
        acknowledged.push(task.id);
    }
    let retry = client
        .submit_task(
            WORKSPACE,
            "summarize incident #1",
            Some("demo-1".to_owned()),
        )
        .await?;
    println!(
        "  retry with key demo-1 -> same task {} (deduplicated: {})",
        task_id(&retry.response)?,
        retry.response.deduplicated
    );
    match client
        .submit_task(WORKSPACE, "something else", Some("demo-1".to_owned()))
        .await
    {
        Ok(_) => bail!("reusing an idempotency key with another input was accepted"),
        Err(error) => println!("  key demo-1 with another input -> refused: {error}"),
    }

    step(&format!(
        "SIGKILL the leader (node {leader}) and keep submitting"
    ));
    cluster.kill(leader).await?;
    let killed_at = Instant::now();
    let submitted = client
        .submit_task(
            WORKSPACE,
            "after the failover",
            Some("demo-after-kill".to_owned()),
        )
        .await?;
    let gap = killed_at.elapsed();
    acknowledged.push(task_id(&submitted.response)?.to_owned());
    let new_leader = cluster.wait_for_leader(Duration::from_secs(30)).await?;
    println!(
        "  node {new_leader} leads now; the next submission was acknowledged {gap:.2?} after the kill"
    );

    step(&format!("restarting node {leader} from its data directory"));
    cluster.start_node(leader).await?;
    let caught_up = cluster.wait_converged(Duration::from_secs(30)).await?;
    println!("  all nodes applied up to log index {caught_up}");

    step("every node holds every acknowledged task (local reads)");
    for id in 1..=3 {
        let node = cluster.client_of(id)?;
        let mut found = 0;
        for task in &acknowledged {
            node.get_task(WORKSPACE, task, Consistency::Local).await?;
            found += 1;
        }
        println!("  node {id}: {found}/{} tasks", acknowledged.len());
    }

    step("verifying the audit chain on every node");
    let mut heads = Vec::new();
    for id in 1..=3 {
        let verdict = cluster
            .client_of(id)?
            .verify_audit(Consistency::Linearizable)
            .await?;
        println!(
            "  node {id}: {} - {} records, head {}",
            if verdict.ok { "ok" } else { "FAILED" },
            verdict.record_count,
            verdict.head_hash
        );
        heads.push((verdict.ok, verdict.head_hash));
    }
    let all_same = heads.iter().all(|head| *head == heads[0]);
    step("the last audit records");
    for record in client
        .tail_audit(8, Consistency::Linearizable)
        .await?
        .records
    {
        println!(
            "  #{:<4} {:<26} {:<9} {:<44} {}",
            record.index,
            record.action,
            record.outcome,
            record.resource,
            &record.hash[..16]
        );
    }
    if heads.iter().all(|(ok, _)| *ok) && all_same {
        println!("\ndemo complete: no acknowledged task lost, one audit chain on every node");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("\ndemo FAILED: the audit chains differ or do not verify");
        Ok(ExitCode::from(1))
    }
}

fn step(text: &str) {
    println!("\n== {text}");
}

fn task_id(task: &warden_proto::v1::SubmitTaskResponse) -> anyhow::Result<&str> {
    Ok(&task.task.as_ref().context("no task in the response")?.id)
}
