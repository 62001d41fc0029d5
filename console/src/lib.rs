//! The console: the pages approvers, operators and auditors use instead of `wardenctl`.
//!
//! Every node serves it from its own binary on `console_listen` (with the node's TLS
//! certificate when the node has one). The pages are rendered on the server from
//! templates checked at compile time; the one script (live journals) and the style sheet
//! are served from the binary too, under a Content-Security-Policy that allows nothing
//! else.
//!
//! The console holds no authority of its own. A user signs in with a Warden token; the
//! token is sealed into an HttpOnly, SameSite=Strict session cookie, and every page and
//! action calls the node's public gRPC services in process, through the same
//! authentication layer and handlers a `wardenctl` call takes, with that token. So a page
//! shows, and an action does, exactly what the token may; every change is audited with
//! the signed-in principal; a revoked token ends the session at the next request.

mod api;
mod assets;
mod error;
mod format;
mod journal;
mod listener;
mod pages;
mod security;
mod session;
mod signed_in;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use zeroize::Zeroizing;

pub use api::Grpc;
pub use listener::{serve, tls_acceptor};

/// What a node gives its console.
pub struct Settings {
    /// The key sessions are sealed with and CSRF tokens derived from. Nodes that share it
    /// (derived from the cluster's master key) accept each other's sessions.
    pub key: Zeroizing<[u8; 32]>,
    /// Whether the console is served over TLS: its cookies are then `Secure`.
    pub tls: bool,
    /// How long a session lasts after sign-in.
    pub session_ttl: Duration,
}

/// What every handler reads.
pub(crate) struct Shared {
    pub grpc: Grpc,
    pub sessions: session::Sessions,
}

/// The console's routes, all under `/console`; `/` redirects there.
pub fn router(grpc: Grpc, settings: Settings) -> Router {
    let shared = Arc::new(Shared {
        grpc,
        sessions: session::Sessions::new(settings.key, settings.tls, settings.session_ttl),
    });
    Router::new()
        .route("/", get(pages::home))
        .route("/console", get(pages::home))
        .route("/console/", get(pages::home))
        .route(
            "/console/sign-in",
            get(pages::sign_in::form).post(pages::sign_in::submit),
        )
        .route("/console/sign-out", post(pages::sign_in::sign_out))
        .route("/console/approvals", get(pages::approvals::inbox))
        .route("/console/approvals/decide", post(pages::approvals::decide))
        .route("/console/tasks", get(pages::tasks::list))
        .route(
            "/console/w/{workspace}/tasks/{task}",
            get(pages::task::page),
        )
        .route(
            "/console/w/{workspace}/tasks/{task}/events",
            get(pages::task::events),
        )
        .route(
            "/console/w/{workspace}/tasks/{task}/cancel",
            post(pages::task::cancel),
        )
        .route(
            "/console/w/{workspace}/tasks/{task}/resolve",
            post(pages::task::resolve),
        )
        .route(
            "/console/w/{workspace}/tasks/{task}/answer",
            post(pages::task::answer),
        )
        .route("/console/audit", get(pages::audit::page))
        .route("/console/audit/verify", post(pages::audit::verify))
        .route("/console/cluster", get(pages::cluster::page))
        .route("/console/workspaces", get(pages::workspace::list))
        .route("/console/w/{workspace}", get(pages::workspace::page))
        .route(
            "/console/w/{workspace}/policy-test",
            post(pages::workspace::policy_test),
        )
        .route(
            "/console/w/{workspace}/pause",
            post(pages::workspace::pause),
        )
        .route("/console/static/{file}", get(assets::serve))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn(security::headers))
        .with_state(shared)
}
