//! Deciding one tool call. The agent must hold a grant for a tool its server pinned and
//! offers unchanged, the tool must not be paused, the arguments must be a JSON object,
//! and then the workspace's policy decides (deny by default). A call is decided when the
//! model asks for it and again when it starts (see `call_start`); each decision names
//! the version of the policy it was made under.

use super::pause::Brakes;
use super::policy::{PolicyCall, evaluate};
use super::{At, StateRead};
use crate::builtin::{AskHuman, Builtin, MAX_DELEGATION_DEPTH, delegated_input};
use crate::config::Agent;
use crate::hash::Hash;
use crate::ids::{Principal, WorkspaceId};
use crate::journal::{CallDecision, RequestedCall, tool_arguments};
use crate::model::{OpenCall, PendingApproval, Task};
use crate::names::{AgentName, ServerName, ToolName};
use crate::policy::ApprovalRequirement;
use crate::policy::{Effect, PolicySet};

/// A requested call's decision and, unless denied, the open call it becomes.
pub(super) struct Verdict {
    pub(super) decision: CallDecision,
    pub(super) open: Option<OpenCall>,
    /// The version of the workspace's policy in force (0: the workspace has none).
    pub(super) policy_version: u64,
}

/// The call being decided: its server and tool resolved from the model's function name.
pub(super) struct CallTarget<'a> {
    pub(super) call_id: &'a str,
    pub(super) server: &'a ServerName,
    pub(super) tool: &'a ToolName,
    /// Canonical JSON text.
    pub(super) arguments: &'a str,
}

/// Whose call it is: a task's agent, in its workspace, for the task's submitter.
pub struct Subject<'a> {
    pub workspace: &'a WorkspaceId,
    pub agent: &'a AgentName,
    pub submitter: &'a Principal,
}

impl<'a> Subject<'a> {
    pub(super) fn of(task: &'a Task) -> Subject<'a> {
        Subject {
            workspace: &task.workspace,
            agent: &task.agent,
            submitter: &task.submitted_by,
        }
    }
}

/// What a task's decisions read besides the call itself.
pub(super) struct Decider<'a, S> {
    pub(super) state: &'a S,
    pub(super) at: &'a At<'a>,
    pub(super) subject: Subject<'a>,
    pub(super) agent: Option<&'a Agent>,
    pub(super) brakes: &'a Brakes,
    /// The agents of the tasks above this one (delegation), the first one's first.
    pub(super) lineage: &'a [AgentName],
    /// The protocol the cluster runs, which says whether the built-in tools exist.
    pub(super) protocol: u32,
}

