//! `warden audit`: verify a chain offline (a stopped node's data directory or an export)
//! and make a node's audit signing key.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use warden_node::{anchor, audit_file};

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Verify the chain in a stopped node's data directory and the signed checkpoints
    /// stored with it. Exits 1 if it does not verify: a bad record, a checkpoint that does
    /// not verify or does not match the chain, or an unanchored tail longer than twice the
    /// checkpoint interval (checkpoints deleted along with rewritten records).
    Verify {
        #[arg(long)]
        data_dir: PathBuf,
        /// A key known from outside the database: a node's own signing key file (mode
        /// 0600) or its public key (64 hex digits). Fails unless it is the key some node is
        /// registered with; only that node's checkpoints then count as anchors.
        #[arg(long)]
        signing_key: Option<PathBuf>,
    },
    /// Verify a JSON Lines export from `wardenctl audit export` and the checkpoints it
    /// carries; reports the last signed checkpoint it covers. Exits 1 if it does not verify.
    VerifyExport {
        file: PathBuf,
        /// Checkpoints saved apart from the export (`wardenctl audit checkpoint --output
        /// json` or `audit heads --output json`): fails when one signs a record past the
        /// export's end (a cut tail) or a hash the export does not hold.
        #[arg(long)]
        checkpoints: Option<PathBuf>,
    },
    /// Write a new ed25519 audit signing key for one node to FILE (mode 0600; never
    /// overwrites) and print its public key. Keep it outside the node's data directory and
    /// point audit.signing_key_file at it.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Verify {
            data_dir,
            signing_key,
        } => {
            let trusted = signing_key
                .as_deref()
                .map(anchor::signer::trusted_key)
                .transpose()?;
            Ok(report(audit_file::verify_data_dir(&data_dir, trusted)?))
        }
        AuditCommand::VerifyExport { file, checkpoints } => {
            let saved = match &checkpoints {
                Some(path) => audit_file::saved_checkpoints(
                    &std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?,
                )
                .with_context(|| format!("reading checkpoints from {}", path.display()))?,
                None => Vec::new(),
            };
            let reader = std::fs::File::open(&file)
                .with_context(|| format!("opening {}", file.display()))?;
            Ok(report(audit_file::verify_export_against(
                std::io::BufReader::new(reader),
                &saved,
            )?))
        }
        AuditCommand::Keygen { out } => {
            let key = anchor::signer::generate(&out)?;
            println!("{key}");
            eprintln!(
                "wrote a new audit signing key to {} (mode 0600); set audit.signing_key_file to it",
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn report(verdict: audit_file::Verdict) -> ExitCode {
    let head = verdict
        .head_hash
        .map(|hash| hash.to_hex())
        .unwrap_or_else(|| "-".to_owned());
    for line in &verdict.anchoring {
        println!("{line}");
    }
    match verdict.failure {
        None => {
            println!("ok: {} records, head {head}", verdict.record_count);
            ExitCode::SUCCESS
        }
        Some((index, problem)) => {
            println!(
                "FAILED at record {index}: {problem} ({} records verified before it)",
                verdict.record_count
            );
            ExitCode::from(1)
        }
    }
}
