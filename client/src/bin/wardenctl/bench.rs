//! `wardenctl bench submit`: concurrent task submissions for a fixed time, reporting
//! throughput, errors by code and latency percentiles.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;
use tokio::task::JoinSet;
use tonic::Code;
use warden_client::Client;

use crate::args::parse_duration;
use crate::output::{Format, code_name, emit, emit_json, render_fields};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Submit tasks from concurrent workers for a fixed time
    ///
    /// Prints acknowledged submissions, errors by gRPC code, acknowledgements per second
    /// and latency percentiles (p50, p99, p999, max). Every submission has a unique
    /// idempotency key, so each acknowledgement is a new task. Latency is per
    /// acknowledged submission, including the client's retries.
    Submit(SubmitArgs),
    /// Run agent tasks of K tool-calling steps and report the time per step
    ///
    /// Starts the scripted model server (a test double speaking the OpenAI wire
    /// protocol) as a child process, registers the ledger tool server, creates an agent
    /// granted its `noop` tool and runs tasks at the given concurrency. Prints completed
    /// tasks per second and the time per step (p50, p99), measured from each task's
    /// journal between its assignment and its completion.
    Steps(crate::bench_steps::StepsArgs),
    /// Time the console's pages as a signed-in user
    ///
    /// Signs in to the console at --console with wardenctl's token (--token-file or
    /// WARDEN_TOKEN; the CA from --ca), then fetches each page (the approvals inbox, the
    /// task list of --workspace and its first task's page, the audit page, the cluster
    /// page and the workspace's page) --requests times from --concurrency workers, and
    /// prints p50, p99 and max per page. Fill the workspace first, e.g. with `bench
    /// submit` to a paused agent.
    Console(crate::bench_console::ConsoleArgs),
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Workspace to submit to
    #[arg(long, short)]
    workspace: String,
    /// Agent the tasks are for; it must exist (with a paused agent the tasks are stored
    /// but never placed, so only submission is measured)
    #[arg(long, short)]
    agent: String,
    /// Number of workers, each with one submission in flight at a time
    #[arg(long, short, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    concurrency: u32,
    /// How long to keep submitting, e.g. 30s, 2m; submissions in flight at the end are
    /// still counted
    #[arg(long, short, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Size of each task's input in bytes
    #[arg(long, default_value_t = 256)]
    input_bytes: usize,
    /// Create the workspace first (an existing one is fine)
    #[arg(long)]
    create_workspace: bool,
}

/// What one worker saw.
#[derive(Debug, Default)]
struct WorkerReport {
    latencies: Vec<Duration>,
    errors: BTreeMap<&'static str, u64>,
}

