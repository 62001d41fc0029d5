//! Schedules: putting and deleting one (its administrators' and operators' change), and
//! the leader's firings, each accepted once and in due-time order. A firing that runs
//! submits the schedule's task in the same commit, as the schedule's principal, keyed
//! `schedule:<name>:<due time>`, so even a firing proposed twice cannot submit twice.

use super::submit::{StandingTask, create_standing_task};
use super::{At, Decision, StateRead, Write, missing_workspace};
use crate::command::Command;
use crate::ids::IdempotencyKey;
use crate::model::Task;
use crate::outcome::{Code, Outcome, Rejection};
use crate::schedule::{MAX_CRON_BYTES, MAX_SCHEDULES_PER_WORKSPACE, Schedule};

/// Longest input a schedule gives its tasks, in bytes.
pub const MAX_SCHEDULE_INPUT_BYTES: usize = 64 * 1024;

pub(super) fn put<S: StateRead>(
    state: &S,
    at: &At<'_>,
    command: &Command,
) -> Result<Decision, S::Error> {
    let Command::PutSchedule {
        workspace,
        spec,
        expected_version,
    } = command
    else {
        unreachable!("schedule::put is called for PutSchedule only")
    };
    if let Some(rejection) = missing_workspace(state, workspace)? {
        return Ok(Err(rejection));
    }
    let invalid = |message: String| Ok(Err(Rejection::new(Code::InvalidArgument, message)));
    if spec.cron.trim().is_empty() || spec.cron.len() > MAX_CRON_BYTES {
        return invalid(format!("cron: 1 to {MAX_CRON_BYTES} bytes"));
    }
    if spec.timezone.is_empty() || spec.timezone.len() > MAX_CRON_BYTES {
        return invalid(format!("timezone: 1 to {MAX_CRON_BYTES} bytes"));
    }
    if spec.input.len() > MAX_SCHEDULE_INPUT_BYTES {
        return invalid(format!("input: at most {MAX_SCHEDULE_INPUT_BYTES} bytes"));
    }
    if state.agent(workspace, &spec.agent)?.is_none() {
        return Ok(Err(Rejection::new(
            Code::NotFound,
            format!("agent {} not found in workspace {workspace}", spec.agent),
        )));
    }
    if let Ok(as_trigger) = crate::names::TriggerName::parse(spec.name.as_str())
        && state.trigger(workspace, &as_trigger)?.is_some()
    {
        return Ok(Err(Rejection::new(
            Code::AlreadyExists,
            format!(
                "workspace {workspace} has a trigger named {}: a schedule and a trigger act as the same principal trigger/{workspace}/{}, so their names must differ",
                spec.name, spec.name
            ),
        )));
    }
    let current = state.schedule(workspace, &spec.name)?;
    let found = current.as_ref().map_or(0, |schedule| schedule.version);
    if found != *expected_version {
        return Ok(Err(Rejection::new(
            Code::Aborted,
            format!(
                "schedule {} is at version {found}, not {expected_version}",
                spec.name
            ),
        )));
    }
    if current.is_none() && state.schedules(workspace)?.len() >= MAX_SCHEDULES_PER_WORKSPACE {
        return Ok(Err(Rejection::new(
            Code::ResourceExhausted,
            format!("a workspace holds at most {MAX_SCHEDULES_PER_WORKSPACE} schedules"),
        )));
    }
    let schedule = Schedule {
        workspace: workspace.clone(),
        spec: spec.clone(),
        version: found + 1,
        created_ms: current.as_ref().map_or(at.time_ms, |s| s.created_ms),
        updated_ms: at.time_ms,
        updated_by: at.principal.clone(),
        // Due times from now on: a changed schedule does not make up for times before.
        last_due_ms: at.time_ms,
        fired: current.as_ref().map_or(0, |s| s.fired),
        skipped: current.as_ref().map_or(0, |s| s.skipped),
        last_task: current.and_then(|s| s.last_task),
    };
    Ok(Ok((
        Outcome::SchedulePut(schedule.clone()),
        vec![Write::Schedule(schedule)],
    )))
}

