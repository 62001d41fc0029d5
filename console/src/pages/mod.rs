//! The console's pages, one module each, and the routes that only redirect.

pub mod approvals;
pub mod audit;
pub mod cluster;
pub mod sign_in;
pub mod task;
pub mod tasks;
pub mod workspace;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::PageError;
use crate::signed_in::SignedIn;

/// The approvals inbox for those who approve, the task list for everyone else.
pub async fn home(signed: SignedIn) -> Redirect {
    match signed.holds("approver") {
        true => Redirect::to("/console/approvals"),
        false => Redirect::to("/console/tasks"),
    }
}

pub async fn not_found() -> Response {
    PageError::Grpc(tonic::Status::not_found("no such page")).into_response()
}

/// Where an action goes back to once it is done: a path of this console, never one a
/// form could point elsewhere.
pub fn see_other(path: String) -> Response {
    (StatusCode::SEE_OTHER, [("location", path)]).into_response()
}

/// The form fields every action posts.
#[derive(Debug, serde::Deserialize)]
pub struct Csrf {
    #[serde(default)]
    pub csrf: String,
}

/// The query a page is sent back to after an action: what was done, for its notice.
#[derive(Debug, serde::Deserialize)]
pub struct Done {
    #[serde(default)]
    pub done: String,
}

/// A form field that must be one of two words: true for `yes`, false for `no`.
pub fn either(field: &str, value: &str, yes: &str, no: &str) -> Result<bool, PageError> {
    match value {
        value if value == yes => Ok(true),
        value if value == no => Ok(false),
        other => Err(PageError::Invalid(format!(
            "{field}: must be {yes} or {no}, not {other:?}"
        ))),
    }
}
