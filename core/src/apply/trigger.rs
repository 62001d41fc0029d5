//! Webhook triggers: putting and deleting one (a configuration change), and a node's
//! report of a signed request to one, accepted once per request key. An accepted request
//! submits the trigger's task in the same commit, as the trigger's principal, keyed
//! `trigger:<name>:<request key>`, so a replayed request cannot submit twice.

use super::config::{adopt_workspace_key, existing_workspace, invalid};
use super::submit::{StandingTask, create_standing_task, submission_hash};
use super::{At, Decision, StateRead, Write};
use crate::command::Command;
use crate::model::IdempotencyRecord;
use crate::names::{ScheduleName, TriggerName};
use crate::outcome::{Code, Outcome, Rejection};
use crate::trigger::request_key;
use crate::trigger::{
    BODY_PLACEHOLDER, MAX_TRIGGER_BODY_BYTES, MAX_TRIGGER_INPUT_BYTES, MAX_TRIGGERS_PER_WORKSPACE,
    REPLAY_WINDOW_MS, Trigger,
};

/// Longest request key a firing may name, in bytes.
pub const MAX_TRIGGER_KEY_BYTES: usize = 128;

pub(super) fn put<S: StateRead>(
    state: &S,
    at: &At<'_>,
    command: &Command,
) -> Result<Decision, S::Error> {
    let Command::PutTrigger {
        workspace,
        spec,
        secret,
        expected_version,
        workspace_key,
    } = command
    else {
        unreachable!("trigger::put is called for PutTrigger only")
    };
    let record = match existing_workspace(state, workspace)? {
        Ok(record) => record,
        Err(rejection) => return Ok(Err(rejection)),
    };
    if spec.input.len() > MAX_TRIGGER_INPUT_BYTES {
        return Ok(Err(invalid(format!(
            "input: at most {MAX_TRIGGER_INPUT_BYTES} bytes"
        ))));
    }
    if spec.input.matches(BODY_PLACEHOLDER).count() > 1 {
        return Ok(Err(invalid(format!(
            "input: {BODY_PLACEHOLDER} may appear once"
        ))));
    }
    if state.agent(workspace, &spec.agent)?.is_none() {
        return Ok(Err(Rejection::new(
            Code::NotFound,
            format!("agent {} not found in workspace {workspace}", spec.agent),
        )));
    }
    if let Some(rejection) = name_taken_by_schedule(state, workspace, &spec.name)? {
        return Ok(Err(rejection));
    }
    let current = state.trigger(workspace, &spec.name)?;
    let found = current.as_ref().map_or(0, |trigger| trigger.version);
    if found != *expected_version {
        return Ok(Err(Rejection::new(
            Code::Aborted,
            format!(
                "trigger {} is at version {found}, not {expected_version}",
                spec.name
            ),
        )));
    }
    if current.is_none() && state.triggers(workspace)?.len() >= MAX_TRIGGERS_PER_WORKSPACE {
        return Ok(Err(Rejection::new(
            Code::ResourceExhausted,
            format!("a workspace holds at most {MAX_TRIGGERS_PER_WORKSPACE} triggers"),
        )));
    }
    let secret = match (secret, &current) {
        (Some(sealed), _) => sealed.clone(),
        (None, Some(earlier)) => earlier.secret.clone(),
        (None, None) => {
            return Ok(Err(invalid(format!(
                "trigger {} is new and needs a secret",
                spec.name
            ))));
        }
    };
    let keyed = match adopt_workspace_key(&record, workspace_key.as_ref(), true) {
        Ok(keyed) => keyed,
        Err(rejection) => return Ok(Err(rejection)),
    };
    let trigger = Trigger {
        workspace: workspace.clone(),
        spec: spec.clone(),
        secret,
        version: found + 1,
        created_ms: current.as_ref().map_or(at.time_ms, |t| t.created_ms),
        updated_ms: at.time_ms,
        updated_by: at.principal.clone(),
        fired: current.as_ref().map_or(0, |t| t.fired),
        last_fired_ms: current.as_ref().and_then(|t| t.last_fired_ms),
        last_task: current.and_then(|t| t.last_task),
    };
    let mut writes: Vec<Write> = keyed.into_iter().map(Write::Workspace).collect();
    writes.push(Write::Trigger(trigger.clone()));
    Ok(Ok((Outcome::TriggerPut(trigger), writes)))
}

/// The refusal of a trigger named like one of the workspace's schedules: both act as
/// `trigger/<workspace>/<name>`, so policy and audit could not tell them apart.
fn name_taken_by_schedule<S: StateRead>(
    state: &S,
    workspace: &crate::ids::WorkspaceId,
    name: &TriggerName,
) -> Result<Option<Rejection>, S::Error> {
    let Ok(as_schedule) = ScheduleName::parse(name.as_str()) else {
        return Ok(None);
    };
    Ok(state.schedule(workspace, &as_schedule)?.map(|_| {
        Rejection::new(
            Code::AlreadyExists,
            format!(
                "workspace {workspace} has a schedule named {name}: a trigger and a schedule act as the same principal trigger/{workspace}/{name}, so their names must differ"
            ),
        )
    }))
}

