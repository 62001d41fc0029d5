//! A workspace's configuration, read-only but for the kill switch: agents with their
//! grants, MCP servers with their pinned tools and drift, the policy with a form that
//! tests a call against it (`wardenctl policy test`), budgets with their usage,
//! webhooks with their recent deliveries, and what is paused, with pause and resume
//! behind a confirmation.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{Html, Response};
use serde::Deserialize;
use warden_proto::v1::{
    Agent, Budget, Delivery, GetBudgetsRequest, GetPolicyRequest, ListAgentsRequest,
    ListDeliveriesRequest, ListMcpServersRequest, ListPausesRequest, ListWebhooksRequest,
    ListWorkspacesRequest, McpServer, Pause, SetPauseRequest, TestPolicyRequest,
    TestPolicyResponse, Webhook, Workspace,
};

use super::see_other;
use crate::Shared;
use crate::api::Api;
use crate::error::PageError;
use crate::format;
use crate::signed_in::{Layout, SignedIn};

#[derive(Template)]
#[template(path = "workspaces.html")]
struct WorkspaceList {
    layout: Layout,
    workspaces: Vec<(Workspace, String)>,
}

pub async fn list(signed: SignedIn) -> Result<Html<String>, PageError> {
    let api = &signed.api;
    let workspaces = api
        .workspaces()
        .list_workspaces(api.request(ListWorkspacesRequest::default()))
        .await?
        .into_inner()
        .workspaces
        .into_iter()
        .map(|workspace| {
            let created = format::time(workspace.created_at_ms);
            (workspace, created)
        })
        .collect();
    let page = WorkspaceList {
        layout: signed.layout("workspaces"),
        workspaces,
    };
    Ok(Html(page.render()?))
}

/// One policy rule as the page lists it.
pub struct Rule {
    pub id: String,
    pub priority: String,
    pub effect: String,
    pub description: String,
    /// The rule's subject, target and conditions as JSON.
    pub matches: String,
}

pub struct PauseLine {
    pub pause: Pause,
    pub since: String,
}

/// How many of the newest deliveries the page shows.
const DELIVERIES: u32 = 20;

/// One delivery as the page lists it.
pub struct DeliveryLine {
    pub delivery: Delivery,
    /// `delivered (204)`, `pending, next attempt at <time>` or `failed`.
    pub state: String,
}

impl DeliveryLine {
    fn of(delivery: Delivery) -> DeliveryLine {
        let state = match delivery.state.as_str() {
            "delivered" => format!("delivered ({})", delivery.status),
            "pending" => format!(
                "pending, next attempt at {}",
                format::time(delivery.next_attempt_at_ms)
            ),
            other => other.to_owned(),
        };
        DeliveryLine { delivery, state }
    }
}

/// What a "test a call" form asked, shown again with its answer.
#[derive(Debug, Default, Deserialize)]
pub struct CallTest {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub agent: String,
    #[serde(default)]
    pub server: String,
    #[serde(default)]
    pub tool: String,
    #[serde(default)]
    pub arguments: String,
    #[serde(default)]
    pub submitter: String,
}

#[derive(Template)]
#[template(path = "workspace.html")]
struct WorkspacePage {
    layout: Layout,
    workspace: String,
    agents: Vec<Agent>,
    servers: Vec<McpServer>,
    policy_version: u64,
    policy_updated: String,
    rules: Vec<Rule>,
    budgets: Vec<Budget>,
    pauses: Vec<PauseLine>,
    webhooks: Vec<Webhook>,
    deliveries: Vec<DeliveryLine>,
    test: CallTest,
    tested: Option<TestPolicyResponse>,
    notice: Option<&'static str>,
}

pub async fn page(
    signed: SignedIn,
    Path(workspace): Path<String>,
    Query(query): Query<super::Done>,
) -> Result<Html<String>, PageError> {
    let notice = match query.done.as_str() {
        "paused" => Some("Paused."),
        "resumed" => Some("Resumed."),
        _ => None,
    };
    render(&signed, workspace, CallTest::default(), None, notice).await
}

