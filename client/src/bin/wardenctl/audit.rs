//! `wardenctl audit ...`: reading, verifying and exporting the audit hash chain.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use futures::StreamExt;
use serde_json::json;
use warden_client::proto::{AuditRecord, VerifyAuditResponse};
use warden_client::{AuditTail, Client};

use crate::args::ReadArgs;
use crate::json;
use crate::output::{
    Format, Table, emit, emit_json, format_time_ms, or_dash, render_fields, shorten,
};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Show the most recent audit records, oldest first
    ///
    /// With filters, the newest records that match all of them. A call examines at most
    /// 50,000 records; when older records remain, the command says which `--before` to
    /// pass for the next page.
    Tail {
        /// How many records
        #[arg(long, short = 'n', default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
        /// Only records of this principal (user/NAME, service/NAME, node/ID, system)
        #[arg(long)]
        principal: Option<String>,
        /// Only records of this action (task.submit, approval.decide, ...)
        #[arg(long)]
        action: Option<String>,
        /// Only records about this workspace or something in it (an auditor of this
        /// workspace may read these; the whole chain needs the auditor role cluster-wide)
        #[arg(long, short = 'w')]
        workspace: Option<String>,
        /// Only records before this chain position (for the next older page)
        #[arg(long)]
        before: Option<u64>,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Recompute the whole hash chain; exit status 1 if it is broken
    ///
    /// The node that answers recomputes every record's hash. Prints ok or FAILED, the
    /// node, the record count and the head hash; on failure also the first bad record
    /// and the problem.
    Verify {
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Write the audit records as JSON Lines, oldest first
    ///
    /// One JSON object per line and record, with every field (hashes as hex), whatever
    /// --output says. Survives node failures: when a node goes away mid-way, the export
    /// continues on another node after the last record written, without duplicates or
    /// gaps.
    Export {
        /// First record index to export (records are numbered from 1)
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// Write to this file (created or truncated) instead of standard output
        #[arg(long, short)]
        out: Option<PathBuf>,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Every member node's audit head beside its latest signed checkpoint, compared
    ///
    /// The serving node asks each member for its applied head, then for its hashes at
    /// the smallest head and at each node's latest checkpoint. Exit status 1 when a node
    /// disagrees (naming it and the record), 3 when the others agree but a node did not
    /// answer (its chain could not be compared), 0 otherwise. A node shown as `unsigned`
    /// has no audit key registered. `--output json` can be saved and given to
    /// `warden audit verify-export --checkpoints`.
    Heads {
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Make every reachable node sign its audit head now and print the checkpoints
    ///
    /// Needs a cluster admin or auditor. Each checkpoint is recorded in the chain under
    /// its node. Save `--output json` apart from the cluster: `warden audit verify-export
    /// --checkpoints FILE` then detects an export whose tail was cut. Exit status 1 when
    /// no node signed.
    Checkpoint,
}

pub async fn run(
    client: &Client,
    format: Format,
    command: AuditCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Tail {
            limit,
            principal,
            action,
            workspace,
            before,
            read,
        } => {
            let tail = AuditTail {
                limit,
                principal: principal.unwrap_or_default(),
                action: action.unwrap_or_default(),
                workspace: workspace.unwrap_or_default(),
                before_index: before.unwrap_or(0),
            };
            let response = client
                .tail_audit(tail, read.consistency())
                .await
                .context("tail audit log")?;
            match format {
                Format::Table => {
                    emit(&render_records(&response.records))?;
                    if response.next_before_index > 0 {
                        eprintln!("older records: --before {}", response.next_before_index);
                    }
                }
                Format::Json => emit_json(&json!({
                    "records": response.records.iter().map(json::audit_record).collect::<Vec<_>>(),
                    "next_before_index": response.next_before_index,
                }))?,
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify { read } => {
            let report = client
                .verify_audit(read.consistency())
                .await
                .context("verify audit log")?;
            match format {
                Format::Table => emit(&render_verify(&report))?,
                Format::Json => emit_json(&json::verify(&report))?,
            }
            Ok(if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        AuditCommand::Heads { read } => {
            crate::audit_anchor::heads(client, format, read.consistency()).await
        }
        AuditCommand::Checkpoint => crate::audit_anchor::checkpoint(client, format).await,
        AuditCommand::Export { from, out, read } => {
            match &out {
                Some(path) => {
                    let file =
                        File::create(path).with_context(|| format!("create {}", path.display()))?;
                    let written = export(client, from, read, BufWriter::new(file))
                        .await
                        .with_context(|| format!("export audit log to {}", path.display()))?;
                    eprintln!("exported {written} records to {}", path.display());
                }
                None => {
                    export(client, from, read, BufWriter::new(io::stdout()))
                        .await
                        .context("export audit log")?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Streams records into `sink` as JSON Lines and returns how many were written. A
/// closed stdout pipe ends the export quietly.
async fn export(
    client: &Client,
    from: u64,
    read: ReadArgs,
    mut sink: impl Write,
) -> anyhow::Result<u64> {
    let records = client.export_audit(from, read.consistency());
    futures::pin_mut!(records);
    let mut written = 0;
    while let Some(record) = records.next().await {
        let line = format!("{}\n", json::audit_record(&record?));
        match sink.write_all(line.as_bytes()) {
            Err(error) if error.kind() == io::ErrorKind::BrokenPipe => return Ok(written),
            other => other.context("write record")?,
        }
        written += 1;
    }
    match sink.flush() {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(written),
        other => other.context("flush output").map(|()| written),
    }
}

fn render_records(records: &[AuditRecord]) -> String {
    let mut table = Table::new(vec![
        "INDEX",
        "LOG",
        "TIME",
        "PRINCIPAL",
        "ACTION",
        "RESOURCE",
        "OUTCOME",
        "DETAIL",
        "HASH",
    ]);
    for record in records {
        table.push(vec![
            record.index.to_string(),
            record.log_index.to_string(),
            format_time_ms(record.time_ms),
            record.principal.clone(),
            record.action.clone(),
            record.resource.clone(),
            record.outcome.clone(),
            shorten(&record.detail, 40),
            record.hash.chars().take(12).collect(),
        ]);
    }
    table.render()
}

fn render_verify(report: &VerifyAuditResponse) -> String {
    let mut fields = vec![
        ("result", if report.ok { "ok" } else { "FAILED" }.to_owned()),
        ("node", report.node_id.to_string()),
        ("applied index", report.applied_index.to_string()),
        ("records", report.record_count.to_string()),
        (
            "head hash",
            if report.head_hash.is_empty() {
                "-".to_owned()
            } else {
                report.head_hash.clone()
            },
        ),
    ];
    fields.push((
        "checkpoints",
        match report.checkpoint_covered {
            0 => format!("{} stored; none covers a record", report.checkpoint_count),
            covered => format!(
                "{} stored; the last covers records 1..{covered} of {}",
                report.checkpoint_count, report.record_count
            ),
        },
    ));
    if !report.ok {
        fields.push(("first bad index", or_dash(report.first_bad_index)));
        fields.push(("problem", report.problem.clone()));
    }
    render_fields(&fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_verification_names_the_bad_record_and_problem() {
        let text = render_verify(&VerifyAuditResponse {
            ok: false,
            record_count: 9,
            head_hash: "ff".repeat(32),
            first_bad_index: Some(4),
            problem: "prev_hash does not match".into(),
            node_id: 2,
            applied_index: 30,
            ..VerifyAuditResponse::default()
        });
        assert!(text.starts_with("result           FAILED\n"), "{text}");
        assert!(text.contains("first bad index  4\n"), "{text}");
        assert!(
            text.contains("problem          prev_hash does not match\n"),
            "{text}"
        );

        let ok = render_verify(&VerifyAuditResponse {
            ok: true,
            ..VerifyAuditResponse::default()
        });
        assert!(ok.starts_with("result         ok\n"), "{ok}");
        assert!(!ok.contains("problem"), "{ok}");
    }
}
