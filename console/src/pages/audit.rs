//! The audit chain: records newest first with filters (principal, action, workspace) a
//! page at a time, every node's head side by side (`wardenctl audit heads`), and, on
//! request, the serving node's verification of the whole chain.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::response::Html;
use serde::Deserialize;
use warden_proto::v1::{
    AuditRecord, ListAuditHeadsRequest, ListAuditHeadsResponse, TailAuditRequest,
    VerifyAuditRequest, VerifyAuditResponse,
};

use crate::Shared;
use crate::error::PageError;
use crate::format;
use crate::signed_in::{Layout, SignedIn};

/// Records per page.
const PAGE: u32 = 100;

pub struct Line {
    pub record: AuditRecord,
    pub time: String,
    pub short_hash: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    filter: AuditQuery,
    lines: Vec<Line>,
    next_before: u64,
    verification: Option<VerifyAuditResponse>,
    /// None for a caller who may read one workspace's records only.
    heads: Option<ListAuditHeadsResponse>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub principal: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub workspace: String,
    #[serde(default)]
    pub before: u64,
}

/// The verification form: the filters to show the records by, and the CSRF token
/// (verifying reads the whole chain, so it is a POST, not a link).
#[derive(Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    principal: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    workspace: String,
}

pub async fn page(
    signed: SignedIn,
    Query(filter): Query<AuditQuery>,
) -> Result<Html<String>, PageError> {
    render(signed, filter, false).await
}

/// Recomputes the whole chain on the serving node, then shows the page.
pub async fn verify(
    State(shared): State<Arc<Shared>>,
    signed: SignedIn,
    Form(form): Form<VerifyForm>,
) -> Result<Html<String>, PageError> {
    signed.check_csrf(&shared, &form.csrf)?;
    let filter = AuditQuery {
        principal: form.principal,
        action: form.action,
        workspace: form.workspace,
        before: 0,
    };
    render(signed, filter, true).await
}

async fn render(
    signed: SignedIn,
    mut filter: AuditQuery,
    verify: bool,
) -> Result<Html<String>, PageError> {
    let api = &signed.api;
    // A workspace's auditor reads that workspace's records only: start there.
    let cluster_wide = signed.bindings.iter().any(|(scope, _)| scope == "cluster");
    if filter.workspace.trim().is_empty()
        && !cluster_wide
        && let Some((workspace, _)) = signed.bindings.first()
    {
        filter.workspace = workspace.clone();
    }
    let tail = api
        .audit()
        .tail_audit(api.request(TailAuditRequest {
            limit: PAGE,
            principal: filter.principal.trim().to_owned(),
            action: filter.action.trim().to_owned(),
            workspace: filter.workspace.trim().to_owned(),
            before_index: filter.before,
            ..TailAuditRequest::default()
        }))
        .await?
        .into_inner();
    // The heads and the verification cover the whole chain: read_audit cluster-wide.
    let heads = match api
        .audit()
        .list_audit_heads(api.request(ListAuditHeadsRequest::default()))
        .await
    {
        Ok(heads) => Some(heads.into_inner()),
        Err(status) if status.code() == tonic::Code::PermissionDenied => None,
        Err(status) => return Err(status.into()),
    };
    // Verifying reads every record, so it runs when asked for, not on every page load.
    let verification = match verify && heads.is_some() {
        true => Some(
            api.audit()
                .verify_audit(api.request(VerifyAuditRequest::default()))
                .await?
                .into_inner(),
        ),
        false => None,
    };
    let lines = tail
        .records
        .into_iter()
        .rev()
        .map(|record| Line {
            time: format::time(record.time_ms),
            short_hash: record.hash.chars().take(12).collect(),
            record,
        })
        .collect();
    let page = AuditPage {
        layout: signed.layout("audit"),
        filter,
        lines,
        next_before: tail.next_before_index,
        verification,
        heads,
    };
    Ok(Html(page.render()?))
}