pub(super) fn delete<S: StateRead>(state: &S, command: &Command) -> Result<Decision, S::Error> {
    let Command::DeleteSchedule { workspace, name } = command else {
        unreachable!("schedule::delete is called for DeleteSchedule only")
    };
    Ok(match state.schedule(workspace, name)? {
        None => Err(Rejection::new(
            Code::NotFound,
            format!("schedule {name} not found in workspace {workspace}"),
        )),
        Some(schedule) => Ok((
            Outcome::ScheduleDeleted(schedule),
            vec![Write::RemoveSchedule {
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
    let Command::FireSchedule {
        workspace,
        name,
        version,
        due_ms,
        run,
        missed,
        task_id,
    } = command
    else {
        unreachable!("schedule::fire is called for FireSchedule only")
    };
    let precondition = |message: String| Ok(Err(Rejection::new(Code::FailedPrecondition, message)));
    let Some(mut schedule) = state.schedule(workspace, name)? else {
        return Ok(Err(Rejection::new(
            Code::NotFound,
            format!("schedule {name} not found in workspace {workspace}"),
        )));
    };
    if schedule.version != *version {
        return precondition(format!(
            "schedule {name} is at version {}, not {version}: its due times were computed for another spec",
            schedule.version
        ));
    }
    if schedule.spec.paused {
        return precondition(format!("schedule {name} is paused"));
    }
    if *due_ms <= schedule.last_due_ms {
        return precondition(format!(
            "schedule {name} already recorded its firing for {} ms; {due_ms} ms is not after it",
            schedule.last_due_ms
        ));
    }
    if *due_ms > at.time_ms {
        return precondition(format!(
            "schedule {name} is not due until {due_ms} ms (now {} ms)",
            at.time_ms
        ));
    }
    schedule.last_due_ms = *due_ms;
    schedule.skipped = schedule.skipped.saturating_add(*missed);
    let mut writes = Vec::new();
    let mut submitted = None;
    let detail = if *run {
        match submit(state, at, &schedule, *due_ms, *task_id)? {
            Ok((task, task_writes)) => {
                schedule.fired = schedule.fired.saturating_add(1);
                schedule.last_task = Some(task.id);
                writes.extend(task_writes);
                let detail = format!(
                    "fired for {due_ms} ms: task {} for agent {} as {}",
                    task.id,
                    task.agent,
                    schedule.principal()
                );
                submitted = Some(task);
                detail
            }
            // The firing happened; its task was refused, and the next due time comes on.
            Err(refused) => format!("fired for {due_ms} ms: no task: {}", refused.message),
        }
    } else {
        schedule.skipped = schedule.skipped.saturating_add(1);
        format!("skipped the firing for {due_ms} ms (missed while no leader could fire it)")
    };
    let detail = match missed {
        0 => detail,
        n => format!("{detail}; {n} earlier due times skipped"),
    };
    writes.push(Write::Schedule(schedule.clone()));
    Ok(Ok((
        Outcome::ScheduleFired {
            schedule,
            task: submitted,
            detail,
        },
        writes,
    )))
}

/// The task a firing submits, or why it cannot.
fn submit<S: StateRead>(
    state: &S,
    at: &At<'_>,
    schedule: &Schedule,
    due_ms: u64,
    task_id: crate::ids::TaskId,
) -> Result<Result<(Task, Vec<Write>), Rejection>, S::Error> {
    let workspace = &schedule.workspace;
    let spec = &schedule.spec;
    let key_text = format!("schedule:{}:{due_ms}", spec.name);
    let Ok(key) = IdempotencyKey::parse(&key_text) else {
        unreachable!("{key_text} is a valid key: a name of 64 characters and a number")
    };
    if state.idempotency(workspace, &key)?.is_some() {
        return Ok(Err(Rejection::new(
            Code::AlreadyExists,
            format!("a task for {key_text} exists already"),
        )));
    }
    create_standing_task(
        state,
        at,
        StandingTask {
            id: task_id,
            workspace,
            idempotency_key: &key,
            agent: &spec.agent,
            input: &spec.input,
            principal: &schedule.principal(),
            author: &schedule.updated_by,
        },
    )
}
