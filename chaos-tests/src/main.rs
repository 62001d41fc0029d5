//! `warden-chaos`: the long mode of the chaos tests. Runs many seeded random schedules
//! against fresh clusters, prints one line per run and a summary, writes
//! `summary.json`, and exits 1 if any run broke an invariant. Replay a run with its seed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use warden_chaos_tests::faults::random_schedule;
use warden_chaos_tests::run::{RunConfig, RunReport, run};
use warden_chaos_tests::summary::Summary;

#[derive(Parser)]
#[command(
    name = "warden-chaos",
    about = "Run seeded chaos schedules against real Warden clusters"
)]
struct Cli {
    /// Number of runs; run i uses seed + i.
    #[arg(long, default_value_t = 10)]
    runs: u64,
    /// The first seed (printed with every run, so any run can be replayed alone).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Faults per run.
    #[arg(long, default_value_t = 6)]
    faults: usize,
    /// Voters per cluster (at most 9: node i runs on 127.0.0.1i).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=9))]
    nodes: u64,
    /// Concurrent submitting clients.
    #[arg(long, default_value_t = 4)]
    clients: u32,
    /// Where runs keep their data, histories and the summary.
    #[arg(long, default_value = "chaos-runs")]
    out: PathBuf,
    /// The `warden` binary (default: next to this one).
    #[arg(long)]
    warden: Option<PathBuf>,
    /// Keep every run's node data directories and logs, not only those of failed runs.
    #[arg(long)]
    keep_node_data: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    match long_mode(Cli::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn long_mode(cli: Cli) -> anyhow::Result<bool> {
    let exe = match cli.warden {
        Some(path) => path,
        None => std::env::current_exe()?.with_file_name("warden"),
    };
    let mut reports: Vec<RunReport> = Vec::new();
    let mut errored: Vec<u64> = Vec::new();
    for run_number in 0..cli.runs {
        let seed = cli.seed + run_number;
        let dir = cli.out.join(format!("seed-{seed}"));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        let config = RunConfig {
            seed,
            nodes: cli.nodes,
            clients: cli.clients,
            faults: random_schedule(seed, cli.faults),
            exe: exe.clone(),
            dir,
        };
        let dir = config.dir.clone();
        // A signal drops the run, and with it the cluster: every node process is killed
        // on drop, so an interrupted long run leaves none behind. The runs so far are
        // summarized.
        let outcome = tokio::select! {
            outcome = run(config) => outcome,
            () = interrupted() => {
                println!("interrupted during seed {seed}");
                break;
            }
        };
        match outcome {
            Ok(report) => {
                println!("{}", Summary::line(&report));
                let path = dir.join("report.json");
                std::fs::write(&path, serde_json::to_vec_pretty(&report)?)
                    .with_context(|| format!("writing {}", path.display()))?;
                if report.violations.is_empty() && !cli.keep_node_data {
                    // A passing run keeps its history and final state, not its node data.
                    remove_node_data(&cli.out.join(format!("seed-{seed}")))?;
                }
                reports.push(report);
            }
            // A run that could not finish (no progress after a fault healed, a node that
            // would not restart) counts as failed; the other seeds still run.
            Err(error) => {
                println!("seed {seed:<6} RUN FAILED: {error:#}");
                errored.push(seed);
            }
        }
    }
    let mut summary = Summary::of(&reports);
    summary.runs += errored.len();
    summary.failed_runs += errored.len();
    summary.failed_seeds.extend(errored);
    println!("{summary}");
    let path = cli.out.join("summary.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&summary)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(summary.failed_runs == 0)
}

/// Resolves on SIGINT or SIGTERM.
async fn interrupted() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

fn remove_node_data(run_dir: &std::path::Path) -> anyhow::Result<()> {
    for entry in
        std::fs::read_dir(run_dir).with_context(|| format!("listing {}", run_dir.display()))?
    {
        let path = entry?.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}