/// Decides a call as the policy would and shows the answer; changes nothing.
pub async fn policy_test(
    State(shared): State<Arc<Shared>>,
    signed: SignedIn,
    Path(workspace): Path<String>,
    Form(test): Form<CallTest>,
) -> Result<Html<String>, PageError> {
    signed.check_csrf(&shared, &test.csrf)?;
    let api = &signed.api;
    let arguments = match test.arguments.trim().is_empty() {
        true => "{}".to_owned(),
        false => test.arguments.clone(),
    };
    let tested = api
        .governance()
        .test_policy(api.request(TestPolicyRequest {
            workspace: workspace.clone(),
            agent: test.agent.clone(),
            server: test.server.clone(),
            tool: test.tool.clone(),
            arguments_json: arguments,
            submitter: test.submitter.clone(),
        }))
        .await?
        .into_inner();
    render(&signed, workspace, test, Some(tested), None).await
}

const LINEARIZABLE: i32 = warden_proto::v1::ReadConsistency::Linearizable as i32;
const LOCAL: i32 = warden_proto::v1::ReadConsistency::Local as i32;

async fn render(
    signed: &SignedIn,
    workspace: String,
    test: CallTest,
    tested: Option<TestPolicyResponse>,
    notice: Option<&'static str>,
) -> Result<Html<String>, PageError> {
    let api = &signed.api;
    let name = || workspace.clone();
    // One read barrier for the page: the first read is linearizable, the others read what
    // this node applied by then (or later), so the page shows one state at least as new as
    // every write acknowledged before it was asked for, at the cost of one barrier.
    let agents = api
        .agents()
        .list_agents(api.request(ListAgentsRequest {
            workspace: name(),
            consistency: LINEARIZABLE,
        }))
        .await?;
    let (servers, policy, budgets, pauses, webhooks, deliveries) = tokio::try_join!(
        async {
            api.agents()
                .list_mcp_servers(api.request(ListMcpServersRequest {
                    workspace: name(),
                    consistency: LOCAL,
                }))
                .await
        },
        async {
            api.governance()
                .get_policy(api.request(GetPolicyRequest {
                    workspace: name(),
                    consistency: LOCAL,
                }))
                .await
        },
        async {
            api.governance()
                .get_budgets(api.request(GetBudgetsRequest {
                    workspace: name(),
                    consistency: LOCAL,
                }))
                .await
        },
        async {
            api.governance()
                .list_pauses(api.request(ListPausesRequest {
                    workspace: name(),
                    consistency: LOCAL,
                }))
                .await
        },
        async {
            api.webhooks()
                .list_webhooks(api.request(ListWebhooksRequest {
                    workspace: name(),
                    consistency: LOCAL,
                }))
                .await
        },
        async {
            api.webhooks()
                .list_deliveries(api.request(ListDeliveriesRequest {
                    workspace: name(),
                    limit: DELIVERIES,
                    consistency: LOCAL,
                    ..ListDeliveriesRequest::default()
                }))
                .await
        },
    )?;
    let policy = policy.into_inner().policy.unwrap_or_default();
    let page = WorkspacePage {
        layout: signed.layout("workspaces"),
        agents: agents.into_inner().agents,
        servers: servers.into_inner().servers,
        policy_version: policy.version,
        policy_updated: format::time(policy.updated_ms),
        rules: rules(&policy.rules_json),
        budgets: budgets.into_inner().budgets,
        pauses: pauses
            .into_inner()
            .pauses
            .into_iter()
            .map(|pause| PauseLine {
                since: format::time(pause.since_ms),
                pause,
            })
            .collect(),
        webhooks: webhooks.into_inner().webhooks,
        deliveries: deliveries
            .into_inner()
            .deliveries
            .into_iter()
            .map(DeliveryLine::of)
            .collect(),
        workspace,
        test,
        tested,
        notice,
    };
    Ok(Html(page.render()?))
}

