//! The signed-in user of a request: the session cookie opened, and its token confirmed
//! by the node (`WhoAmI`) on every request, so a revoked or expired token, or a
//! principal left without any role, ends the session there and then.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use tonic::Code;
use warden_proto::v1::WhoAmIRequest;

use crate::Shared;
use crate::api::Api;
use crate::error::PageError;
use crate::pages::sign_in;
use crate::session::{Session, cookie_value};

pub struct SignedIn {
    pub api: Api,
    pub session: Session,
    pub principal: String,
    /// Each binding as `workspace: role, role` (`cluster: ...` for the cluster scope).
    pub bindings: Vec<(String, Vec<String>)>,
    pub csrf: String,
}

/// What the frame of every page shows: who is signed in, and the sign-out form.
pub struct Layout {
    pub principal: String,
    pub roles: String,
    pub csrf: String,
    /// The navigation entry of the page.
    pub active: &'static str,
}

impl SignedIn {
    pub fn layout(&self, active: &'static str) -> Layout {
        let roles = self
            .bindings
            .iter()
            .map(|(scope, roles)| format!("{scope}: {}", roles.join(", ")))
            .collect::<Vec<_>>()
            .join("; ");
        Layout {
            principal: self.principal.clone(),
            roles,
            csrf: self.csrf.clone(),
            active,
        }
    }

    /// Refuses a POST whose form does not carry this session's CSRF token.
    pub fn check_csrf(&self, shared: &Shared, presented: &str) -> Result<(), PageError> {
        match shared.sessions.csrf_matches(&self.session, presented) {
            true => Ok(()),
            false => Err(PageError::Csrf),
        }
    }

    /// Whether any binding (cluster-wide or in `workspace`) holds `role`.
    pub fn holds(&self, role: &str) -> bool {
        self.bindings
            .iter()
            .any(|(_, roles)| roles.iter().any(|held| held == role || held == "admin"))
    }
}

impl FromRequestParts<Arc<Shared>> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        shared: &Arc<Shared>,
    ) -> Result<SignedIn, Response> {
        let cookie = parts
            .headers
            .get(header::COOKIE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| cookie_value(value, &shared.sessions.session_cookie()));
        let Some(cookie) = cookie.filter(|value| !value.is_empty()) else {
            return Err(Redirect::to("/console/sign-in").into_response());
        };
        let Some(session) = shared.sessions.open(cookie) else {
            return Err(ended(
                shared,
                "Your session ended (it expired, you signed out, or it was made by a node with another key). Sign in again.",
            ));
        };
        let Some(api) = Api::new(shared.grpc.clone(), &session.token) else {
            return Err(ended(
                shared,
                "The session holds no usable token. Sign in again.",
            ));
        };
        let who = match api.identity().who_am_i(api.request(WhoAmIRequest {})).await {
            Ok(who) => who.into_inner(),
            Err(status) if status.code() == Code::Unauthenticated => {
                return Err(ended(
                    shared,
                    &format!("Your session ended: {}.", status.message()),
                ));
            }
            Err(status) => return Err(PageError::Grpc(status).into_response()),
        };
        if who.bindings.iter().all(|binding| binding.roles.is_empty()) {
            return Err(ended(
                shared,
                &format!(
                    "Your session ended: {} holds no role any more.",
                    who.principal
                ),
            ));
        }
        let bindings = who
            .bindings
            .into_iter()
            .map(|binding| {
                let scope = match binding.workspace.is_empty() {
                    true => "cluster".to_owned(),
                    false => binding.workspace,
                };
                (scope, binding.roles)
            })
            .collect();
        let csrf = shared.sessions.csrf(&session);
        Ok(SignedIn {
            api,
            session,
            principal: who.principal,
            bindings,
            csrf,
        })
    }
}

/// The sign-in page saying why the session ended, clearing the cookie.
fn ended(shared: &Shared, why: &str) -> Response {
    let mut response = sign_in::page(shared, Some(why), StatusCode::UNAUTHORIZED);
    if let Ok(value) = shared.sessions.clear().parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
