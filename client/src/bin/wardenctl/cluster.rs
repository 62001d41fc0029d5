//! `wardenctl cluster ...`: initialization, membership changes and status.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use warden_client::Client;
use warden_client::proto::ClusterStatusResponse;

use crate::json;
use crate::output::{Format, Table, emit, emit_json, or_dash, render_fields, role_name};

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Initialize a fresh cluster with one node as its only voter, and its first admin
    ///
    /// The node is the first reachable endpoint, so run it once per cluster with a single
    /// --endpoints entry. Then add the other nodes with `cluster add-node`. The admin's
    /// token is printed once (or written to --token-out); it is the only call that needs
    /// no token: it presents the node's bootstrap token instead.
    Init {
        /// The first cluster admin: user/<name> or service/<name>
        #[arg(long, default_value = "user/admin")]
        admin: String,
        /// File holding the bootstrap token the node was started with
        /// (its bootstrap.token_file; `warden bootstrap-token FILE` makes one)
        #[arg(long, env = "WARDEN_BOOTSTRAP_TOKEN_FILE")]
        bootstrap_token_file: std::path::PathBuf,
        /// Write the admin token to this new file (mode 0600) instead of printing it
        #[arg(long)]
        token_out: Option<std::path::PathBuf>,
        /// Each node signs its audit head every this many records (at least 10); fixed
        /// for the cluster's life and recorded in the log
        #[arg(long, default_value_t = 1000)]
        checkpoint_interval: u64,
    },
    /// Add a node as a learner (non-voting)
    ///
    /// The leader first reaches the node at ADDRESS and checks that it is node ID (its
    /// certificate from the cluster's CA) holding the cluster's master key; it refuses
    /// otherwise, saying what to fix. Returns once the new node has caught up with the
    /// log, which can take longer than the default --timeout on a large cluster. Then
    /// `cluster promote` it to make it a voter.
    AddNode {
        /// Id of the new node (as configured on that node)
        id: u64,
        /// host:port of the new node's gRPC listener, as the other nodes reach it
        address: String,
    },
    /// Turn a learner into a voter
    ///
    /// Refused unless the learner has caught up (within raft.catch_up_lag entries of the
    /// leader's log): a voter that is behind could cost the cluster its quorum.
    Promote {
        /// Id of the learner
        id: u64,
    },
    /// Remove a node (voter or learner) from the cluster
    RemoveNode {
        /// Id of the node to remove
        id: u64,
    },
    /// Show leader, term, log indexes and members
    ///
    /// This is the view of the node that answers. MATCHED (the last log index known to be
    /// replicated to a member) and LAG (the leader's last log index minus MATCHED) are
    /// known only when the leader answers; otherwise they show as `-`.
    Status,
}

