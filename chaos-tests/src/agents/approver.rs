//! The approver: polls the workspace's pending approvals and decides each one as the
//! task's key asks (`ask-yes` granted, `ask-no` refused), recording every decision with
//! its outcome. A decision whose outcome is unknown is sent again on the next poll; the
//! server refuses a second decision by the same approver, so a resend never counts twice.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::task::JoinSet;
use warden_client::Client;

use super::Decisions;
use crate::history::{Decision, Outcome};
use crate::workload::{Recorder, classify};

const POLL: Duration = Duration::from_millis(200);

/// Decides approvals in `workspace` until `stop` is set.
pub fn approve_until(
    tasks: &mut JoinSet<()>,
    approver: Client,
    recorder: &Recorder,
    workspace: &str,
    decisions: Decisions,
    stop: Arc<AtomicBool>,
) {
    let recorder = recorder.clone();
    let workspace = workspace.to_owned();
    tasks.spawn(async move {
        // (task, call) pairs with a definite answer: decided, or refused by the server.
        let mut settled = BTreeSet::new();
        while !stop.load(Ordering::Relaxed) {
            // A failed listing is retried on the next poll: faults make some fail.
            let pending = match approver.list_approvals(&workspace).await {
                Ok(pending) => pending,
                Err(error) => {
                    tracing::warn!(%error, "listing the pending approvals");
                    Vec::new()
                }
            };
            for approval in pending {
                let call = (approval.task_id.clone(), approval.call_id.clone());
                if settled.contains(&call) {
                    continue;
                }
                let approve = approval.arguments.contains("-ask-yes#");
                let start_ms = recorder.now_ms();
                let result = approver
                    .decide_approval(
                        &workspace,
                        &approval.task_id,
                        &approval.call_id,
                        &approval.arguments_hash,
                        approve,
                        "decided by the chaos approver",
                    )
                    .await;
                let outcome = match result {
                    Ok(task) => Outcome::Ok {
                        task_id: task.id,
                        deduplicated: false,
                    },
                    Err(error) => classify(&error),
                };
                if !matches!(outcome, Outcome::Unknown { .. }) {
                    settled.insert(call);
                }
                decisions.lock().await.push(Decision {
                    start_ms,
                    end_ms: recorder.now_ms(),
                    task_id: approval.task_id,
                    call_id: approval.call_id,
                    arguments_hash: approval.arguments_hash,
                    approve,
                    outcome,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    });
}
