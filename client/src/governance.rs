//! A workspace's tool policy, its approval requests, its budgets and its kill switch.

use warden_proto::v1::governance_service_client::GovernanceServiceClient;
use warden_proto::v1::{
    Approval, Budget, DecideApprovalRequest, GetBudgetsRequest, GetPolicyRequest,
    ListApprovalsRequest, ListPausesRequest, Pause, Policy, PutPolicyRequest, SetBudgetRequest,
    SetPauseRequest, Task, TestPolicyRequest, TestPolicyResponse,
};

use crate::{Client, Error};

/// A call to evaluate with [`Client::test_policy`].
#[derive(Debug, Clone, Default)]
pub struct PolicyProbe {
    pub agent: String,
    pub server: String,
    pub tool: String,
    /// A JSON object; empty means `{}`.
    pub arguments_json: String,
    /// Evaluate as if this principal submitted the task; the caller when empty.
    pub submitter: String,
}

/// What [`Client::set_pause`] pauses or resumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PauseTarget {
    /// Every task of the workspace.
    Workspace,
    /// Every task of one agent.
    Agent(String),
    /// Every call to one tool of one MCP server.
    Tool { server: String, tool: String },
}

/// The limits [`Client::set_budget`] sets; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BudgetLimits {
    pub tokens: Option<u64>,
    pub tool_calls: Option<u64>,
}

impl Client {
    /// Replaces `workspace`'s policy if it is still at `expected_version` (0: none yet).
    /// A stale version is ABORTED; the same request resent after it applied is too,
    /// so it is safe to resend.
    pub async fn put_policy(
        &self,
        workspace: &str,
        rules_json: &str,
        expected_version: u64,
    ) -> Result<Policy, Error> {
        let request = PutPolicyRequest {
            workspace: workspace.to_owned(),
            rules_json: rules_json.to_owned(),
            expected_version,
        };
        let response = self
            .unary(request, |channel, request| async move {
                GovernanceServiceClient::new(channel)
                    .put_policy(request)
                    .await
            })
            .await?;
        response.policy.ok_or_else(|| Error::missing("policy"))
    }

    /// `workspace`'s policy, `None` when it has none (every call is denied).
    pub async fn get_policy(&self, workspace: &str) -> Result<Option<Policy>, Error> {
        let request = GetPolicyRequest {
            workspace: workspace.to_owned(),
            consistency: crate::Consistency::Linearizable.to_proto(),
        };
        let response = self
            .unary(request, |channel, request| async move {
                GovernanceServiceClient::new(channel)
                    .get_policy(request)
                    .await
            })
            .await?;
        Ok(response.policy)
    }

    /// What `workspace`'s policy decides for `probe`, and why. Changes nothing.
    pub async fn test_policy(
        &self,
        workspace: &str,
        probe: PolicyProbe,
    ) -> Result<TestPolicyResponse, Error> {
        let request = TestPolicyRequest {
            workspace: workspace.to_owned(),
            agent: probe.agent,
            server: probe.server,
            tool: probe.tool,
            arguments_json: probe.arguments_json,
            submitter: probe.submitter,
        };
        self.unary(request, |channel, request| async move {
            GovernanceServiceClient::new(channel)
                .test_policy(request)
                .await
        })
        .await
    }

    /// The calls waiting for approval in `workspace`.
    pub async fn list_approvals(&self, workspace: &str) -> Result<Vec<Approval>, Error> {
        let request = ListApprovalsRequest {
            workspace: workspace.to_owned(),
            consistency: crate::Consistency::Linearizable.to_proto(),
        };
        let response = self
            .unary(request, |channel, request| async move {
                GovernanceServiceClient::new(channel)
                    .list_approvals(request)
                    .await
            })
            .await?;
        Ok(response.approvals)
    }