impl<S: StateRead> Decider<'_, S> {
    /// Decides a call as the model asked for it.
    pub(super) fn requested(&self, call: &RequestedCall) -> Result<Verdict, S::Error> {
        match (&call.server, &call.tool) {
            (Some(server), Some(tool)) => self.decide(&CallTarget {
                call_id: &call.call_id,
                server,
                tool,
                arguments: &call.arguments,
            }),
            _ => Ok(Verdict {
                decision: denied(
                    None,
                    format!("{} is not a tool this agent knows", call.function),
                ),
                open: None,
                policy_version: self.policy()?.1,
            }),
        }
    }

    /// Decides `call` against the grants, pins, pauses and policy in force now.
    pub(super) fn decide(&self, call: &CallTarget<'_>) -> Result<Verdict, S::Error> {
        let (policy, policy_version) = self.policy()?;
        let (decision, open) = match self.checks(call)? {
            Err(reason) => (denied(None, reason), None),
            Ok(checked) => self.by_policy(&policy, call, checked)?,
        };
        Ok(Verdict {
            decision,
            open: open.map(|mut open| {
                open.policy_version = policy_version;
                open
            }),
            policy_version,
        })
    }

    fn policy(&self) -> Result<(PolicySet, u64), S::Error> {
        Ok(self.state.policy(self.subject.workspace)?.map_or_else(
            || (PolicySet::default(), 0),
            |stored| (stored.policy, stored.version),
        ))
    }

    /// The checks before policy: a grant, a pinned and undrifted tool, no pause on it,
    /// object arguments. `Err` is the reason for a denial.
    fn checks(&self, call: &CallTarget<'_>) -> Result<Result<Checked, String>, S::Error> {
        let (server_name, tool_name) = (call.server, call.tool);
        let Some(agent) = self.agent else {
            return Ok(Err("the task's agent no longer exists".to_owned()));
        };
        let Some(grant) = agent.grant(server_name, tool_name) else {
            return Ok(Err(format!(
                "agent {} has no grant for {server_name}/{tool_name}",
                agent.spec.name
            )));
        };
        if let Some(builtin) = self.builtin(server_name, tool_name)? {
            return self.builtin_checks(builtin, call);
        }
        let Some(server) = self.state.mcp_server(self.subject.workspace, server_name)? else {
            return Ok(Err(format!("mcp server {server_name} is not registered")));
        };
        let Some(tool) = server.tool(tool_name) else {
            return Ok(Err(format!(
                "{server_name}/{tool_name} is not a pinned tool"
            )));
        };
        if let Some(offered) = server.drift(tool_name) {
            return Ok(Err(format!(
                "{server_name}/{tool_name} is blocked: its server offered a definition ({offered}) other than the pinned one; an admin must re-pin it"
            )));
        }
        if let Some(denial) = self.brakes.tool_denial(server_name, tool_name) {
            return Ok(Err(denial));
        }
        let arguments = match tool_arguments(call.arguments) {
            Ok(map) => serde_json::Value::Object(map),
            Err(problem) => return Ok(Err(problem.to_owned())),
        };
        // The grant says, or else the tool's annotations where the pin trusts them: an
        // untrusted server could call a destructive tool read-only to have it retried.
        let retry_safe = grant
            .retry_safe
            .unwrap_or(server.trust_annotations && (tool.read_only || tool.idempotent));
        Ok(Ok(Checked {
            arguments,
            retry_safe,
        }))
    }

    /// The built-in tool `server/tool` names in this workspace, if it names one.
    pub(super) fn builtin(
        &self,
        server: &ServerName,
        tool: &ToolName,
    ) -> Result<Option<Result<Builtin, String>>, S::Error> {
        if !Builtin::is_reserved(server) {
            return Ok(None);
        }
        let registered = self
            .state
            .mcp_server(self.subject.workspace, server)?
            .is_some();
        Ok(Builtin::in_workspace(
            self.protocol,
            registered,
            server,
            tool,
        ))
    }

    /// The checks of a call to a built-in tool: a real built-in, no pause on it, its
    /// arguments, and for a delegation an existing callee that closes no cycle and stays
    /// within the depth limit.
    fn builtin_checks(
        &self,
        builtin: Result<Builtin, String>,
        call: &CallTarget<'_>,
    ) -> Result<Result<Checked, String>, S::Error> {
        let builtin = match builtin {
            Ok(builtin) => builtin,
            Err(why) => return Ok(Err(why)),
        };
        if let Some(denial) = self.brakes.tool_denial(call.server, call.tool) {
            return Ok(Err(denial));
        }
        let checked = match &builtin {
            Builtin::AskHuman => AskHuman::parse(call.arguments).map(|_| ()),
            Builtin::Agent(callee) => match self.delegation_refusal(callee)? {
                Some(why) => Err(why),
                None => delegated_input(call.arguments).map(|_| ()),
            },
        };
        if let Err(why) = checked {
            return Ok(Err(why));
        }
        let arguments = match tool_arguments(call.arguments) {
            Ok(map) => serde_json::Value::Object(map),
            Err(problem) => return Ok(Err(problem.to_owned())),
        };
        Ok(Ok(Checked {
            arguments,
            retry_safe: false,
        }))
    }

    /// Why this task may not hand work to `callee`, if it may not.
    fn delegation_refusal(&self, callee: &AgentName) -> Result<Option<String>, S::Error> {
        let caller = self.subject.agent;
        if self.state.agent(self.subject.workspace, callee)?.is_none() {
            return Ok(Some(format!(
                "agent {callee} not found in workspace {}",
                self.subject.workspace
            )));
        }
        let chain = || {
            let mut names: Vec<&str> = self.lineage.iter().map(AgentName::as_str).collect();
            names.push(caller.as_str());
            names.push(callee.as_str());
            names.join(" -> ")
        };
        if callee == caller || self.lineage.contains(callee) {
            return Ok(Some(format!(
                "delegation cycle: {}; an agent may not hand work to itself or to an agent above it",
                chain()
            )));
        }
        if self.lineage.len() + 1 >= MAX_DELEGATION_DEPTH {
            return Ok(Some(format!(
                "delegation too deep: {} would be {} tasks deep, and at most {MAX_DELEGATION_DEPTH} are allowed",
                chain(),
                self.lineage.len() + 2
            )));
        }
        Ok(None)
    }

    fn by_policy(
        &self,
        policy: &PolicySet,
        call: &CallTarget<'_>,
        checked: Checked,
    ) -> Result<(CallDecision, Option<OpenCall>), S::Error> {
        let decided = evaluate(
            self.state,
            policy,
            &PolicyCall {
                workspace: self.subject.workspace,
                agent: self.subject.agent,
                submitter: self.subject.submitter,
                server: call.server,
                tool: call.tool,
                arguments: &checked.arguments,
            },
        )?;
        let open = |approval| OpenCall {
            call_id: call.call_id.to_owned(),
            server: call.server.clone(),
            tool: call.tool.clone(),
            arguments: call.arguments.to_owned(),
            arguments_hash: Hash::of(call.arguments.as_bytes()),
            retry_safe: checked.retry_safe,
            attempts: 0,
            retry_approved: false,
            approval,
            granted: None,
            policy_version: 0,
        };
        Ok(match (decided.effect, decided.rule) {
            (Effect::Allow, Some(rule)) => (
                CallDecision::Allowed {
                    rule: rule.as_str().to_owned(),
                    reason: decided.reason,
                },
                Some(open(None)),
            ),
            (Effect::RequireApproval(requirement), Some(rule)) => {
                let expires_at_ms = self.at.time_ms.saturating_add(requirement.expiry_ms);
                let approval = PendingApproval {
                    rule: rule.clone(),
                    requirement,
                    requested_ms: self.at.time_ms,
                    expires_at_ms,
                    votes: Vec::new(),
                };
                (
                    CallDecision::ApprovalRequired {
                        rule: rule.as_str().to_owned(),
                        reason: decided.reason,
                        expires_at_ms,
                    },
                    Some(open(Some(approval))),
                )
            }
            (_, rule) => (
                denied(rule.map(|rule| rule.as_str().to_owned()), decided.reason),
                None,
            ),
        })
    }
}

