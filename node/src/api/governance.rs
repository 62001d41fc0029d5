//! `warden.v1.GovernanceService`: a workspace's policy, its approval requests, its
//! budgets and its kill switch.

use tonic::{Request, Response, Status};
use warden_core::policy::PolicySet;
use warden_core::{
    Action, AgentName, CallDecision, Code, Command, Hash, Outcome, PauseTarget, Principal,
    Rejection, ServerName, StoredPolicy, Subject, Task, TaskStatus, ToolName, WorkspaceId,
    canonical_json,
};
use warden_proto::v1::governance_service_server::GovernanceService;
use warden_proto::v1::{
    Approval, DecideApprovalRequest, DecideApprovalResponse, GetBudgetsRequest, GetBudgetsResponse,
    GetPolicyRequest, GetPolicyResponse, ListApprovalsRequest, ListApprovalsResponse,
    ListPausesRequest, ListPausesResponse, Policy, PutPolicyRequest, PutPolicyResponse,
    SetBudgetRequest, SetBudgetResponse, SetPauseRequest, SetPauseResponse, TestPolicyRequest,
    TestPolicyResponse,
};

use super::task::TaskRequest;
use super::task::{parse_task_id, parse_workspace};
use super::{Payload, Refused, now_ms, propose, read_workspace, recorded, unexpected};
use crate::auth::Caller;
use crate::cluster::{Cluster, Consistency};
use crate::convert;
use crate::error::Error;

pub struct Governance {
    cluster: Cluster,
}

impl Governance {
    pub fn new(cluster: Cluster) -> Governance {
        Governance { cluster }
    }
}

fn invalid(field: &'static str, message: impl ToString) -> Error {
    Error::InvalidArgument {
        field,
        message: message.to_string(),
    }
}

fn policy_message(stored: &StoredPolicy) -> Result<Policy, Error> {
    Ok(Policy {
        workspace: stored.workspace.to_string(),
        rules_json: serde_json::to_string_pretty(&stored.policy)
            .map_err(|error| Error::Internal(format!("encoding a policy: {error}")))?,
        version: stored.version,
        updated_ms: stored.updated_ms,
        updated_by: stored.updated_by.to_string(),
    })
}

fn parse_put(request: &PutPolicyRequest) -> Result<Command, Refused> {
    let refuse = |message: String| Refused {
        action: Action::PolicyPut,
        resource: format!(
            "workspace/{}/policy/rules",
            convert::sanitized(&request.workspace)
        ),
        payload: Payload::of(request),
        rejection: Rejection::new(Code::InvalidArgument, message),
    };
    let workspace = WorkspaceId::parse(&request.workspace).map_err(|e| refuse(e.to_string()))?;
    let policy: PolicySet = serde_json::from_str(&request.rules_json)
        .map_err(|error| refuse(format!("rules_json: {error}")))?;
    Ok(Command::PutPolicy {
        workspace,
        policy,
        expected_version: request.expected_version,
    })
}

fn parse_set_budget(request: &SetBudgetRequest) -> Result<Command, Refused> {
    let refuse = |message: String| Refused {
        action: Action::BudgetSet,
        resource: format!(
            "workspace/{}/budget",
            convert::sanitized(&request.workspace)
        ),
        payload: Payload::of(request),
        rejection: Rejection::new(Code::InvalidArgument, message),
    };
    let workspace = WorkspaceId::parse(&request.workspace).map_err(|e| refuse(e.to_string()))?;
    let agent = match request.agent.as_str() {
        "" => None,
        name => Some(AgentName::parse(name).map_err(|e| refuse(format!("agent: {e}")))?),
    };
    Ok(Command::SetBudget {
        workspace,
        agent,
        tokens: request.tokens,
        tool_calls: request.tool_calls,
        reset: request.reset,
    })
}

fn parse_set_pause(request: &SetPauseRequest) -> Result<Command, Refused> {
    let refuse = |message: String| Refused {
        action: if request.paused {
            Action::Pause
        } else {
            Action::Resume
        },
        resource: format!("workspace/{}/pause", convert::sanitized(&request.workspace)),
        payload: Payload::of(request),
        rejection: Rejection::new(Code::InvalidArgument, message),
    };
    let workspace = WorkspaceId::parse(&request.workspace).map_err(|e| refuse(e.to_string()))?;
    let target = match (
        request.agent.as_str(),
        request.server.as_str(),
        request.tool.as_str(),
    ) {
        ("", "", "") => PauseTarget::Workspace,
        (agent, "", "") => {
            PauseTarget::Agent(AgentName::parse(agent).map_err(|e| refuse(format!("agent: {e}")))?)
        }
        ("", server, tool) if !server.is_empty() && !tool.is_empty() => PauseTarget::Tool {
            server: ServerName::parse(server).map_err(|e| refuse(format!("server: {e}")))?,
            tool: ToolName::parse(tool).map_err(|e| refuse(format!("tool: {e}")))?,
        },
        ("", _, _) => {
            return Err(refuse(
                "a tool is named with its server: give both server and tool".to_owned(),
            ));
        }
        _ => {
            return Err(refuse("pause an agent or a tool, not both".to_owned()));
        }
    };
    Ok(Command::SetPause {
        workspace,
        target,
        paused: request.paused,
        reason: request.reason.clone(),
    })
}

