//! Schedules: a firing is accepted once per due time and in order, only from a node, for
//! the spec it was computed for; one that runs submits the task as the schedule's own
//! principal, keyed by the due time; missed due times are counted as skipped.

use super::fixtures::*;
use crate::*;

fn spec(name: &str, paused: bool) -> ScheduleSpec {
    ScheduleSpec {
        name: ScheduleName::parse(name).expect("valid"),
        cron: "0 9 * * MON".to_owned(),
        timezone: "Europe/Paris".to_owned(),
        agent: AgentName::parse("bot").expect("valid"),
        input: "weekly report".to_owned(),
        catch_up: CatchUp::Skip,
        paused,
    }
}

fn put(name: &str, expected_version: u64) -> Command {
    Command::PutSchedule {
        workspace: ws("acme"),
        spec: spec(name, false),
        expected_version,
    }
}

fn fire(due_ms: u64, run: bool, missed: u64, task: u128) -> Command {
    Command::FireSchedule {
        workspace: ws("acme"),
        name: ScheduleName::parse("weekly").expect("valid"),
        version: 1,
        due_ms,
        run,
        missed,
        task_id: TaskId::from_u128(task),
    }
}

fn schedule(h: &Harness) -> Schedule {
    h.state
        .schedules
        .values()
        .next()
        .cloned()
        .expect("a schedule")
}

fn as_node(h: &mut Harness, command: Command) -> Outcome {
    h.time_ms += 10;
    let index = h.state.applied_index + 1;
    h.state.apply(
        index,
        &Request {
            time_ms: h.time_ms,
            principal: Principal::node(NodeId(1)),
            token: None,
            command,
        },
    )
}

#[test]
fn a_firing_runs_once_per_due_time_as_the_schedule_s_principal() {
    let mut h = Harness::new(Limits::default());
    h.ok(put("weekly", 0));
    h.refused(put("weekly", 0), Code::Aborted);
    let created = schedule(&h).last_due_ms;
    // Only nodes fire: not even an administrator of the workspace.
    let admin = h.user("user/ada", &[Role::Admin]);
    let outcome = h.run_as(&admin, fire(created + 1, true, 0, 100));
    assert!(
        matches!(&outcome, Outcome::Rejected(r) if r.code == Code::PermissionDenied && r.message.contains("only nodes")),
        "{outcome:?}"
    );

    let due = created + 5;
    let Outcome::ScheduleFired { task, .. } = as_node(&mut h, fire(due, true, 0, 100)) else {
        panic!("fired")
    };
    let task = task.expect("a task");
    assert_eq!(task.submitted_by.to_string(), "trigger/acme/weekly");
    assert_eq!(
        task.idempotency_key.as_str(),
        format!("schedule:weekly:{due}")
    );
    assert_eq!(task.input, "weekly report");
    assert_eq!(schedule(&h).fired, 1);
    assert_eq!(schedule(&h).last_task, Some(task.id));
    let audit = h.state.audit.last().expect("a record");
    assert_eq!(audit.action, "schedule.fire");
    assert!(
        audit.detail.contains("trigger/acme/weekly"),
        "{}",
        audit.detail
    );

    // The same due time again (a new leader that had not seen the first): refused.
    let again = as_node(&mut h, fire(due, true, 0, 101));
    assert!(
        matches!(&again, Outcome::Rejected(r) if r.code == Code::FailedPrecondition),
        "{again:?}"
    );
    // An earlier one, a future one: refused.
    assert!(matches!(
        as_node(&mut h, fire(due - 1, true, 0, 102)),
        Outcome::Rejected(_)
    ));
    let future = fire(h.time_ms + 60_000, true, 0, 103);
    assert!(matches!(as_node(&mut h, future), Outcome::Rejected(_)));
    let tasks = h
        .state
        .tasks
        .values()
        .filter(|task| task.submitted_by.to_string() == "trigger/acme/weekly")
        .count();
    assert_eq!(tasks, 1);
}