pub(super) fn delete<S: StateRead>(state: &S, command: &Command) -> Result<Decision, S::Error> {
    let Command::DeleteTrigger { workspace, name } = command else {
        unreachable!("trigger::delete is called for DeleteTrigger only")
    };
    Ok(match state.trigger(workspace, name)? {
        None => Err(Rejection::new(
            Code::NotFound,
            format!("trigger {name} not found in workspace {workspace}"),
        )),
        Some(trigger) => Ok((
            Outcome::TriggerDeleted(trigger),
            vec![Write::RemoveTrigger {
                workspace: workspace.clone(),
                name: name.clone(),
            }],
        )),
    })
}

pub(super) fn fire<S: StateRead>(
    state: &S,
    at: &At<'_>,
    command: &Command,
) -> Result<Decision, S::Error> {
    let Command::FireTrigger {
        workspace,
        name,
        secret,
        signature,
        key,
        signed_ms,
        body,
        task_id,
    } = command
    else {
        unreachable!("trigger::fire is called for FireTrigger only")
    };
    let precondition = |message: String| Ok(Err(Rejection::new(Code::FailedPrecondition, message)));
    let Some(mut trigger) = state.trigger(workspace, name)? else {
        return Ok(Err(Rejection::new(
            Code::NotFound,
            format!("trigger {name} not found in workspace {workspace}"),
        )));
    };
    if trigger.secret_hash() != *secret {
        return precondition(format!(
            "trigger {name} holds another secret than the one the request was verified with (replaced, or deleted and created again)"
        ));
    }
    if trigger.spec.paused {
        return precondition(format!("trigger {name} is paused"));
    }
    if signature.is_empty() || signature.len() > MAX_TRIGGER_KEY_BYTES {
        return Ok(Err(invalid(format!(
            "signature: 1 to {MAX_TRIGGER_KEY_BYTES} bytes"
        ))));
    }
    if key
        .as_ref()
        .is_some_and(|key| key.is_empty() || key.len() > MAX_TRIGGER_KEY_BYTES)
    {
        return Ok(Err(invalid(format!(
            "key: 1 to {MAX_TRIGGER_KEY_BYTES} bytes"
        ))));
    }
    if body.len() > MAX_TRIGGER_BODY_BYTES {
        return Ok(Err(invalid(format!(
            "body: at most {MAX_TRIGGER_BODY_BYTES} bytes"
        ))));
    }
    // The node checked the request's age against its clock; the log's clock checks it
    // again, so a request held back past the window is refused whoever proposes it.
    if at.time_ms.abs_diff(*signed_ms) > REPLAY_WINDOW_MS {
        return Ok(Err(Rejection::new(
            Code::FailedPrecondition,
            format!(
                "the request was signed at {signed_ms} ms, more than {} s from {} ms",
                REPLAY_WINDOW_MS / 1000,
                at.time_ms
            ),
        )));
    }
    // A request is found by its signature, which only the secret's holder can make, and
    // by the key its sender named it with, so neither a replay under a new key nor a
    // retry signed anew submits twice.
    let by_signature = request_key(name, "signature", signature);
    let by_key = key.as_deref().map(|key| request_key(name, "key", key));
    for found in std::iter::once(&by_signature).chain(by_key.as_ref()) {
        if let Some(earlier) = state.idempotency(workspace, found)? {
            return Ok(Err(Rejection::new(
                Code::AlreadyExists,
                format!(
                    "trigger {name} accepted this request already: task {}",
                    earlier.task_id
                ),
            )));
        }
    }
    let principal = trigger.principal();
    let input = trigger.spec.task_input(body);
    let (task, mut writes) = match create_standing_task(
        state,
        at,
        StandingTask {
            id: *task_id,
            workspace,
            idempotency_key: &by_signature,
            agent: &trigger.spec.agent,
            input: &input,
            principal: &principal,
            author: &trigger.updated_by,
        },
    )? {
        Ok(created) => created,
        Err(rejection) => return Ok(Err(rejection)),
    };
    if let Some(by_key) = by_key {
        writes.push(Write::Idempotency {
            workspace: workspace.clone(),
            key: by_key,
            record: IdempotencyRecord {
                task_id: task.id,
                payload_hash: submission_hash(task.agent.as_str(), &input),
            },
        });
    }
    trigger.fired = trigger.fired.saturating_add(1);
    trigger.last_fired_ms = Some(at.time_ms);
    trigger.last_task = Some(task.id);
    writes.push(Write::Trigger(trigger.clone()));
    let detail = format!(
        "request signed at {signed_ms} ms, {} bytes: task {} for agent {} as {principal}",
        body.len(),
        task.id,
        task.agent
    );
    Ok(Ok((
        Outcome::TriggerFired {
            trigger,
            task,
            detail,
        },
        writes,
    )))
}
