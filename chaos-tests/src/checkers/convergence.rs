//! All nodes converged: once faults heal, every node has applied the same log, audit chain and tasks.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;

use super::{Checker, Violation, list, violations};
use crate::history::{FinalState, History, NodeState};

pub struct Convergence;

impl Checker for Convergence {
    fn name(&self) -> &'static str {
        "convergence"
    }

    fn check(&self, _history: &History, state: &FinalState) -> Vec<Violation> {
        let nodes = &state.nodes;
        let mut messages = Vec::new();
        // With no node collected every other checker passes vacuously, so the run must not count as a pass.
        if nodes.is_empty() {
            messages
                .push("the final state holds no nodes, so nothing could be checked".to_string());
        }
        let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
        for node in nodes {
            *seen.entry(node.node_id).or_default() += 1;
        }
        for (node_id, count) in seen.into_iter().filter(|(_, count)| *count > 1) {
            messages.push(format!(
                "node {node_id} appears {count} times in the final state"
            ));
        }
        compare_field(
            nodes,
            "applied_index",
            |node| node.applied_index,
            &mut messages,
        );
        compare_field(nodes, "audit_count", |node| node.audit_count, &mut messages);
        compare_field(
            nodes,
            "audit_head",
            |node| node.audit_head.clone(),
            &mut messages,
        );
        compare_tasks(nodes, &mut messages);
        violations(self.name(), messages)
    }
}

/// The value most nodes hold and which nodes hold it; a tie goes to the earliest node's value, so reports of the
/// same state are stable.
fn majority<T: PartialEq>(values: &[(u64, T)]) -> Option<(&T, Vec<u64>)> {
    let mut best: Option<(&T, Vec<u64>)> = None;
    for (_, candidate) in values {
        let holders: Vec<u64> = values
            .iter()
            .filter(|(_, value)| value == candidate)
            .map(|(id, _)| *id)
            .collect();
        if best
            .as_ref()
            .is_none_or(|(_, best_holders)| holders.len() > best_holders.len())
        {
            best = Some((candidate, holders));
        }
    }
    best
}

fn holders_phrase(holders: &[u64]) -> String {
    match holders {
        [single] => format!("node {single} has"),
        _ => format!("nodes {} have", list(holders)),
    }
}

fn compare_field<T: PartialEq + Display>(
    nodes: &[NodeState],
    field: &str,
    get: impl Fn(&NodeState) -> T,
    messages: &mut Vec<String>,
) {
    let values: Vec<(u64, T)> = nodes.iter().map(|node| (node.node_id, get(node))).collect();
    let Some((reference, holders)) = majority(&values) else {
        return;
    };
    for (node_id, value) in values.iter().filter(|(_, value)| value != reference) {
        messages.push(format!(
            "node {node_id} has {field} {value}, but {} {reference}",
            holders_phrase(&holders)
        ));
    }
}

fn compare_tasks(nodes: &[NodeState], messages: &mut Vec<String>) {
    let values: Vec<(u64, BTreeSet<&str>)> = nodes
        .iter()
        .map(|node| {
            (
                node.node_id,
                node.tasks.iter().map(|task| task.id.as_str()).collect(),
            )
        })
        .collect();
    let Some((reference, holders)) = majority(&values) else {
        return;
    };
    for (node_id, ids) in values.iter().filter(|(_, ids)| ids != reference) {
        let mut differences = Vec::new();
        let missing: Vec<&&str> = reference.difference(ids).collect();
        if !missing.is_empty() {
            differences.push(format!("missing {}", list(missing)));
        }
        let extra: Vec<&&str> = ids.difference(reference).collect();
        if !extra.is_empty() {
            differences.push(format!("extra {}", list(extra)));
        }
        messages.push(format!(
            "node {node_id} holds {} tasks, but {} {}: {}",
            ids.len(),
            holders_phrase(&holders),
            reference.len(),
            differences.join("; ")
        ));
    }
}