/// The rules of a policy's JSON, in the order stored.
fn rules(rules_json: &str) -> Vec<Rule> {
    let parsed: serde_json::Value = serde_json::from_str(rules_json).unwrap_or_default();
    parsed["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|rule| {
            let text = |value: &serde_json::Value| match value {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            let matches = serde_json::json!({
                "subject": rule["subject"],
                "target": rule["target"],
                "conditions": rule["conditions"],
            });
            Rule {
                id: text(&rule["id"]),
                priority: text(&rule["priority"]),
                effect: text(&rule["effect"]),
                description: text(&rule["description"]),
                matches: matches.to_string(),
            }
        })
        .collect()
}

#[derive(Deserialize)]
pub struct PauseForm {
    #[serde(default)]
    csrf: String,
    /// pause or resume.
    #[serde(default)]
    action: String,
    #[serde(default)]
    agent: String,
    #[serde(default)]
    server: String,
    #[serde(default)]
    tool: String,
    #[serde(default)]
    reason: String,
    /// The confirmation box: set to `yes` when ticked.
    #[serde(default)]
    confirm: String,
}

/// The kill switch: pauses or resumes the workspace, an agent, or a tool, once the
/// confirmation box is ticked.
pub async fn pause(
    State(shared): State<Arc<Shared>>,
    signed: SignedIn,
    Path(workspace): Path<String>,
    Form(form): Form<PauseForm>,
) -> Result<Response, PageError> {
    signed.check_csrf(&shared, &form.csrf)?;
    let paused = super::either("action", &form.action, "pause", "resume")?;
    if form.confirm != "yes" {
        return Err(PageError::Invalid(
            "confirm: tick the confirmation box to pause or resume".to_owned(),
        ));
    }
    set_pause(&signed.api, &workspace, form, paused).await?;
    let done = if paused { "paused" } else { "resumed" };
    Ok(see_other(format!("/console/w/{workspace}?done={done}")))
}

async fn set_pause(
    api: &Api,
    workspace: &str,
    form: PauseForm,
    paused: bool,
) -> Result<(), PageError> {
    api.governance()
        .set_pause(api.request(SetPauseRequest {
            workspace: workspace.to_owned(),
            agent: form.agent,
            server: form.server,
            tool: form.tool,
            paused,
            reason: form.reason,
        }))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_states_read_plainly() {
        let state = |delivery: Delivery| DeliveryLine::of(delivery).state;
        let delivered = Delivery {
            state: "delivered".to_owned(),
            status: 204,
            ..Delivery::default()
        };
        assert_eq!(state(delivered), "delivered (204)");
        let pending = Delivery {
            state: "pending".to_owned(),
            next_attempt_at_ms: 1_000,
            ..Delivery::default()
        };
        assert_eq!(
            state(pending),
            "pending, next attempt at 1970-01-01 00:00:01 UTC"
        );
        let failed = Delivery {
            state: "failed".to_owned(),
            ..Delivery::default()
        };
        assert_eq!(state(failed), "failed");
    }

    #[test]
    fn deliveries_link_their_task_and_call_and_render_as_text() {
        let delivery = Delivery {
            id: "12-0".to_owned(),
            webhook: "pager".to_owned(),
            event: "approval.requested".to_owned(),
            task_id: "t1".to_owned(),
            call_id: "call <1>/x".to_owned(),
            state: "failed".to_owned(),
            attempts: 3,
            last_error: "<script>alert(1)</script>".to_owned(),
            ..Delivery::default()
        };
        let page = WorkspacePage {
            layout: Layout {
                principal: "user/admin".to_owned(),
                roles: String::new(),
                csrf: String::new(),
                active: "workspaces",
            },
            workspace: "acme".to_owned(),
            agents: Vec::new(),
            servers: Vec::new(),
            policy_version: 0,
            policy_updated: String::new(),
            rules: Vec::new(),
            budgets: Vec::new(),
            pauses: Vec::new(),
            webhooks: Vec::new(),
            deliveries: vec![DeliveryLine::of(delivery)],
            test: CallTest::default(),
            tested: None,
            notice: None,
        };
        let html = page.render().expect("render");
        assert!(html.contains("No webhooks."), "{html}");
        assert!(
            html.contains("href=\"/console/w/acme/tasks/t1#call-call%20%3C1%3E%2Fx\""),
            "{html}"
        );
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(
            html.contains("<span class=\"status failed\">failed</span>"),
            "{html}"
        );
    }
}
