//! The task list of a workspace, filtered by status, a page at a time.

use askama::Template;
use axum::extract::Query;
use axum::response::Html;
use serde::Deserialize;
use warden_proto::v1::{ListTasksRequest, ListWorkspacesRequest, Task};

use crate::error::PageError;
use crate::format;
use crate::signed_in::{Layout, SignedIn};

/// Tasks per page.
const PAGE_SIZE: u32 = 50;

pub struct Row {
    pub task: Task,
    pub status: String,
    pub submitted: String,
    pub input: String,
}

#[derive(Template)]
#[template(path = "tasks.html")]
struct TaskList {
    layout: Layout,
    workspaces: Vec<String>,
    workspace: String,
    statuses: Vec<String>,
    status: String,
    rows: Vec<Row>,
    next_page: String,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    workspace: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    page: String,
}

pub async fn list(
    signed: SignedIn,
    Query(query): Query<ListQuery>,
) -> Result<Html<String>, PageError> {
    let api = &signed.api;
    let status = format::parse_status(&query.status).map_err(PageError::Invalid)?;
    let workspaces: Vec<String> = api
        .workspaces()
        .list_workspaces(api.request(ListWorkspacesRequest::default()))
        .await?
        .into_inner()
        .workspaces
        .into_iter()
        .map(|workspace| workspace.name)
        .collect();
    let workspace = match query.workspace.is_empty() {
        true => workspaces.first().cloned().unwrap_or_default(),
        false => query.workspace.clone(),
    };
    let (rows, next_page) = match workspace.is_empty() {
        true => (Vec::new(), String::new()),
        false => {
            let response = api
                .tasks()
                .list_tasks(api.request(ListTasksRequest {
                    workspace: workspace.clone(),
                    page_size: PAGE_SIZE,
                    page_token: query.page.clone(),
                    status: status.map_or(0, |status| status as i32),
                    ..ListTasksRequest::default()
                }))
                .await?
                .into_inner();
            let rows = response
                .tasks
                .into_iter()
                .map(|task| Row {
                    status: format::status(task.status),
                    submitted: format::time(task.submitted_at_ms),
                    input: one_line(&task.input),
                    task,
                })
                .collect();
            (rows, response.next_page_token)
        }
    };
    let page = TaskList {
        layout: signed.layout("tasks"),
        workspaces,
        workspace,
        statuses: format::STATUSES
            .iter()
            .map(|status| format::status(*status as i32))
            .collect(),
        status: query.status,
        rows,
        next_page,
    };
    Ok(Html(page.render()?))
}

/// The start of a task's input on one line.
fn one_line(text: &str) -> String {
    let line: String = text
        .chars()
        .take(120)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match text.chars().count() > 120 {
        true => format!("{line}…"),
        false => line,
    }
}
