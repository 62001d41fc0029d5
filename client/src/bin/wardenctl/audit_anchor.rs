//! `wardenctl audit heads` and `audit checkpoint`: every node's audit head beside its
//! latest signed checkpoint, and signing on demand.
//!
//! Exit status of `heads`: 0 when every member answered and all agree; 1 when a node
//! disagrees (a different hash at the compared record, or a hash a checkpoint does not
//! sign); 3 when the reachable nodes agree but some node did not answer, since its chain
//! could not be compared.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::{Value, json};
use warden_client::proto::{
    CheckpointAuditResponse, ListAuditHeadsResponse, NodeAuditHead, SignedCheckpoint,
};
use warden_client::{Client, Consistency};

use crate::output::{Format, Table, emit, emit_json, short_hash};

/// `heads` exit status when a node did not answer but the others agree.
const UNREACHABLE: u8 = 3;

pub async fn heads(
    client: &Client,
    format: Format,
    consistency: Consistency,
) -> anyhow::Result<ExitCode> {
    let response = client
        .list_audit_heads(consistency)
        .await
        .context("list audit heads")?;
    match format {
        Format::Table => emit(&render_heads(&response))?,
        Format::Json => emit_json(&heads_json(&response))?,
    }
    let unreachable = response.nodes.iter().any(|node| !node.reachable);
    Ok(if !response.agree {
        ExitCode::FAILURE
    } else if unreachable {
        ExitCode::from(UNREACHABLE)
    } else {
        ExitCode::SUCCESS
    })
}

pub async fn checkpoint(client: &Client, format: Format) -> anyhow::Result<ExitCode> {
    let response = client
        .checkpoint_audit()
        .await
        .context("checkpoint the audit chain")?;
    match format {
        Format::Table => emit(&render_checkpoints(&response))?,
        Format::Json => emit_json(&checkpoints_json(&response))?,
    }
    Ok(if response.checkpoints.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn checkpoint_json(checkpoint: &SignedCheckpoint) -> Value {
    json!({
        "node_id": checkpoint.node_id,
        "index": checkpoint.index,
        "hash": checkpoint.hash,
        "public_key": checkpoint.public_key,
        "signature": checkpoint.signature,
    })
}

fn heads_json(response: &ListAuditHeadsResponse) -> Value {
    let node = |node: &NodeAuditHead| {
        json!({
            "node_id": node.node_id,
            "address": node.address,
            "reachable": node.reachable,
            "error": node.error,
            "count": node.count,
            "hash": node.hash,
            "compare_hash": node.compare_hash,
            "public_key": node.public_key,
            "checkpoint": node.checkpoint.as_ref().map(checkpoint_json),
            "problem": node.problem,
        })
    };
    json!({
        "node_id": response.node_id,
        "agree": response.agree,
        "compare_index": response.compare_index,
        "checkpoint_interval": response.checkpoint_interval,
        "nodes": response.nodes.iter().map(node).collect::<Vec<_>>(),
    })
}

fn checkpoints_json(response: &CheckpointAuditResponse) -> Value {
    json!({
        "checkpoints": response.checkpoints.iter().map(checkpoint_json).collect::<Vec<_>>(),
        "failures": response.failures.iter().map(|failure| json!({
            "node_id": failure.node_id,
            "error": failure.error,
        })).collect::<Vec<_>>(),
    })
}

fn render_heads(response: &ListAuditHeadsResponse) -> String {
    let mut table = Table::new(vec![
        "NODE",
        "COUNT",
        "HEAD",
        "AT COMPARED",
        "KEY",
        "LAST CHECKPOINT",
        "PROBLEM",
    ]);
    for node in &response.nodes {
        let checkpoint = node.checkpoint.as_ref().map_or_else(
            || "-".to_owned(),
            |checkpoint| format!("{} {}", checkpoint.index, short_hash(&checkpoint.hash)),
        );
        let key = if node.public_key.is_empty() {
            "unsigned".to_owned()
        } else {
            short_hash(&node.public_key)
        };
        if node.reachable {
            table.push(vec![
                node.node_id.to_string(),
                node.count.to_string(),
                short_hash(&node.hash),
                short_hash(&node.compare_hash),
                key,
                checkpoint,
                node.problem.clone(),
            ]);
        } else {
            table.push(vec![
                node.node_id.to_string(),
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
                key,
                checkpoint,
                format!("unreachable: {}", node.error),
            ]);
        }
    }
    let verdict = if !response.agree {
        "DISAGREE"
    } else if response.nodes.iter().any(|node| !node.reachable) {
        "agree (incomplete: a node did not answer)"
    } else {
        "agree"
    };
    format!(
        "{}\ncompared at record {} (checkpoint interval {}): {verdict}\n",
        table.render().trim_end(),
        response.compare_index,
        response.checkpoint_interval
    )
}

fn render_checkpoints(response: &CheckpointAuditResponse) -> String {
    let mut table = Table::new(vec!["NODE", "INDEX", "HASH", "KEY", "SIGNATURE"]);
    for checkpoint in &response.checkpoints {
        table.push(vec![
            checkpoint.node_id.to_string(),
            checkpoint.index.to_string(),
            checkpoint.hash.clone(),
            short_hash(&checkpoint.public_key),
            short_hash(&checkpoint.signature),
        ]);
    }
    let mut text = table.render();
    for failure in &response.failures {
        text.push_str(&format!(
            "node {} signed nothing: {}\n",
            failure.node_id, failure.error
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disagreeing_and_an_unreachable_node_are_named() {
        let text = render_heads(&ListAuditHeadsResponse {
            nodes: vec![
                NodeAuditHead {
                    node_id: 1,
                    reachable: true,
                    count: 30,
                    hash: "aa".repeat(32),
                    compare_hash: "aa".repeat(32),
                    ..NodeAuditHead::default()
                },
                NodeAuditHead {
                    node_id: 2,
                    reachable: true,
                    count: 30,
                    problem: "node 2 holds bb at record 30".into(),
                    ..NodeAuditHead::default()
                },
                NodeAuditHead {
                    node_id: 3,
                    error: "no answer within 3s".into(),
                    ..NodeAuditHead::default()
                },
            ],
            compare_index: 30,
            agree: false,
            checkpoint_interval: 1000,
            node_id: 1,
        });
        assert!(text.contains("node 2 holds bb at record 30"), "{text}");
        assert!(text.contains("unreachable: no answer within 3s"), "{text}");
        assert!(text.contains("unsigned"), "{text}");
        assert!(
            text.ends_with("compared at record 30 (checkpoint interval 1000): DISAGREE\n"),
            "{text}"
        );
    }
}
