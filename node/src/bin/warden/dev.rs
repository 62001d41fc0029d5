//! `warden dev`: a local cluster of node processes on loopback, initialized and kept
//! running until Ctrl-C, with the examples (`dev_examples.rs`) on request.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use warden_local_cluster::LocalCluster;

use crate::dev_examples::Examples;
use crate::serve::shutdown_signal;

pub async fn dev(
    nodes: u64,
    data_dir: PathBuf,
    settings: Vec<(String, String)>,
    insecure: bool,
    with_examples: bool,
) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("locating the warden binary")?;
    // Every node serves the console; a `--set console.listen=...` of the caller wins.
    let settings = std::iter::once(("console.listen".to_owned(), "\"127.0.0.1:0\"".to_owned()))
        .chain(settings)
        .collect();
    let mut cluster = LocalCluster::new(exe.clone(), &data_dir, settings);
    if insecure {
        cluster.insecure();
    }
    let started = cluster.bootstrap(nodes).await;
    if let Err(error) = started {
        cluster.stop_all().await?;
        return Err(error);
    }
    let examples = if with_examples {
        match Examples::start(&cluster, &exe, &data_dir).await {
            Ok(examples) => Some(examples),
            Err(error) => {
                cluster.stop_all().await?;
                return Err(error);
            }
        }
    } else {
        None
    };
    println!(
        "warden dev: {nodes}-node cluster running (data in {})",
        data_dir.display()
    );
    println!(
        "{:<6} {:<22} {:<22} {:<30} log",
        "node", "grpc", "metrics", "console"
    );
    let scheme = if insecure { "http" } else { "https" };
    for id in 1..=nodes {
        let ready = cluster.ready(id)?;
        let console = ready.console.as_deref().map_or_else(
            || "-".to_owned(),
            |address| format!("{scheme}://{address}/"),
        );
        println!(
            "{:<6} {:<22} {:<22} {:<30} {}",
            id,
            ready.grpc,
            ready.metrics.as_deref().unwrap_or("-"),
            console,
            cluster.log_path(id).display()
        );
    }
    let endpoints = cluster.endpoints().join(",");
    std::fs::write(data_dir.join("endpoints"), &endpoints).context("writing the endpoints file")?;
    println!("\nexport WARDEN_ENDPOINTS={endpoints}");
    // The first admin's token (mode 0600); the only credential that exists at first.
    let token_file = std::fs::canonicalize(cluster.admin_token_path())
        .context("locating the admin token file")?;
    println!("export WARDEN_TOKEN_FILE={}", token_file.display());
    match cluster.ca_path() {
        Some(ca) => {
            let ca = std::fs::canonicalize(&ca).context("locating the CA certificate")?;
            println!("export WARDEN_CA_FILE={}", ca.display());
        }
        None => println!("(insecure: no TLS; unset WARDEN_CA_FILE)"),
    }
    if let Some(examples) = &examples {
        print!("{}", examples.describe());
    }
    println!(
        "then e.g.: wardenctl cluster status; wardenctl workspace create acme\nThe console signs in with the token in WARDEN_TOKEN_FILE.\nCtrl-C stops all nodes."
    );
    // A node that dies (say, killed to try failover) is reported; the rest keep running.
    loop {
        tokio::select! {
            () = shutdown_signal() => break,
            id = cluster.any_exit() => eprintln!("node {id} exited; see {}", cluster.log_path(id).display()),
        }
    }
    if let Some(examples) = examples {
        examples.stop().await?;
    }
    cluster.stop_all().await?;
    println!("all nodes stopped");
    Ok(ExitCode::SUCCESS)
}
