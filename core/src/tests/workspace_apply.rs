//! A configuration file applied in one command: its changes see the ones before them,
//! are authorized one by one, and commit all or none, only while the workspace's
//! configuration is what the file was compared with.

use super::fixtures::*;
use crate::workspace_config::observed;
use crate::*;

fn agent(name: &str, provider: &str) -> AgentSpec {
    AgentSpec {
        name: AgentName::parse(name).expect("valid"),
        instructions: "help".to_owned(),
        provider: ProviderName::parse(provider).expect("valid"),
        tools: Vec::new(),
        limits: Limits::default(),
        paused: false,
    }
}

fn schedule(name: &str, agent: &str) -> ScheduleSpec {
    ScheduleSpec {
        name: ScheduleName::parse(name).expect("valid"),
        cron: "0 9 * * *".to_owned(),
        timezone: "UTC".to_owned(),
        agent: AgentName::parse(agent).expect("valid"),
        input: "report".to_owned(),
        catch_up: CatchUp::Skip,
        paused: false,
    }
}

fn file(h: &Harness, changes: Vec<Command>) -> Command {
    Command::ApplyWorkspace {
        workspace: ws("acme"),
        expected: observed(&h.state, &ws("acme")).expect("in memory"),
        changes,
    }
}

#[test]
fn changes_see_the_ones_before_them_and_commit_together() {
    let mut h = Harness::new(Limits::default());
    let before = h.state.audit.len();
    let command = file(
        &h,
        vec![
            crate::fixtures::put_provider(&ws("acme"), "second"),
            Command::CreateAgent {
                workspace: ws("acme"),
                spec: agent("writer", "second"),
            },
            Command::PutSchedule {
                workspace: ws("acme"),
                spec: schedule("daily", "writer"),
                expected_version: 0,
            },
            Command::SetBudget {
                workspace: ws("acme"),
                agent: Some(AgentName::parse("writer").expect("valid")),
                tokens: Some(1000),
                tool_calls: None,
                reset: false,
            },
        ],
    );
    let Outcome::WorkspaceApplied { changes, .. } = h.ok(command) else {
        panic!("applied")
    };
    assert_eq!(changes.len(), 4);
    assert!(
        h.state
            .agents
            .contains_key(&(ws("acme"), AgentName::parse("writer").expect("valid")))
    );
    assert_eq!(h.state.schedules.len(), 1);
    // One record for the file, listing its changes.
    assert_eq!(h.state.audit.len(), before + 1);
    let record = h.state.audit.last().expect("a record");
    assert_eq!(record.action, "workspace.apply");
    assert_eq!(record.resource, "workspace/acme");
    assert!(
        record.detail.starts_with("4 changes: provider.put"),
        "{}",
        record.detail
    );
    assert!(
        record
            .detail
            .contains("schedule.put workspace/acme/schedule/daily")
    );
}

#[test]
fn one_refused_change_refuses_the_file_and_changes_nothing() {
    let mut h = Harness::new(Limits::default());
    let state = h.state.clone();
    let command = file(
        &h,
        vec![
            crate::fixtures::put_provider(&ws("acme"), "second"),
            Command::CreateAgent {
                workspace: ws("acme"),
                spec: agent("writer", "missing"),
            },
        ],
    );
    let message = h.refused(command, Code::NotFound);
    assert!(message.starts_with("change 2 (agent.create"), "{message}");
    // Only the refusal's audit record was added.
    let mut expected = state;
    let mut after = h.state.clone();
    after.audit.pop();
    after.head = expected.head.clone();
    after.applied_index = expected.applied_index;
    expected.audit = after.audit.clone();
    assert_eq!(after, expected);
}

#[test]
fn a_file_compared_with_another_configuration_is_refused() {
    let mut h = Harness::new(Limits::default());
    let stale = file(
        &h,
        vec![crate::fixtures::put_provider(&ws("acme"), "second")],
    );
    // Someone changes the configuration after the comparison.
    h.ok(Command::PutSchedule {
        workspace: ws("acme"),
        spec: schedule("daily", "bot"),
        expected_version: 0,
    });
    let message = h.refused(stale, Code::Aborted);
    assert!(message.contains("changed since"), "{message}");
    assert!(
        !h.state
            .providers
            .contains_key(&(ws("acme"), ProviderName::parse("second").expect("valid")))
    );
}

#[test]
fn each_change_is_authorized_as_if_sent_alone_and_only_configuration_may_change() {
    let mut h = Harness::new(Limits::default());
    let operator = h.user("user/olga", &[Role::Operator]);
    // An operator configures, but the policy is its administrators'.
    let command = file(
        &h,
        vec![
            crate::fixtures::put_provider(&ws("acme"), "second"),
            Command::PutPolicy {
                workspace: ws("acme"),
                policy: crate::policy::PolicySet::default(),
                expected_version: 0,
            },
        ],
    );
    let outcome = h.run_as(&operator, command);
    assert!(
        matches!(&outcome, Outcome::Rejected(r) if r.code == Code::PermissionDenied && r.message.starts_with("change 2 (policy.put")),
        "{outcome:?}"
    );
    // Tasks, other workspaces and other files are not configuration of this one.
    for change in [
        submit("acme", 9, "k9", "sneak"),
        crate::fixtures::put_provider(&ws("other"), "second"),
        file(&h, Vec::new()),
    ] {
        let command = file(&h, vec![change]);
        let message = h.refused(command, Code::InvalidArgument);
        assert!(message.contains("change 1"), "{message}");
    }
    assert_eq!(file(&h, Vec::new()).since(), 5);
}