/// `credentials` gives `bench console` the token and CA wardenctl was started with.
pub async fn run(
    client: &Client,
    format: Format,
    command: BenchCommand,
    credentials: impl FnOnce() -> anyhow::Result<crate::bench_console::Credentials>,
) -> anyhow::Result<ExitCode> {
    let args = match command {
        BenchCommand::Submit(args) => args,
        BenchCommand::Steps(args) => return crate::bench_steps::run(client, format, args).await,
        BenchCommand::Console(args) => {
            return crate::bench_console::run(client, credentials()?, format, args).await;
        }
    };
    if args.create_workspace {
        match client.create_workspace(args.workspace.clone()).await {
            Err(error) if error.code() == Some(Code::AlreadyExists) => {}
            other => {
                other.with_context(|| format!("create workspace {}", args.workspace))?;
            }
        }
    }

    // A per-run prefix keeps keys unique across runs, so no submission is deduplicated.
    let run_id = format!("{:016x}", rand::random::<u64>());
    let input = "x".repeat(args.input_bytes);
    let started = Instant::now();
    let deadline = started + args.duration;
    let mut workers = JoinSet::new();
    for worker in 0..args.concurrency {
        let client = client.clone();
        let target = Target {
            workspace: args.workspace.clone(),
            agent: args.agent.clone(),
            input: input.clone(),
        };
        let key_prefix = format!("bench-{run_id}-{worker}");
        workers.spawn(async move { submit_until(client, target, key_prefix, deadline).await });
    }
    let mut latencies = Vec::new();
    let mut errors: BTreeMap<&'static str, u64> = BTreeMap::new();
    while let Some(joined) = workers.join_next().await {
        let report = joined.context("bench worker panicked")?;
        latencies.extend(report.latencies);
        for (code, count) in report.errors {
            *errors.entry(code).or_default() += count;
        }
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();

    let summary = Summary::new(&latencies, errors, elapsed, args.concurrency);
    match format {
        Format::Table => emit(&summary.render())?,
        Format::Json => emit_json(&summary.to_json())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// What every submission of a run sends, apart from its key.
#[derive(Debug, Clone)]
struct Target {
    workspace: String,
    agent: String,
    input: String,
}

/// One worker: submits one task at a time until the deadline.
async fn submit_until(
    client: Client,
    target: Target,
    key_prefix: String,
    deadline: Instant,
) -> WorkerReport {
    let mut report = WorkerReport::default();
    let mut sequence: u64 = 0;
    while Instant::now() < deadline {
        sequence += 1;
        let key = format!("{key_prefix}-{sequence}");
        let sent = Instant::now();
        match client
            .submit_task(
                target.workspace.clone(),
                target.agent.clone(),
                target.input.clone(),
                Some(key),
            )
            .await
        {
            Ok(_) => report.latencies.push(sent.elapsed()),
            Err(error) => {
                let code = error.code().map_or("INVALID_ARGUMENT", code_name);
                *report.errors.entry(code).or_default() += 1;
            }
        }
    }
    report
}

/// The figures a run reports.
#[derive(Debug)]
struct Summary {
    concurrency: u32,
    elapsed: Duration,
    acknowledged: u64,
    errors: BTreeMap<&'static str, u64>,
    p50: Duration,
    p99: Duration,
    p999: Duration,
    max: Duration,
}

impl Summary {
    fn new(
        sorted_latencies: &[Duration],
        errors: BTreeMap<&'static str, u64>,
        elapsed: Duration,
        concurrency: u32,
    ) -> Self {
        Summary {
            concurrency,
            elapsed,
            acknowledged: sorted_latencies.len() as u64,
            errors,
            p50: percentile(sorted_latencies, 0.50),
            p99: percentile(sorted_latencies, 0.99),
            p999: percentile(sorted_latencies, 0.999),
            max: sorted_latencies.last().copied().unwrap_or_default(),
        }
    }

    fn acked_per_second(&self) -> f64 {
        self.acknowledged as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    fn render(&self) -> String {
        let errors = if self.errors.is_empty() {
            "0".to_owned()
        } else {
            let by_code: Vec<String> = self
                .errors
                .iter()
                .map(|(code, count)| format!("{code} {count}"))
                .collect();
            format!("{} ({})", self.error_count(), by_code.join(", "))
        };
        render_fields(&[
            ("duration", format!("{:.2} s", self.elapsed.as_secs_f64())),
            ("concurrency", self.concurrency.to_string()),
            ("acknowledged", self.acknowledged.to_string()),
            ("errors", errors),
            ("acked/s", format!("{:.1}", self.acked_per_second())),
            ("latency p50", format!("{:.3} ms", millis(self.p50))),
            ("latency p99", format!("{:.3} ms", millis(self.p99))),
            ("latency p999", format!("{:.3} ms", millis(self.p999))),
            ("latency max", format!("{:.3} ms", millis(self.max))),
        ])
    }

    fn to_json(&self) -> serde_json::Value {
        json!({
            "duration_s": self.elapsed.as_secs_f64(),
            "concurrency": self.concurrency,
            "acknowledged": self.acknowledged,
            "errors": self.errors,
            "error_count": self.error_count(),
            "acked_per_s": self.acked_per_second(),
            "latency_ms": {
                "p50": millis(self.p50),
                "p99": millis(self.p99),
                "p999": millis(self.p999),
                "max": millis(self.max),
            },
        })
    }
}

pub(crate) fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The nearest-rank percentile `fraction` (0.0-1.0) of ascending `sorted`; zero when empty.
pub(crate) fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (fraction * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: impl IntoIterator<Item = u64>) -> Vec<Duration> {
        values.into_iter().map(Duration::from_millis).collect()
    }

    #[test]
    fn nearest_rank_percentiles() {
        let sorted = ms(1..=1000);
        assert_eq!(percentile(&sorted, 0.50), Duration::from_millis(500));
        assert_eq!(percentile(&sorted, 0.99), Duration::from_millis(990));
        assert_eq!(percentile(&sorted, 0.999), Duration::from_millis(999));
        assert_eq!(percentile(&ms([7]), 0.999), Duration::from_millis(7));
        assert_eq!(
            percentile(&ms([1, 2, 3, 100]), 0.99),
            Duration::from_millis(100)
        );
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn summary_counts_and_rates() {
        let errors = BTreeMap::from([("UNAVAILABLE", 2), ("NOT_FOUND", 1)]);
        let summary = Summary::new(&ms(1..=10), errors, Duration::from_secs(2), 4);
        assert_eq!(summary.acknowledged, 10);
        assert_eq!(summary.error_count(), 3);
        assert!((summary.acked_per_second() - 5.0).abs() < 1e-9);
        let value = summary.to_json();
        assert_eq!(value["errors"]["UNAVAILABLE"], 2);
        assert_eq!(value["latency_ms"]["max"], 10.0);
        assert!(
            summary
                .render()
                .contains("errors        3 (NOT_FOUND 1, UNAVAILABLE 2)\n")
        );
    }
}
