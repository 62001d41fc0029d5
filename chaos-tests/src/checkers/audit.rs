//! Provable: `audit verify` passed on every node, so each node's hash chain is intact.

use super::{Checker, Violation};
use crate::history::{FinalState, History};

pub struct Audit;

impl Checker for Audit {
    fn name(&self) -> &'static str {
        "audit"
    }

    fn check(&self, _history: &History, state: &FinalState) -> Vec<Violation> {
        let mut violations = Vec::new();
        for node in &state.nodes {
            let message = match (node.audit_ok, node.audit_problem.is_empty()) {
                (true, true) => continue,
                (false, true) => format!(
                    "node {} failed audit verify without naming a problem",
                    node.node_id
                ),
                (false, false) => format!(
                    "node {} failed audit verify: {}",
                    node.node_id, node.audit_problem
                ),
                // A pass that still names a problem means the harness or the verifier is confused; neither can be
                // trusted, so it is reported rather than ignored.
                (true, false) => format!(
                    "node {} passed audit verify but reports a problem: {}",
                    node.node_id, node.audit_problem
                ),
            };
            violations.push(Violation {
                checker: self.name(),
                message,
            });
        }
        violations
    }
}
