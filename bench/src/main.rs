//! `warden-etcd-bench`: concurrent puts to an etcd cluster for a fixed time, reporting
//! throughput and latency percentiles as JSON in the shape `wardenctl bench submit
//! --output json` prints, so `scripts/bench` can set the two side by side. Each put is a
//! new key with a 256-byte value: one replicated, fsynced write, like a task submission.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use serde_json::json;

#[derive(Debug, Parser)]
struct Args {
    /// The etcd members' client URLs, comma-separated
    #[arg(long, value_delimiter = ',', required = true)]
    endpoints: Vec<String>,
    /// Puts in flight at once
    #[arg(long, default_value_t = 1)]
    concurrency: u32,
    /// How long to put
    #[arg(long, default_value = "6s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Bytes of each value
    #[arg(long, default_value_t = 256)]
    value_bytes: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = etcd_client::Client::connect(&args.endpoints, None)
        .await
        .with_context(|| format!("connect to etcd at {}", args.endpoints.join(",")))?;
    let run = format!("{:016x}", std::process::id() as u64 ^ now_nanos());
    let value = vec![b'x'; args.value_bytes];
    let started = Instant::now();
    let deadline = started + args.duration;
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..args.concurrency {
        let mut client = client.kv_client();
        let value = value.clone();
        let prefix = format!("bench/{run}/{worker}/");
        workers.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut n = 0u64;
            while Instant::now() < deadline {
                let key = format!("{prefix}{n}");
                n += 1;
                let sent = Instant::now();
                match client.put(key, value.clone(), None).await {
                    Ok(_) => latencies.push(sent.elapsed()),
                    Err(_) => errors += 1,
                }
            }
            (latencies, errors)
        });
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    while let Some(joined) = workers.join_next().await {
        let (found, failed) = joined.context("a bench worker panicked")?;
        latencies.extend(found);
        errors += failed;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let percentile = |fraction: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let rank = ((fraction * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
        latencies[rank - 1].as_secs_f64() * 1000.0
    };
    let report = json!({
        "duration_s": elapsed.as_secs_f64(),
        "concurrency": args.concurrency,
        "acknowledged": latencies.len(),
        "error_count": errors,
        "acked_per_s": latencies.len() as f64 / elapsed.as_secs_f64(),
        "latency_ms": {
            "p50": percentile(0.50),
            "p99": percentile(0.99),
            "p999": percentile(0.999),
        },
    });
    println!("{report}");
    Ok(())
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}
