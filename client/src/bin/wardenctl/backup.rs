//! `wardenctl backup create FILE`: a node's backup, streamed into a file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use warden_client::Client;

use crate::output::{Format, emit, emit_json};

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Take a backup of the cluster's state from the node that answers (cluster admins)
    ///
    /// Tasks and journals, workspace configuration, tokens and roles, and the audit chain
    /// with its signed checkpoints, from one consistent snapshot; recorded in the audit
    /// chain (cluster.backup) first. The file is written beside FILE and renamed into
    /// place once whole, so FILE is never a partial backup. Sealed secrets stay sealed:
    /// keep the cluster's master key too. `warden restore FILE --data-dir D` seeds a new
    /// cluster from it.
    Create {
        /// Where to write the backup; an existing file is not overwritten
        file: PathBuf,
    },
}

pub async fn run(
    client: &Client,
    format: Format,
    command: BackupCommand,
) -> anyhow::Result<ExitCode> {
    let BackupCommand::Create { file } = command;
    if file.exists() {
        anyhow::bail!("{} exists: name a new file", file.display());
    }
    let partial = partial_path(&file);
    let mut backup = client.create_backup().await.context("create backup")?;
    let mut out = tokio::fs::File::create(&partial)
        .await
        .with_context(|| format!("create {}", partial.display()))?;
    let mut bytes = 0u64;
    let received = async {
        while let Some(chunk) = backup.next_chunk().await? {
            out.write_all(&chunk).await?;
            bytes += chunk.len() as u64;
        }
        out.sync_all().await?;
        anyhow::Ok(())
    }
    .await;
    if let Err(error) = received {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(error.context("receive the backup"));
    }
    tokio::fs::rename(&partial, &file)
        .await
        .with_context(|| format!("rename {} to {}", partial.display(), file.display()))?;
    let info = &backup.info;
    match format {
        Format::Table => emit(&format!(
            "wrote {} ({bytes} bytes) from node {}: applied index {}, {} audit records, head {}\n",
            file.display(),
            info.node_id,
            info.applied_index,
            info.audit_records,
            info.audit_head
        ))?,
        Format::Json => emit_json(&json!({
            "file": file.display().to_string(),
            "bytes": bytes,
            "node_id": info.node_id,
            "applied_index": info.applied_index,
            "audit_records": info.audit_records,
            "audit_head": info.audit_head,
        }))?,
    }
    Ok(ExitCode::SUCCESS)
}

fn partial_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    file.with_file_name(name)
}
