//! Why a page or an action failed, as the page the user sees: the gRPC refusal's code as
//! the HTTP status and its message, word for word.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use tonic::Code;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The node refused or failed the call the page made.
    #[error("{}", .0.message())]
    Grpc(#[from] tonic::Status),
    /// The form or query does not say what it must; names the field.
    #[error("{0}")]
    Invalid(String),
    /// A POST without this session's CSRF token.
    #[error(
        "the form's CSRF token is missing or belongs to another session: reload the page and try again"
    )]
    Csrf,
    #[error("rendering the page: {0}")]
    Render(#[from] askama::Error),
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    message: String,
}

impl PageError {
    fn status(&self) -> StatusCode {
        match self {
            PageError::Grpc(status) => match status.code() {
                Code::PermissionDenied => StatusCode::FORBIDDEN,
                Code::Unauthenticated => StatusCode::UNAUTHORIZED,
                Code::NotFound => StatusCode::NOT_FOUND,
                Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
                Code::FailedPrecondition | Code::AlreadyExists | Code::Aborted => {
                    StatusCode::CONFLICT
                }
                Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
                Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            PageError::Invalid(_) => StatusCode::BAD_REQUEST,
            PageError::Csrf => StatusCode::FORBIDDEN,
            PageError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "console page failed");
        }
        let page = ErrorPage {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("Error"),
            message: self.to_string(),
        };
        match page.render() {
            Ok(body) => (status, Html(body)).into_response(),
            Err(error) => (status, format!("{}: {error}", page.message)).into_response(),
        }
    }
}
