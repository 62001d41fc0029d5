//! The tower layer that authenticates every gRPC call before any handler runs, so a
//! new RPC cannot skip authentication: whatever is not explicitly exempt needs a token.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::Status;
use tower::{Layer, Service};
use warden_core::PresentedToken;

use super::{Caller, peer};

use crate::cluster::Cluster;
use crate::cluster::Consistency;

/// The one public call that needs no token: initializing a new cluster, which creates
/// the first admin's token. It presents the bootstrap token instead, which its handler
/// checks; on an initialized cluster it only answers that it is.
const INIT_CLUSTER: &str = "/warden.v1.ClusterService/InitCluster";
/// The node-to-node services, which need a member's node certificate instead of a token.
const INTERNAL_PREFIX: &str = "/warden.internal.v1.";

#[derive(Clone)]
pub struct AuthLayer {
    cluster: Cluster,
    tls: bool,
}

impl AuthLayer {
    /// `tls`: whether the server runs TLS, so node-to-node calls can prove who they
    /// are with their certificate (see [`peer::authenticate`]).
    pub fn new(cluster: Cluster, tls: bool) -> AuthLayer {
        AuthLayer { cluster, tls }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Auth<S> {
        Auth {
            inner,
            cluster: self.cluster.clone(),
            tls: self.tls,
        }
    }
}

#[derive(Clone)]
pub struct Auth<S> {
    inner: S,
    cluster: Cluster,
    tls: bool,
}

impl<S, B> Service<http::Request<B>> for Auth<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The clone is the one that was not polled ready; keep the ready one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let cluster = self.cluster.clone();
        // Only what authentication needs crosses the await, not the request body.
        let path = request.uri().path().to_owned();
        // Probes carry no token; the health service tells only whether the node is ready.
        if path.starts_with(crate::health::HEALTH_PREFIX) {
            return Box::pin(inner.call(request));
        }
        if path.starts_with(INTERNAL_PREFIX) {
            return match peer::authenticate(&cluster, self.tls, &path, request.extensions()) {
                Ok(peer) => {
                    request.extensions_mut().insert(peer);
                    Box::pin(inner.call(request))
                }
                Err(status) => Box::pin(async move { Ok(status.into_http()) }),
            };
        }
        let header = request.headers().get(http::header::AUTHORIZATION).cloned();
        Box::pin(async move {
            match authenticate(&cluster, &path, header.as_ref()).await {
                Ok(Some(caller)) => {
                    request.extensions_mut().insert(caller);
                }
                Ok(None) => {}
                Err(status) => return Ok(status.into_http()),
            }
            inner.call(request).await
        })
    }
}

/// The caller of `request`, `None` for an exempt call, or the refusal.
async fn authenticate(
    cluster: &Cluster,
    path: &str,
    header: Option<&http::HeaderValue>,
) -> Result<Option<Caller>, Status> {
    if path == INIT_CLUSTER {
        return Ok(None);
    }
    let header = header.ok_or_else(|| {
        Status::unauthenticated(format!(
            "{path} needs a token: send `authorization: Bearer wdn_...` (wardenctl: --token-file FILE or WARDEN_TOKEN_FILE)"
        ))
    })?;
    let text = header
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| {
            Status::unauthenticated("the authorization header must read `Bearer <token>`")
        })?;
    let presented = PresentedToken::parse(text.trim())
        .map_err(|error| Status::unauthenticated(error.to_string()))?;
    let reader = cluster.reader();
    let mut stored = reader.token(&presented.id).map_err(storage)?;
    if stored.is_none() {
        // A token created a moment ago may not have reached this node yet.
        cluster
            .read_barrier(Consistency::Linearizable)
            .await
            .map_err(Status::from)?;
        stored = reader.token(&presented.id).map_err(storage)?;
    }
    let Some(token) = stored else {
        return Err(Status::unauthenticated(format!(
            "token {} is not known",
            presented.id
        )));
    };
    if !presented.matches(&token.secret_hash) {
        return Err(Status::unauthenticated(format!(
            "token {} does not match its secret",
            presented.id
        )));
    }
    if let Some(why) = token.unusable_at(warden_actors::clock::now_ms()) {
        return Err(Status::unauthenticated(why));
    }
    Ok(Some(Caller {
        principal: token.principal,
        token: token.id,
    }))
}

fn storage(error: warden_raft::Error) -> Status {
    Status::from(crate::error::Error::Storage(error))
}