/// The approval request a parked task waits on, if any.
fn approval_of(task: &Task) -> Option<Approval> {
    if task.status != TaskStatus::WaitingApproval {
        return None;
    }
    let call = task.open_calls.first()?;
    let approval = call.approval.as_ref()?;
    Some(Approval {
        workspace: task.workspace.to_string(),
        task_id: task.id.to_string(),
        agent: task.agent.to_string(),
        submitted_by: task.submitted_by.to_string(),
        call_id: call.call_id.clone(),
        server: call.server.to_string(),
        tool: call.tool.to_string(),
        arguments: call.arguments.clone(),
        arguments_hash: call.arguments_hash.to_hex(),
        rule: approval.rule.to_string(),
        approvers: approval
            .requirement
            .approvers
            .iter()
            .map(ToString::to_string)
            .collect(),
        quorum: approval.requirement.quorum,
        approved_by: approval
            .votes
            .iter()
            .map(|vote| vote.principal.to_string())
            .collect(),
        requested_ms: approval.requested_ms,
        expires_at_ms: approval.expires_at_ms,
        rule_description: String::new(),
        refusal: String::new(),
    })
}

#[tonic::async_trait]
impl GovernanceService for Governance {
    async fn put_policy(
        &self,
        request: Request<PutPolicyRequest>,
    ) -> Result<Response<PutPolicyResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        match propose(&self.cluster, &caller, parse_put(&request)).await? {
            Outcome::PolicyPut(stored) => Ok(Response::new(PutPolicyResponse {
                policy: Some(policy_message(&stored)?),
            })),
            other => Err(unexpected(&other).into()),
        }
    }

    async fn get_policy(
        &self,
        request: Request<GetPolicyRequest>,
    ) -> Result<Response<GetPolicyResponse>, Status> {
        let (reader, workspace) = read_workspace(&self.cluster, &request).await?;
        let policy = match reader.policy(&workspace).map_err(Error::from)? {
            Some(stored) => Some(policy_message(&stored)?),
            None => None,
        };
        Ok(Response::new(GetPolicyResponse { policy }))
    }

    async fn test_policy(
        &self,
        request: Request<TestPolicyRequest>,
    ) -> Result<Response<TestPolicyResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let workspace = parse_workspace(&request.workspace)?;
        let agent = AgentName::parse(&request.agent).map_err(|e| invalid("agent", e))?;
        let server = ServerName::parse(&request.server).map_err(|e| invalid("server", e))?;
        let tool = ToolName::parse(&request.tool).map_err(|e| invalid("tool", e))?;
        let submitter = match request.submitter.as_str() {
            "" => caller.principal.clone(),
            text => Principal::parse(text).map_err(|e| invalid("submitter", e))?,
        };
        let arguments_text = match request.arguments_json.as_str() {
            "" => "{}",
            text => text,
        };
        let canonical = canonical_json(arguments_text).map_err(|e| invalid("arguments_json", e))?;
        if warden_core::tool_arguments(&canonical).is_err() {
            return Err(invalid("arguments_json", "must be a JSON object").into());
        }
        let reader = caller
            .read_workspace(&self.cluster, &workspace, Consistency::Linearizable)
            .await?;
        let subject = Subject {
            workspace: &workspace,
            agent: &agent,
            submitter: &submitter,
        };
        let probe = warden_core::decide_call(reader, now_ms(), subject, &server, &tool, &canonical)
            .map_err(Error::from)?;
        let (effect, rule, reason) = match probe.decision {
            CallDecision::Allowed { rule, reason } => ("allow", rule, reason),
            CallDecision::Denied { rule, reason } => ("deny", rule.unwrap_or_default(), reason),
            CallDecision::ApprovalRequired { rule, reason, .. } => {
                ("require_approval", rule, reason)
            }
        };
        let approval_json = match &probe.approval {
            Some(requirement) => serde_json::to_string(requirement)
                .map_err(|error| Error::Internal(error.to_string()))?,
            None => String::new(),
        };
        Ok(Response::new(TestPolicyResponse {
            effect: effect.to_owned(),
            rule,
            reason,
            approval_json,
            arguments_hash: Hash::of(canonical.as_bytes()).to_hex(),
            policy_version: probe.policy_version,
        }))
    }

    async fn list_approvals(
        &self,
        request: Request<ListApprovalsRequest>,
    ) -> Result<Response<ListApprovalsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let (reader, workspace) = read_workspace(&self.cluster, &request).await?;
        let policy = reader.policy(&workspace).map_err(Error::from)?;
        let mut approvals = Vec::new();
        for id in reader
            .waiting_approvals_in(&workspace)
            .map_err(Error::from)?
        {
            let Some(task) = reader.task(&workspace, &id).map_err(Error::from)? else {
                continue;
            };
            let Some(mut approval) = approval_of(&task) else {
                continue;
            };
            approval.rule_description = policy
                .as_ref()
                .and_then(|stored| {
                    stored
                        .policy
                        .rules
                        .iter()
                        .find(|rule| rule.id.as_str() == approval.rule)
                })
                .map(|rule| rule.description.clone())
                .unwrap_or_default();
            approval.refusal =
                warden_core::decider_refusal(reader, now_ms(), &caller.principal, &task)
                    .map_err(Error::from)?
                    .map(|rejection| rejection.message)
                    .unwrap_or_default();
            approvals.push(approval);
        }
        Ok(Response::new(ListApprovalsResponse { approvals }))
    }

    async fn decide_approval(
        &self,
        request: Request<DecideApprovalRequest>,
    ) -> Result<Response<DecideApprovalResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let parsed = (|| {
            Ok(Command::DecideApproval {
                workspace: parse_workspace(&request.workspace)?,
                task: parse_task_id("task_id", &request.task_id)?,
                call_id: request.call_id.clone(),
                arguments_hash: Hash::from_hex(&request.arguments_hash).ok_or_else(|| {
                    invalid(
                        "arguments_hash",
                        "must be 64 hex digits (the call's SHA-256)",
                    )
                })?,
                approve: request.approve,
                reason: request.reason.clone(),
            })
        })();
        let what = (
            Action::ApprovalDecide,
            request.resource(),
            Payload::of(&request),
        );
        let command = recorded(&self.cluster, &caller, what, parsed).await?;
        match propose(&self.cluster, &caller, Ok(command)).await? {
            Outcome::TaskUpdated { task, .. } => Ok(Response::new(DecideApprovalResponse {
                task: Some(convert::task(&task)),
            })),
            other => Err(unexpected(&other).into()),
        }
    }

    async fn set_budget(
        &self,
        request: Request<SetBudgetRequest>,
    ) -> Result<Response<SetBudgetResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        match propose(&self.cluster, &caller, parse_set_budget(&request)).await? {
            Outcome::BudgetSet { budget, .. } => Ok(Response::new(SetBudgetResponse {
                budget: budget.as_ref().map(convert::budget),
            })),
            other => Err(unexpected(&other).into()),
        }
    }

    async fn get_budgets(
        &self,
        request: Request<GetBudgetsRequest>,
    ) -> Result<Response<GetBudgetsResponse>, Status> {
        let (reader, workspace) = read_workspace(&self.cluster, &request).await?;
        let budgets = reader.budgets(&workspace).map_err(Error::from)?;
        Ok(Response::new(GetBudgetsResponse {
            budgets: budgets.iter().map(convert::budget).collect(),
        }))
    }

    async fn set_pause(
        &self,
        request: Request<SetPauseRequest>,
    ) -> Result<Response<SetPauseResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        match propose(&self.cluster, &caller, parse_set_pause(&request)).await? {
            Outcome::PauseSet { paused, .. } => Ok(Response::new(SetPauseResponse { paused })),
            other => Err(unexpected(&other).into()),
        }
    }

    async fn list_pauses(
        &self,
        request: Request<ListPausesRequest>,
    ) -> Result<Response<ListPausesResponse>, Status> {
        let (reader, workspace) = read_workspace(&self.cluster, &request).await?;
        let switches = reader.switches(&workspace).map_err(Error::from)?;
        let agents = reader.agents(&workspace).map_err(Error::from)?;
        Ok(Response::new(ListPausesResponse {
            pauses: convert::pauses(switches.as_ref(), &agents),
        }))
    }
}
