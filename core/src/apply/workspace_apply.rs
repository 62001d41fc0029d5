//! A workspace's configuration file applied in one command: its changes decided one after
//! another, each on the state the ones before it leave (an overlay), each authorized as
//! if sent alone; all of them or none, and only if the workspace's configuration is still
//! what the node compared the file with.

use super::overlay::{Overlay, reflects};
use super::{At, Decision, StateRead, authz, protocol};
use crate::command::{Command, Request, config_change_allowed};
use crate::outcome::{Code, Outcome, Rejection};
use crate::workspace_config::observed;

/// The most changes one file may make.
pub const MAX_CHANGES: usize = 512;
/// The most of the list of changes an audit record keeps, in bytes.
const MAX_DETAIL: usize = 4096;

pub(super) fn apply<S: StateRead>(
    state: &S,
    at: &At<'_>,
    request: &Request,
) -> Result<(String, Decision), S::Error> {
    let Command::ApplyWorkspace {
        workspace,
        expected,
        changes,
    } = &request.command
    else {
        unreachable!("workspace_apply::apply is called for ApplyWorkspace only")
    };
    let resource = crate::resource::workspace_resource(workspace);
    let refuse =
        |code: Code, message: String| Ok((resource.clone(), Err(Rejection::new(code, message))));
    if let Some(rejection) = super::missing_workspace(state, workspace)? {
        return Ok((resource, Err(rejection)));
    }
    if changes.len() > MAX_CHANGES {
        return refuse(
            Code::InvalidArgument,
            format!(
                "a file makes at most {MAX_CHANGES} changes, not {}",
                changes.len()
            ),
        );
    }
    let found = observed(state, workspace)?;
    if found != *expected {
        return refuse(
            Code::Aborted,
            format!(
                "the configuration of workspace {workspace} changed since the file was compared with it: compare again"
            ),
        );
    }
    let mut overlay = Overlay::new(state);
    let mut done = Vec::with_capacity(changes.len());
    for (number, change) in changes.iter().enumerate() {
        let name = format!(
            "change {} ({} {})",
            number + 1,
            change.action().as_str(),
            super::resource_of(change)
        );
        if !config_change_allowed(change, workspace) {
            return refuse(
                Code::InvalidArgument,
                format!(
                    "{name}: a configuration file changes only workspace {workspace}'s configuration"
                ),
            );
        }
        let alone = Request {
            time_ms: request.time_ms,
            principal: request.principal.clone(),
            token: request.token,
            command: change.clone(),
        };
        let refusal = match authz::refusal(&overlay, &alone, at.time_ms)? {
            Some(rejection) => Some(rejection),
            None => protocol::refusal(&overlay, change)?,
        };
        if let Some(rejection) = refusal {
            return refuse(rejection.code, format!("{name}: {}", rejection.message));
        }
        let (_, decision) = super::decide(&overlay, at, change)?;
        match decision {
            Ok((_, writes)) => {
                if let Some(write) = writes.iter().find(|write| !reflects(write)) {
                    // Only configuration commands pass `config_change_allowed`.
                    return refuse(
                        Code::FailedPrecondition,
                        format!("{name}: wrote {write:?}, which a configuration change does not"),
                    );
                }
                overlay.push(&writes);
                done.push(format!(
                    "{} {}",
                    change.action().as_str(),
                    super::resource_of(change)
                ));
            }
            Err(rejection) => {
                return refuse(rejection.code, format!("{name}: {}", rejection.message));
            }
        }
    }
    let writes = overlay.into_writes();
    let detail = crate::cut_text(
        &format!("{} changes: {}", done.len(), done.join("; ")),
        MAX_DETAIL,
    );
    Ok((
        resource,
        Ok((
            Outcome::WorkspaceApplied {
                workspace: workspace.clone(),
                changes: done,
                detail,
            },
            writes,
        )),
    ))
}