/// What the checks before policy found out about an allowed-so-far call.
struct Checked {
    arguments: serde_json::Value,
    retry_safe: bool,
}

fn denied(rule: Option<String>, reason: String) -> CallDecision {
    CallDecision::Denied { rule, reason }
}

/// What deciding a call now gives, for `wardenctl policy test`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub decision: CallDecision,
    /// For a call that needs approval: whose, and how many.
    pub approval: Option<ApprovalRequirement>,
    pub policy_version: u64,
}

/// What `apply()` would decide for a call of `subject` to `server/tool` with `arguments`
/// (JSON text) at `time_ms`: the grant, the pinned and undrifted tool, pauses, and then
/// the workspace's policy, exactly as for a task's call.
pub fn decide_call<S: StateRead>(
    state: &S,
    time_ms: u64,
    subject: Subject<'_>,
    server: &ServerName,
    tool: &ToolName,
    arguments: &str,
) -> Result<Probe, S::Error> {
    let agent = state.agent(subject.workspace, subject.agent)?;
    let brakes = Brakes::read(state, subject.workspace, agent.as_ref())?;
    // A probe is not applied: no log index, and no chain it extends.
    let head = crate::audit::AuditHead::default();
    let at = At {
        log_index: 0,
        first_delivery: 0,
        time_ms,
        principal: subject.submitter,
        head: &head,
    };
    let decider = Decider {
        state,
        at: &at,
        subject,
        agent: agent.as_ref(),
        brakes: &brakes,
        lineage: &[],
        protocol: state.cluster_protocol()?,
    };
    let verdict = decider.decide(&CallTarget {
        call_id: "probe",
        server,
        tool,
        arguments,
    })?;
    Ok(Probe {
        decision: verdict.decision,
        approval: verdict
            .open
            .and_then(|open| open.approval)
            .map(|approval| approval.requirement),
        policy_version: verdict.policy_version,
    })
}
