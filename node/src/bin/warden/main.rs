//! `warden`: the Warden server. `serve` runs one node; `dev` runs a local cluster of
//! node processes; `demo` runs Warden's main job end to end; `audit` verifies a chain
//! offline.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use warden_node::cert_cmd;

mod audit_cmd;
mod demo;
mod dev;
mod dev_examples;
mod restore;
mod serve;

/// `warden --version`: the build's version, the protocol it speaks (which commands it
/// can apply: `warden_core::version`) and the storage format it writes.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (protocol 6, storage format 3)");

#[derive(Parser)]
#[command(
    name = "warden",
    version = VERSION,
    about = "Warden: a self-hosted control plane for AI agents that act on real systems"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one node. Settings come from defaults, then --config, then WARDEN_* variables
    /// (e.g. WARDEN_NODE_ID, WARDEN_DATA_DIR, WARDEN_RAFT_HEARTBEAT_INTERVAL), then flags.
    /// FAILPOINTS (storage fault injection) is refused unless built with `failpoints`.
    Serve(serve::ServeArgs),
    /// Run a local cluster of N node processes on loopback, initialize it, print the
    /// endpoints and keep it running until Ctrl-C. Rerunning with the same --data-dir
    /// restarts the same cluster. It makes its own CA, node certificates, bootstrap
    /// token and master key (in --data-dir), so it runs TLS with nothing to set up.
    Dev {
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=9))]
        nodes: u64,
        #[arg(long, default_value = ".warden-dev")]
        data_dir: PathBuf,
        /// A setting for every node, as KEY=VALUE (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
        settings: Vec<(String, String)>,
        /// Run the nodes without TLS (tls.insecure), e.g. to measure what TLS costs.
        #[arg(long)]
        insecure: bool,
        /// Also start the scripted model (a test double following
        /// examples/scripted-model.json) and put the bundled ledger MCP server in the
        /// catalog as `ledger`, and print WARDEN_EXAMPLE_MODEL_URL and WARDEN_EXAMPLE_DIR:
        /// README's by-hand section then runs without any model or tool installed.
        #[arg(long)]
        with_examples: bool,
    },
    /// Warden's main job end to end: a local 3-node cluster takes tasks, loses its leader
    /// to SIGKILL, keeps going, takes the node back, and proves every node holds the same
    /// verified audit chain.
    Demo {
        /// Where the nodes keep their data; a fresh temporary directory by default.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Verify an audit chain offline, or make a node's audit signing key.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Create the cluster's CA and issue node and client certificates.
    #[command(subcommand)]
    Cert(cert_cmd::CertCommand),
    /// Write a new random master key to FILE (mode 0600; an existing file is never
    /// overwritten). Give every node of a cluster the same file as
    /// secrets.master_key_file: it seals provider API keys and MCP server secrets, and
    /// derives the node-to-node credential. Keep it outside data_dir, and back it up: a
    /// cluster's sealed secrets cannot be read without it. (A node's audit signing key
    /// is `warden audit keygen`.)
    Keygen {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Write a new random bootstrap token to FILE (mode 0600): `cluster init` must
    /// present it to the node started with it (bootstrap.token_file).
    BootstrapToken { file: PathBuf },
    /// Seed a new one-node cluster's data directory from a backup (`wardenctl backup
    /// create`). The file is checked frame by frame (a damaged or cut one is refused with
    /// the byte offset) and its audit chain and checkpoints must verify before the
    /// directory is created. Start the node on it (same master key, the --advertise
    /// address), then add the other nodes; tokens, roles and workspaces are as they were.
    Restore(restore::RestoreArgs),
}

pub(crate) fn parse_setting(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))?;
    Ok((key.trim().to_owned(), value.trim().to_owned()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::serve(args).await,
        Command::Dev {
            nodes,
            data_dir,
            settings,
            insecure,
            with_examples,
        } => dev::dev(nodes, data_dir, settings, insecure, with_examples).await,
        Command::Demo { data_dir } => demo::run(data_dir).await,
        Command::Cert(command) => {
            cert_cmd::run(command)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::BootstrapToken { file } => {
            cert_cmd::write_bootstrap_token(&file)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(command) => audit_cmd::run(command),
        Command::Restore(args) => restore::run(args).await,
        Command::Keygen { out } => {
            let key = warden_secrets::MasterKey::generate_file(&out)
                .with_context(|| format!("writing a master key to {}", out.display()))?;
            println!(
                "wrote {} (key id {}): give the same file to every node (secrets.master_key_file), outside its data directory, and back it up",
                out.display(),
                key.key_id()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_version_names_the_protocol_and_storage_format_of_this_build() {
        assert_eq!(
            super::VERSION,
            format!(
                "{} (protocol {}, storage format {})",
                env!("CARGO_PKG_VERSION"),
                warden_core::PROTOCOL,
                warden_raft::format::CURRENT
            )
        );
    }
}
