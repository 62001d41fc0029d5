//! The webhook outbox: for each notable journal event an accepted command wrote, one
//! pending delivery per webhook of the workspace subscribed to it, committed with the
//! event. Ids come from the log index, so every node writes the same deliveries.

use super::{At, StateRead, Write};
use crate::journal::TaskEvent;
use crate::model::{OpenCall, Task};
use crate::webhook::{
    Delivery, DeliveryId, DeliveryState, MAX_NOTICE_REASON, Notice, WebhookEvent,
};

/// The deliveries for the events in `writes`.
pub(super) fn deliveries<S: StateRead>(
    state: &S,
    at: &At<'_>,
    writes: &[Write],
) -> Result<Vec<Write>, S::Error> {
    let mut out = Vec::new();
    let mut seq: u32 = at.first_delivery;
    for write in writes {
        let Write::Journal {
            workspace,
            task: task_id,
            entry,
        } = write
        else {
            continue;
        };
        let Some(event) = notable(&entry.event) else {
            continue;
        };
        let webhooks = state.webhooks(workspace)?;
        if !webhooks.iter().any(|hook| hook.events.contains(&event)) {
            continue;
        }
        // The task as this command leaves it, and as it was (which holds the open call a
        // decision or an expiry is about).
        let before = state.task(workspace, task_id)?;
        let after = writes.iter().rev().find_map(|write| match write {
            Write::Task(task) if task.workspace == *workspace && task.id == *task_id => Some(task),
            _ => None,
        });
        let Some(task) = after.or(before.as_ref()) else {
            continue;
        };
        let notice = notice(event, &entry.event, task, before.as_ref(), at.time_ms);
        for hook in webhooks.iter().filter(|hook| hook.events.contains(&event)) {
            out.push(Write::Delivery(Delivery {
                workspace: workspace.clone(),
                id: DeliveryId {
                    log_index: at.log_index,
                    seq,
                },
                webhook: hook.name.clone(),
                webhook_created: hook.created_index,
                notice: notice.clone(),
                created_ms: at.time_ms,
                state: DeliveryState::Pending {
                    next_attempt_ms: at.time_ms,
                },
                attempts: 0,
                last_attempt_ms: None,
                last_error: None,
            }));
            seq = seq.saturating_add(1);
        }
    }
    Ok(out)
}

/// The webhook event a journal event is, if it is one.
fn notable(event: &TaskEvent) -> Option<WebhookEvent> {
    match event {
        TaskEvent::ApprovalRequested { .. } => Some(WebhookEvent::ApprovalRequested),
        // One approval of several is no decision yet; a denial is one.
        TaskEvent::ApprovalDecided {
            approved, granted, ..
        } if *granted || !*approved => Some(WebhookEvent::ApprovalDecided),
        TaskEvent::ApprovalExpired { .. } => Some(WebhookEvent::ApprovalExpired),
        TaskEvent::NeedsAttention { .. } => Some(WebhookEvent::TaskNeedsAttention),
        TaskEvent::Failed { .. } | TaskEvent::TimedOut { .. } => Some(WebhookEvent::TaskFailed),
        TaskEvent::QuestionAsked { .. } => Some(WebhookEvent::QuestionAsked),
        _ => None,
    }
}

fn notice(
    kind: WebhookEvent,
    event: &TaskEvent,
    task: &Task,
    before: Option<&Task>,
    time_ms: u64,
) -> Notice {
    let mut notice = Notice::new(
        kind,
        time_ms,
        task.id,
        task.agent.clone(),
        task.status.as_str(),
    );
    let call_of = |call_id: &str| -> Option<OpenCall> {
        before
            .into_iter()
            .chain(std::iter::once(task))
            .flat_map(|task| task.open_calls.iter())
            .find(|call| call.call_id == call_id)
            .cloned()
    };
    let describe_call = |notice: &mut Notice, call_id: &str| {
        notice.call_id = Some(call_id.to_owned());
        if let Some(call) = call_of(call_id) {
            notice.server = Some(call.server.clone());
            notice.tool = Some(call.tool.clone());
            notice.arguments_hash = Some(call.arguments_hash);
            if let Some(approval) = call.approval.as_ref().or(call.granted.as_ref()) {
                notice.rule = Some(approval.rule.to_string());
                notice.expires_at_ms = Some(approval.expires_at_ms);
            }
        }
    };
    match event {
        TaskEvent::ApprovalRequested {
            call_id,
            server,
            tool,
            arguments_hash,
            rule,
            expires_at_ms,
            ..
        } => {
            notice.call_id = Some(call_id.clone());
            notice.server = Some(server.clone());
            notice.tool = Some(tool.clone());
            notice.arguments_hash = Some(*arguments_hash);
            notice.rule = Some(rule.clone());
            notice.expires_at_ms = Some(*expires_at_ms);
        }
        TaskEvent::ApprovalDecided {
            call_id,
            by,
            granted,
            reason,
            ..
        } => {
            describe_call(&mut notice, call_id);
            notice.approved = Some(*granted);
            notice.by = Some(by.clone());
            notice.reason = Some(reason.clone());
        }
        TaskEvent::ApprovalExpired { call_id, .. } => describe_call(&mut notice, call_id),
        TaskEvent::NeedsAttention { call_id, reason } => {
            describe_call(&mut notice, call_id);
            notice.reason = Some(reason.clone());
        }
        // The question itself stays in Warden: the notice links to the task's page.
        TaskEvent::QuestionAsked {
            call_id,
            expires_at_ms,
            ..
        } => {
            describe_call(&mut notice, call_id);
            notice.expires_at_ms = Some(*expires_at_ms);
        }
        TaskEvent::Failed { reason } => notice.reason = Some(reason.clone()),
        TaskEvent::TimedOut { .. } => notice.reason = Some("the deadline passed".to_owned()),
        _ => {}
    }
    notice.reason = notice
        .reason
        .map(|reason| crate::cut_text(&reason, MAX_NOTICE_REASON));
    notice
}
