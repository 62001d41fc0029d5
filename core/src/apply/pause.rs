//! The kill switch: pausing and resuming a workspace, an agent or a tool, and the
//! pauses that hold for one task's steps ([`Brakes`]).

use super::approval::MAX_REASON_BYTES;
use super::{At, Decision, StateRead, Write, missing_workspace};
use crate::builtin::Builtin;
use crate::command::Command;
use crate::config::Agent;
use crate::ids::WorkspaceId;
use crate::model::Task;
use crate::names::{ServerName, ToolName};
use crate::outcome::{Code, Outcome, Rejection};
use crate::switches::{Pause, PauseTarget, Switches, ToolPause};

pub(super) fn set_pause<S: StateRead>(
    state: &S,
    at: &At<'_>,
    command: &Command,
) -> Result<Decision, S::Error> {
    let Command::SetPause {
        workspace,
        target,
        paused,
        reason,
    } = command
    else {
        unreachable!("set_pause is called for SetPause only")
    };
    if let Some(rejection) = missing_workspace(state, workspace)? {
        return Ok(Err(rejection));
    }
    if reason.len() > MAX_REASON_BYTES {
        return Ok(Err(Rejection::new(
            Code::InvalidArgument,
            format!("reason: at most {MAX_REASON_BYTES} bytes"),
        )));
    }
    if *paused && reason.trim().is_empty() {
        return Ok(Err(Rejection::new(
            Code::InvalidArgument,
            "reason: say why it is paused",
        )));
    }
    let pause = Pause {
        by: at.principal.clone(),
        reason: reason.clone(),
        since_ms: at.time_ms,
    };
    let not_paused = || {
        Ok(Err(Rejection::new(
            Code::FailedPrecondition,
            format!("{target} of workspace {workspace} is not paused"),
        )))
    };
    let write = match target {
        PauseTarget::Agent(name) => {
            let Some(mut agent) = state.agent(workspace, name)? else {
                return Ok(Err(Rejection::new(
                    Code::NotFound,
                    format!("agent {name} not found in workspace {workspace}"),
                )));
            };
            if !paused && !agent.spec.paused {
                return not_paused();
            }
            agent.spec.paused = *paused;
            agent.version += 1;
            agent.updated_ms = at.time_ms;
            Write::Agent(agent)
        }
        PauseTarget::Workspace => {
            let mut switches = state
                .switches(workspace)?
                .unwrap_or_else(|| Switches::new(workspace.clone()));
            match (&switches.paused, paused) {
                (None, false) => return not_paused(),
                // Pausing again keeps the time of the first pause.
                (Some(earlier), true) => {
                    switches.paused = Some(Pause {
                        since_ms: earlier.since_ms,
                        ..pause
                    });
                }
                (None, true) => switches.paused = Some(pause),
                (Some(_), false) => switches.paused = None,
            }
            switches_write(switches)
        }
        PauseTarget::Tool { server, tool } => {
            let mut switches = state
                .switches(workspace)?
                .unwrap_or_else(|| Switches::new(workspace.clone()));
            let position = switches
                .tools
                .iter()
                .position(|paused| &paused.server == server && &paused.tool == tool);
            match (position, paused) {
                (None, false) => return not_paused(),
                (Some(position), false) => {
                    switches.tools.remove(position);
                }
                (Some(position), true) => {
                    let earlier = &mut switches.tools[position].pause;
                    *earlier = Pause {
                        since_ms: earlier.since_ms,
                        ..pause
                    };
                }
                (None, true) => {
                    let registered = state.mcp_server(workspace, server)?;
                    let pinned = registered
                        .as_ref()
                        .is_some_and(|registered| registered.tool(tool).is_some());
                    let builtin = Builtin::in_workspace(
                        state.cluster_protocol()?,
                        registered.is_some(),
                        server,
                        tool,
                    )
                    .is_some_and(|builtin| builtin.is_ok());
                    if !pinned && !builtin {
                        return Ok(Err(Rejection::new(
                            Code::NotFound,
                            format!(
                                "{server}/{tool} is not a pinned tool of workspace {workspace}"
                            ),
                        )));
                    }
                    switches.tools.push(ToolPause {
                        server: server.clone(),
                        tool: tool.clone(),
                        pause,
                    });
                }
            }
            switches_write(switches)
        }
    };
    let outcome = Outcome::PauseSet {
        workspace: workspace.clone(),
        target: target.clone(),
        paused: *paused,
        reason: reason.clone(),
    };
    Ok(Ok((outcome, vec![write])))
}

fn switches_write(switches: Switches) -> Write {
    if switches.is_empty() {
        Write::RemoveSwitches(switches.workspace)
    } else {
        Write::Switches(switches)
    }
}

/// The audit detail of an accepted `SetPause`: what was paused or resumed, and why.
pub(super) fn detail(
    workspace: &WorkspaceId,
    target: &PauseTarget,
    paused: bool,
    reason: &str,
) -> String {
    let verb = if paused { "paused" } else { "resumed" };
    let what = match target {
        PauseTarget::Workspace => format!("workspace {workspace}"),
        other => format!("{other} of workspace {workspace}"),
    };
    if reason.is_empty() {
        format!("{verb} {what}")
    } else {
        format!("{verb} {what}: {reason}")
    }
}

/// The pauses that hold for one task's steps: its workspace's and its agent's, which
/// stop the task, and its workspace's paused tools, whose calls are denied.
pub(super) struct Brakes {
    halt: Option<String>,
    switches: Option<Switches>,
}

impl Brakes {
    pub(super) fn read<S: StateRead>(
        state: &S,
        workspace: &WorkspaceId,
        agent: Option<&Agent>,
    ) -> Result<Brakes, S::Error> {
        let switches = state.switches(workspace)?;
        let halt = switches
            .as_ref()
            .and_then(Switches::workspace_halt)
            .or_else(|| {
                agent
                    .filter(|agent| agent.spec.paused)
                    .map(|agent| format!("agent {} is paused", agent.spec.name))
            });
        Ok(Brakes { halt, switches })
    }

    /// Why the task may take no step, while its workspace or its agent is paused.
    pub(super) fn halt(&self) -> Option<&str> {
        self.halt.as_deref()
    }

    /// The refusal of a step of `task` while it is halted.
    pub(super) fn refusal(&self, task: &Task) -> Option<Rejection> {
        self.halt().map(|halt| {
            Rejection::new(
                Code::FailedPrecondition,
                format!("{halt}; task {} takes no step until it is resumed", task.id),
            )
        })
    }

    /// The denial of a call to `server/tool`, while that tool is paused.
    pub(super) fn tool_denial(&self, server: &ServerName, tool: &ToolName) -> Option<String> {
        self.switches
            .as_ref()
            .and_then(|switches| switches.tool_denial(server, tool))
    }
}