pub async fn run(
    client: &Client,
    format: Format,
    command: ClusterCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        ClusterCommand::Init {
            admin,
            token_out,
            bootstrap_token_file,
            checkpoint_interval,
        } => {
            let bootstrap_token =
                std::fs::read_to_string(&bootstrap_token_file).with_context(|| {
                    format!(
                        "reading the bootstrap token file {}",
                        bootstrap_token_file.display()
                    )
                })?;
            let response = client
                .init_cluster_with(Some(&admin), bootstrap_token.trim(), checkpoint_interval)
                .await
                .context("init cluster")?;
            let token_line = match &token_out {
                Some(path) => {
                    crate::identity::write_secret_file(path, &response.admin_token)?;
                    format!("admin token written to {}", path.display())
                }
                None => format!("admin token: {}", response.admin_token),
            };
            match format {
                Format::Table => emit(&format!(
                    "initialized cluster with node {} at {}; admin {}\n{token_line}\n",
                    response.node_id, response.address, response.admin
                ))?,
                Format::Json => emit_json(&json!({
                    "node_id": response.node_id,
                    "address": response.address,
                    "admin": response.admin,
                    "admin_token": token_out.is_none().then_some(&response.admin_token),
                }))?,
            }
        }
        ClusterCommand::AddNode { id, address } => {
            let response = client
                .add_node(id, address.clone())
                .await
                .with_context(|| format!("add node {id}"))?;
            report_change(
                format,
                &format!("added node {id} at {address} as a learner"),
                id,
                response.log_index,
            )?;
        }
        ClusterCommand::Promote { id } => {
            let response = client
                .promote_node(id)
                .await
                .with_context(|| format!("promote node {id}"))?;
            report_change(
                format,
                &format!("promoted node {id} to voter"),
                id,
                response.log_index,
            )?;
        }
        ClusterCommand::RemoveNode { id } => {
            let response = client
                .remove_node(id)
                .await
                .with_context(|| format!("remove node {id}"))?;
            report_change(
                format,
                &format!("removed node {id}"),
                id,
                response.log_index,
            )?;
        }
        ClusterCommand::Status => {
            let status = client.cluster_status().await.context("cluster status")?;
            match format {
                Format::Table => emit(&render_status(&status))?,
                Format::Json => emit_json(&json::cluster_status(&status))?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the outcome of a membership change, committed at `log_index`.
fn report_change(
    format: Format,
    summary: &str,
    node_id: u64,
    log_index: u64,
) -> std::io::Result<()> {
    match format {
        Format::Table => emit(&format!("{summary} (log index {log_index})\n")),
        Format::Json => emit_json(&json!({ "node_id": node_id, "log_index": log_index })),
    }
}

fn render_status(status: &ClusterStatusResponse) -> String {
    let mut text = render_fields(&[
        ("node", format!("{} ({})", status.node_id, status.state)),
        (
            "build",
            format!("{} (protocol {})", status.version, status.protocol),
        ),
        ("cluster protocol", status.cluster_protocol.to_string()),
        ("leader", or_dash(status.leader_id)),
        ("term", status.term.to_string()),
        ("last log index", status.last_log_index.to_string()),
        ("committed index", status.committed_index.to_string()),
        ("applied index", status.applied_index.to_string()),
        ("snapshot index", or_dash(status.snapshot_index)),
        ("purged index", or_dash(status.purged_index)),
    ]);
    let mut members = Table::new(vec![
        "ID", "ADDRESS", "ROLE", "MATCHED", "LAG", "VERSION", "PROTOCOL", "LEASE", "TASKS",
    ]);
    for member in &status.members {
        members.push(vec![
            member.node_id.to_string(),
            member.address.clone(),
            role_name(member.role),
            or_dash(member.matched_index),
            or_dash(member.lag),
            or_dash(member.version.as_ref()),
            or_dash(member.protocol),
            lease(member),
            member.owned_tasks.to_string(),
        ]);
    }
    text.push('\n');
    text.push_str(&members.render());
    text
}

/// A member's lease as the leader holds it: `ok 120ms` (heard that long ago),
/// `EXPIRED 4200ms`, or a dash off the leader.
fn lease(member: &warden_client::proto::Member) -> String {
    match (member.lease_holds, member.heard_ms_ago) {
        (Some(true), Some(ago)) => format!("ok {ago}ms"),
        (Some(true), None) => "ok".to_owned(),
        (Some(false), Some(ago)) => format!("EXPIRED {ago}ms"),
        (Some(false), None) => "EXPIRED".to_owned(),
        (None, _) => "-".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_client::proto::{Member, MemberRole};

    #[test]
    fn status_shows_node_indexes_and_members() {
        let status = ClusterStatusResponse {
            node_id: 1,
            leader_id: Some(1),
            term: 3,
            last_log_index: 12,
            committed_index: 12,
            applied_index: 11,
            snapshot_index: None,
            purged_index: None,
            state: "leader".into(),
            cluster_protocol: 1,
            protocol: 2,
            version: "0.1.0".into(),
            members: vec![
                Member {
                    node_id: 1,
                    address: "127.0.0.1:7400".into(),
                    role: MemberRole::Voter as i32,
                    matched_index: Some(12),
                    lag: Some(0),
                    protocol: Some(2),
                    version: Some("0.1.0".into()),
                    heard_ms_ago: Some(120),
                    capacity: Some(64),
                    lease_holds: Some(true),
                    owned_tasks: 3,
                },
                Member {
                    node_id: 2,
                    address: "127.0.0.1:7401".into(),
                    role: MemberRole::Learner as i32,
                    matched_index: None,
                    lag: None,
                    protocol: None,
                    version: None,
                    heard_ms_ago: Some(4200),
                    capacity: None,
                    lease_holds: Some(false),
                    owned_tasks: 0,
                },
            ],
        };
        let text = render_status(&status);
        assert!(
            text.starts_with(
                "node              1 (leader)\nbuild             0.1.0 (protocol 2)\ncluster protocol  1\nleader            1\n"
            ),
            "{text}"
        );
        assert!(text.contains("applied index     11\n"), "{text}");
        assert!(text.contains("snapshot index    -\n"), "{text}");
        assert!(
            text.contains(
                "ID  ADDRESS         ROLE     MATCHED  LAG  VERSION  PROTOCOL  LEASE           TASKS\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "1   127.0.0.1:7400  voter    12       0    0.1.0    2         ok 120ms        3\n"
            ),
            "{text}"
        );
        assert!(
            text.ends_with(
                "2   127.0.0.1:7401  learner  -        -    -        -         EXPIRED 4200ms  0\n"
            ),
            "{text}"
        );
    }
}
