//! Signing in with a Warden token and signing out.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use tonic::Code;
use warden_proto::v1::WhoAmIRequest;

use crate::Shared;
use crate::api::Api;
use crate::error::PageError;
use crate::session::cookie_value;
use crate::signed_in::SignedIn;

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    nonce: String,
    message: Option<&'a str>,
}

/// The sign-in page, with `message` (why the last attempt or session ended) if any.
pub fn page(shared: &Shared, message: Option<&str>, status: StatusCode) -> Response {
    let (nonce, cookie) = shared.sessions.sign_in_nonce();
    let page = SignInPage { nonce, message };
    match page.render() {
        Ok(body) => (status, [(header::SET_COOKIE, cookie)], Html(body)).into_response(),
        Err(error) => PageError::Render(error).into_response(),
    }
}

pub async fn form(State(shared): State<Arc<Shared>>) -> Response {
    page(&shared, None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    nonce: String,
}

pub async fn submit(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let expected = headers
        .get(header::COOKIE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| cookie_value(value, &shared.sessions.sign_in_cookie()));
    if form.nonce.is_empty() || expected != Some(form.nonce.as_str()) {
        return page(
            &shared,
            Some("The sign-in form expired or was not sent by this console. Try again."),
            StatusCode::FORBIDDEN,
        );
    }
    let token = form.token.trim();
    let Some(api) = Api::new(shared.grpc.clone(), token) else {
        return page(
            &shared,
            Some("That is not a Warden token (wdn_...)."),
            StatusCode::UNAUTHORIZED,
        );
    };
    match api.identity().who_am_i(api.request(WhoAmIRequest {})).await {
        Ok(who) => {
            let who = who.into_inner();
            if who.bindings.iter().all(|binding| binding.roles.is_empty()) {
                let message = format!("{} holds no role: nothing to show.", who.principal);
                return page(&shared, Some(&message), StatusCode::FORBIDDEN);
            }
            let (_, cookie) = shared.sessions.start(token);
            tracing::info!(principal = %who.principal, token = %who.token_id, "console sign-in");
            let mut response = Redirect::to("/console/").into_response();
            let cookies = [cookie, shared.sessions.clear_sign_in_nonce()];
            for cookie in cookies {
                if let Ok(value) = cookie.parse() {
                    response.headers_mut().append(header::SET_COOKIE, value);
                }
            }
            response
        }
        Err(status) if status.code() == Code::Unauthenticated => {
            let message = format!("Sign-in refused: {}.", status.message());
            page(&shared, Some(&message), StatusCode::UNAUTHORIZED)
        }
        Err(status) => PageError::Grpc(status).into_response(),
    }
}

pub async fn sign_out(
    State(shared): State<Arc<Shared>>,
    signed: SignedIn,
    Form(form): Form<super::Csrf>,
) -> Result<Response, PageError> {
    signed.check_csrf(&shared, &form.csrf)?;
    let cookie = shared.sessions.end(&signed.session, &signed.principal);
    tracing::info!(principal = %signed.principal, "console sign-out");
    let mut response = page(&shared, Some("You signed out."), StatusCode::OK);
    if let Ok(value) = cookie.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}
