//! The approvals inbox: every call waiting for approval in the workspaces the user can
//! read, with what is needed to decide it, and the decision itself. Whether the user may
//! decide comes from the node (the check `DecideApproval` makes); where they may not, the
//! page says why instead of offering the buttons.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::response::{Html, Response};
use serde::Deserialize;
use tonic::Code;
use warden_proto::v1::{
    Approval, DecideApprovalRequest, ListApprovalsRequest, ListWorkspacesRequest,
};

use super::see_other;
use crate::Shared;
use crate::error::PageError;
use crate::format;
use crate::session::now_ms;
use crate::signed_in::{Layout, SignedIn};

pub struct Waiting {
    pub approval: Approval,
    pub arguments: String,
    pub requested: String,
    pub expires: String,
    pub left: String,
}

#[derive(Template)]
#[template(path = "approvals.html")]
struct Inbox {
    layout: Layout,
    waiting: Vec<Waiting>,
    /// Workspaces whose approvals this user may not read.
    hidden: Vec<String>,
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct InboxQuery {
    #[serde(default)]
    done: String,
}

pub async fn inbox(
    signed: SignedIn,
    query: axum::extract::Query<InboxQuery>,
) -> Result<Html<String>, PageError> {
    let api = &signed.api;
    let workspaces = api
        .workspaces()
        .list_workspaces(api.request(ListWorkspacesRequest::default()))
        .await?
        .into_inner()
        .workspaces;
    let now = now_ms();
    let mut waiting = Vec::new();
    let mut hidden = Vec::new();
    for workspace in workspaces {
        let request = api.request(ListApprovalsRequest {
            workspace: workspace.name.clone(),
            ..ListApprovalsRequest::default()
        });
        let approvals = match api.governance().list_approvals(request).await {
            Ok(response) => response.into_inner().approvals,
            Err(status) if status.code() == Code::PermissionDenied => {
                hidden.push(workspace.name);
                continue;
            }
            Err(status) => return Err(status.into()),
        };
        waiting.extend(approvals.into_iter().map(|approval| Waiting {
            arguments: format::pretty_json(&approval.arguments),
            requested: format::time(approval.requested_ms),
            expires: format::time(approval.expires_at_ms),
            left: format::left(approval.expires_at_ms, now),
            approval,
        }));
    }
    // The calls closest to expiring first.
    waiting.sort_by_key(|waiting| waiting.approval.expires_at_ms);
    let notice = match query.done.as_str() {
        "approved" => Some("Your approval was recorded."),
        "denied" => Some("Your denial was recorded; the call will not run."),
        _ => None,
    };
    let page = Inbox {
        layout: signed.layout("approvals"),
        waiting,
        hidden,
        notice,
    };
    Ok(Html(page.render()?))
}

#[derive(Deserialize)]
pub struct Decision {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    workspace: String,
    #[serde(default)]
    task_id: String,
    #[serde(default)]
    call_id: String,
    #[serde(default)]
    arguments_hash: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

pub async fn decide(
    State(shared): State<Arc<Shared>>,
    signed: SignedIn,
    Form(form): Form<Decision>,
) -> Result<Response, PageError> {
    signed.check_csrf(&shared, &form.csrf)?;
    let approve = super::either("decision", &form.decision, "approve", "deny")?;
    let api = &signed.api;
    api.governance()
        .decide_approval(api.request(DecideApprovalRequest {
            workspace: form.workspace,
            task_id: form.task_id,
            call_id: form.call_id,
            arguments_hash: form.arguments_hash,
            approve,
            reason: form.reason,
        }))
        .await?;
    let done = if approve { "approved" } else { "denied" };
    Ok(see_other(format!("/console/approvals?done={done}")))
}
