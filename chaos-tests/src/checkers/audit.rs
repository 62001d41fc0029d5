//! Provable: `audit verify` passed on every node, so each node's hash chain is intact
//! and every checkpoint it stores verifies against it; every node's chain is anchored by
//! at least one valid checkpoint; and after healing, `audit heads` found every node's
//! head in agreement with the others' and with the latest signed checkpoints.

use super::{Checker, Violation};
use crate::history::{FinalState, History};

pub struct Audit;

impl Checker for Audit {
    fn name(&self) -> &'static str {
        "audit"
    }

    fn check(&self, _history: &History, state: &FinalState) -> Vec<Violation> {
        let mut messages = Vec::new();
        for node in &state.nodes {
            let message = match (node.audit_ok, node.audit_problem.is_empty()) {
                (true, true) => None,
                (false, true) => Some(format!(
                    "node {} failed audit verify without naming a problem",
                    node.node_id
                )),
                (false, false) => Some(format!(
                    "node {} failed audit verify: {}",
                    node.node_id, node.audit_problem
                )),
                // A pass that still names a problem means the harness or the verifier is confused; neither can be
                // trusted, so it is reported rather than ignored.
                (true, false) => Some(format!(
                    "node {} passed audit verify but reports a problem: {}",
                    node.node_id, node.audit_problem
                )),
            };
            messages.extend(message);
            if node.checkpoint_covered == 0 {
                messages.push(format!(
                    "node {} stores {} checkpoints, none covering a record: its chain is not anchored",
                    node.node_id, node.checkpoint_count
                ));
            }
        }
        match &state.heads {
            // A state without nodes is the convergence checker's to report.
            None if state.nodes.is_empty() => {}
            None => messages.push("audit heads was not collected".to_owned()),
            Some(heads) => {
                if !heads.agree || !heads.problems.is_empty() {
                    messages.push(format!(
                        "audit heads disagree after healing: {}",
                        heads.problems.join("; ")
                    ));
                }
                if heads.signed == 0 {
                    messages.push("no node signed the final on-demand checkpoint".to_owned());
                }
            }
        }
        messages
            .into_iter()
            .map(|message| Violation {
                checker: self.name(),
                message,
            })
            .collect()
    }
}