#[test]
fn missed_due_times_are_skipped_or_run_once_and_a_changed_spec_starts_over() {
    let mut h = Harness::new(Limits::default());
    h.ok(put("weekly", 0));
    let created = schedule(&h).last_due_ms;
    let outcome = as_node(&mut h, fire(created + 3, false, 2, 100));
    assert!(
        matches!(outcome, Outcome::ScheduleFired { task: None, .. }),
        "{outcome:?}"
    );
    let after = schedule(&h);
    assert_eq!(
        (after.fired, after.skipped, after.last_due_ms),
        (0, 3, created + 3)
    );
    assert!(
        h.state
            .audit
            .last()
            .expect("a record")
            .detail
            .contains("2 earlier due times skipped")
    );
    let outcome = as_node(&mut h, fire(created + 6, true, 1, 101));
    assert!(
        matches!(outcome, Outcome::ScheduleFired { task: Some(_), .. }),
        "{outcome:?}"
    );
    assert_eq!((schedule(&h).fired, schedule(&h).skipped), (1, 4));

    // A firing computed for version 1 does not apply to version 2, and version 2 fires
    // only for times after its change.
    h.ok(put("weekly", 1));
    let now = h.time_ms;
    let stale = as_node(&mut h, fire(now, true, 0, 102));
    assert!(
        matches!(&stale, Outcome::Rejected(r) if r.message.contains("version 2, not 1")),
        "{stale:?}"
    );
    // Paused: nothing fires.
    h.ok(Command::PutSchedule {
        workspace: ws("acme"),
        spec: spec("weekly", true),
        expected_version: 2,
    });
    let mut paused = fire(h.time_ms, true, 0, 103);
    if let Command::FireSchedule { version, .. } = &mut paused {
        *version = 3;
    }
    let outcome = as_node(&mut h, paused);
    assert!(
        matches!(&outcome, Outcome::Rejected(r) if r.message.contains("paused")),
        "{outcome:?}"
    );
}

#[test]
fn a_schedule_needs_its_agent_and_keeps_it_from_deletion() {
    let mut h = Harness::new(Limits::default());
    let mut missing = spec("weekly", false);
    missing.agent = AgentName::parse("ghost").expect("valid");
    h.refused(
        Command::PutSchedule {
            workspace: ws("acme"),
            spec: missing,
            expected_version: 0,
        },
        Code::NotFound,
    );
    h.ok(put("weekly", 0));
    // The fixture's task 7 is unfinished; cancel it so only the schedule holds the agent.
    h.ok(h.lifecycle("cancel"));
    let message = h.refused(
        Command::DeleteAgent {
            workspace: ws("acme"),
            name: AgentName::parse("bot").expect("valid"),
        },
        Code::FailedPrecondition,
    );
    assert!(message.contains("used by schedules weekly"), "{message}");
    h.ok(Command::DeleteSchedule {
        workspace: ws("acme"),
        name: ScheduleName::parse("weekly").expect("valid"),
    });
    assert!(h.state.schedules.is_empty());
}

#[test]
fn whoever_put_a_schedule_cannot_approve_its_tasks_calls() {
    let mut h = super::approval::governed(1, crate::policy::OnExpiry::Deny);
    let author = h.user("user/olga", &[Role::Operator, Role::Approver]);
    let other = h.user("user/amir", &[Role::Approver]);
    assert!(matches!(
        h.run_as(&author, put("weekly", 0)),
        Outcome::SchedulePut(_)
    ));
    let created = schedule(&h).last_due_ms;
    let Outcome::ScheduleFired { task, .. } = as_node(&mut h, fire(created + 1, true, 0, 100))
    else {
        panic!("fired")
    };
    let task = task.expect("a task").id;
    // The scheduled task asks for a delete, which needs one approval.
    h.ok(Command::AssignTask {
        workspace: ws("acme"),
        task,
        node: NodeId(1),
        epoch: 1,
    });
    h.ok(Command::AppendJournal {
        workspace: ws("acme"),
        task,
        node: NodeId(1),
        epoch: 1,
        step: responded(0, vec![call("c1", "delete", r#"{"key":"a"}"#)], 5),
    });
    let waiting = h
        .state
        .tasks
        .get(&(ws("acme"), task))
        .cloned()
        .expect("task");
    assert_eq!(waiting.status, TaskStatus::WaitingApproval);
    let hash = waiting.open_calls[0].arguments_hash;
    let decide = |approve| Command::DecideApproval {
        workspace: ws("acme"),
        task,
        call_id: "c1".to_owned(),
        arguments_hash: hash,
        approve,
        reason: "ok".to_owned(),
    };
    let outcome = h.run_as(&author, decide(true));
    assert!(
        matches!(&outcome, Outcome::Rejected(r) if r.code == Code::PermissionDenied && r.message.contains("put trigger/acme/weekly")),
        "{outcome:?}"
    );
    assert!(matches!(
        h.run_as(&other, decide(true)),
        Outcome::TaskUpdated { .. }
    ));
}