    /// Approves (or denies) call `call_id` of task `task_id`, naming the arguments hash
    /// the approver saw. Resending after the decision applied answers ALREADY_EXISTS
    /// (or FAILED_PRECONDITION once the request is settled), so this is sent at most once.
    pub async fn decide_approval(
        &self,
        workspace: &str,
        task_id: &str,
        call_id: &str,
        arguments_hash: &str,
        approve: bool,
        reason: &str,
    ) -> Result<Task, Error> {
        let request = DecideApprovalRequest {
            workspace: workspace.to_owned(),
            task_id: task_id.to_owned(),
            call_id: call_id.to_owned(),
            arguments_hash: arguments_hash.to_owned(),
            approve,
            reason: reason.to_owned(),
        };
        let response = self
            .unary_once(request, |channel, request| async move {
                GovernanceServiceClient::new(channel)
                    .decide_approval(request)
                    .await
            })
            .await?;
        response.task.ok_or_else(|| Error::missing("task"))
    }

    /// Sets the limits of `workspace`'s budget, or of `agent`'s, replacing the old ones;
    /// with neither limit the budget is removed. `reset` zeroes the usage, so a request
    /// with it is sent at most once; without it, resending is harmless.
    pub async fn set_budget(
        &self,
        workspace: &str,
        agent: Option<&str>,
        limits: BudgetLimits,
        reset: bool,
    ) -> Result<Option<Budget>, Error> {
        let request = SetBudgetRequest {
            workspace: workspace.to_owned(),
            agent: agent.unwrap_or_default().to_owned(),
            tokens: limits.tokens,
            tool_calls: limits.tool_calls,
            reset,
        };
        let rpc = |channel, request| async move {
            GovernanceServiceClient::new(channel)
                .set_budget(request)
                .await
        };
        let response = if reset {
            self.unary_once(request, rpc).await?
        } else {
            self.unary(request, rpc).await?
        };
        Ok(response.budget)
    }

    /// `workspace`'s budgets with their usage: its own first, then its agents'.
    pub async fn get_budgets(&self, workspace: &str) -> Result<Vec<Budget>, Error> {
        let request = GetBudgetsRequest {
            workspace: workspace.to_owned(),
            consistency: crate::Consistency::Linearizable.to_proto(),
        };
        let response = self
            .unary(request, |channel, request| async move {
                GovernanceServiceClient::new(channel)
                    .get_budgets(request)
                    .await
            })
            .await?;
        Ok(response.budgets)
    }

    /// Pauses (`paused`) or resumes `target` in `workspace`. Pausing again only updates
    /// the reason, so a pause is resent freely; resuming something not paused is
    /// FAILED_PRECONDITION, so a resume is sent at most once.
    pub async fn set_pause(
        &self,
        workspace: &str,
        target: &PauseTarget,
        paused: bool,
        reason: &str,
    ) -> Result<(), Error> {
        let (agent, server, tool) = match target {
            PauseTarget::Workspace => Default::default(),
            PauseTarget::Agent(agent) => (agent.clone(), String::new(), String::new()),
            PauseTarget::Tool { server, tool } => (String::new(), server.clone(), tool.clone()),
        };
        let request = SetPauseRequest {
            workspace: workspace.to_owned(),
            agent,
            server,
            tool,
            paused,
            reason: reason.to_owned(),
        };
        let rpc = |channel, request| async move {
            GovernanceServiceClient::new(channel)
                .set_pause(request)
                .await
        };
        if paused {
            self.unary(request, rpc).await?;
        } else {
            self.unary_once(request, rpc).await?;
        }
        Ok(())
    }

    /// What is paused in `workspace`: the workspace, agents, tools.
    pub async fn list_pauses(&self, workspace: &str) -> Result<Vec<Pause>, Error> {
        let request = ListPausesRequest {
            workspace: workspace.to_owned(),
            consistency: crate::Consistency::Linearizable.to_proto(),
        };
        let response = self
            .unary(request, |channel, request| async move {
                GovernanceServiceClient::new(channel)
                    .list_pauses(request)
                    .await
            })
            .await?;
        Ok(response.pauses)
    }
}
