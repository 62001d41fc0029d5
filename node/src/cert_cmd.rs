//! `warden cert ...` and `warden bootstrap-token`: the files a TLS cluster needs,
//! created without openssl. Keys are written with mode 0600 and never overwritten.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use warden_tls::Ca;

#[derive(Subcommand)]
pub enum CertCommand {
    /// Create the cluster's certificate authority: DIR/ca.pem (give it to every node and
    /// client) and DIR/ca.key (keep it off the nodes; it signs node certificates).
    Ca {
        #[arg(long)]
        dir: PathBuf,
        /// The CA's common name.
        #[arg(long, default_value = "warden cluster CA")]
        name: String,
    },
    /// Issue node N's certificate and key (OUT/node-N.pem, OUT/node-N.key). It names the
    /// node's identity, node-N.warden, and every --host clients reach it by.
    Node {
        /// The directory holding ca.pem and ca.key.
        #[arg(long)]
        ca_dir: PathBuf,
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        node_id: u64,
        /// An IP address or DNS name clients use to reach the node (repeatable), e.g.
        /// --host 127.0.0.1 --host warden-1.internal.
        #[arg(long = "host")]
        hosts: Vec<String>,
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Issue a client certificate and key (OUT/NAME.pem, OUT/NAME.key), for
    /// `wardenctl --cert/--key`; it never passes as a node's.
    Client {
        #[arg(long)]
        ca_dir: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

pub fn run(command: CertCommand) -> anyhow::Result<()> {
    match command {
        CertCommand::Ca { dir, name } => {
            create_dir(&dir)?;
            Ca::generate(&name)?.write(&dir)?;
            println!("wrote {0}/ca.pem and {0}/ca.key", dir.display());
        }
        CertCommand::Node {
            ca_dir,
            node_id,
            hosts,
            out,
        } => {
            create_dir(&out)?;
            let stem = format!("node-{node_id}");
            load(&ca_dir)?
                .issue_node(node_id, &hosts)?
                .write(&out, &stem)?;
            println!("wrote {0}/{stem}.pem and {0}/{stem}.key", out.display());
        }
        CertCommand::Client { ca_dir, name, out } => {
            create_dir(&out)?;
            load(&ca_dir)?.issue_client(&name)?.write(&out, &name)?;
            println!("wrote {0}/{name}.pem and {0}/{name}.key", out.display());
        }
    }
    Ok(())
}

/// Writes a new random bootstrap token (64 hex digits) to `path`, mode 0600.
pub fn write_bootstrap_token(path: &Path) -> anyhow::Result<()> {
    warden_tls::write_bootstrap_token(path)?;
    println!(
        "wrote {}: give it to the node that starts the cluster (bootstrap.token_file) and to `wardenctl cluster init --bootstrap-token-file`",
        path.display()
    );
    Ok(())
}

fn load(dir: &Path) -> anyhow::Result<Ca> {
    Ca::load(dir).with_context(|| format!("loading the CA in {}", dir.display()))
}

fn create_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}
