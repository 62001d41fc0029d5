//! `warden restore FILE --data-dir D`: a new one-node cluster's data directory from a
//! backup (`wardenctl backup create`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

#[derive(Args)]
pub struct RestoreArgs {
    /// The backup file
    file: PathBuf,
    /// The new node's data directory: it must not hold a database yet
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// The new node's id (its node_id setting); the backup's nodes keep their audit
    /// keys, so reusing the id of the node whose signing key you run it with keeps its
    /// checkpoints valid
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    node_id: u64,
    /// The address peers and clients will reach the new node by (its advertise setting,
    /// or its listen address), HOST:PORT
    #[arg(long, value_name = "HOST:PORT")]
    advertise: String,
}

pub async fn run(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let file =
        std::fs::File::open(&args.file).with_context(|| format!("open {}", args.file.display()))?;
    let backup = warden_raft::backup::read(&mut std::io::BufReader::new(file))
        .with_context(|| format!("read {}", args.file.display()))?;
    let header = backup.header.clone();
    // A node keeps its database in `db` under its data directory.
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("create {}", args.data_dir.display()))?;
    let db = args.data_dir.join("db");
    let verification = warden_raft::backup::restore(backup, &db, args.node_id, &args.advertise)
        .await
        .with_context(|| {
            format!(
                "restore {} into {}",
                args.file.display(),
                args.data_dir.display()
            )
        })?;
    println!(
        "restored {} into {}: applied index {}, {} audit records verified (head {}), {} checkpoints; \
         start node {} on it with advertise {} and the cluster's master key, then add the other nodes",
        args.file.display(),
        args.data_dir.display(),
        header.applied.map_or(0, |id| id.index),
        verification.record_count,
        verification
            .head_hash
            .map_or_else(|| "none".to_owned(), |hash| hash.to_hex()),
        verification.anchors.checkpoint_count,
        args.node_id,
        args.advertise,
    );
    Ok(ExitCode::SUCCESS)
}
