//! A workspace's settings: set by its administrators only, audited with their values,
//! removed with the workspace.

use super::fixtures::*;
use crate::*;

#[test]
fn workspace_settings_are_set_by_its_administrators_audited_and_deleted_with_it() {
    let mut h = Harness::new(Limits::default());
    let set = |on: bool| Command::SetWorkspaceSettings {
        workspace: ws("acme"),
        trace_content: on,
    };
    let operator = h.user("user/op", &[Role::Operator]);
    let Outcome::Rejected(rejection) = h.run_as(&operator, set(true)) else {
        panic!("an operator changed the workspace's settings")
    };
    assert_eq!(rejection.code, Code::PermissionDenied, "{rejection}");
    assert!(h.state.settings.is_empty());
    let Outcome::WorkspaceSettingsSet(settings) = h.ok(set(true)) else {
        panic!("the settings were not set")
    };
    assert!(settings.trace_content);
    let record = h.state.audit.last().expect("audited");
    assert_eq!(
        (
            record.action.as_str(),
            record.resource.as_str(),
            record.detail.as_str()
        ),
        (
            "workspace.set_settings",
            "workspace/acme/settings",
            "trace content on"
        )
    );
    let message = h.refused(
        Command::SetWorkspaceSettings {
            workspace: ws("gone"),
            trace_content: true,
        },
        Code::NotFound,
    );
    assert!(message.contains("workspace gone not found"), "{message}");
    h.ok(h.lifecycle("cancel"));
    h.ok(Command::DeleteWorkspace {
        workspace: ws("acme"),
    });
    assert!(
        h.state.settings.is_empty(),
        "the settings went with the workspace"
    );
}
