//! The HTTP client of streamable-HTTP sessions, under the node's egress policy: the URL's
//! host is checked before anything is sent (an IP literal by its class, a name by what it
//! resolves to now, for a clear error), and the client itself resolves every connection
//! through [`warden_egress::Resolver`], so an answer that changes later (DNS rebinding)
//! is caught when the connection is made.

use std::time::Duration;

use warden_egress::{Policy, Resolver};

use crate::Error;

/// At most this many redirects per request.
const MAX_REDIRECTS: usize = 10;

/// Checks `url` against `egress` and builds the client to reach it with.
pub(crate) async fn client_for(
    server: &str,
    url: &str,
    egress: &Policy,
    timeout: Duration,
) -> Result<reqwest::Client, Error> {
    // A refusal is the policy's answer; a name that does not resolve is an ordinary
    // connection failure.
    let refused = |error: warden_egress::Error| match error {
        refusal @ warden_egress::Error::Refused { .. } => Error::Egress {
            server: server.to_owned(),
            refusal,
        },
        other => Error::Connect {
            server: server.to_owned(),
            reason: other.to_string(),
            stderr_tail: Vec::new(),
        },
    };
    let parsed = reqwest::Url::parse(url).map_err(|error| Error::Connect {
        server: server.to_owned(),
        reason: format!("url is not a url: {error}"),
        stderr_tail: Vec::new(),
    })?;
    egress.check_url(&parsed).map_err(refused)?;
    if let Some(host) = parsed.domain() {
        match tokio::time::timeout(timeout, egress.resolve(host)).await {
            Ok(result) => {
                result.map_err(refused)?;
            }
            Err(_) => {
                return Err(Error::Connect {
                    server: server.to_owned(),
                    reason: format!("resolving {host} took longer than {timeout:?}"),
                    stderr_tail: Vec::new(),
                });
            }
        }
    }
    let redirect_egress = egress.clone();
    reqwest::Client::builder()
        // As rmcp's own client: no idle pooling (a reused connection stalls on delayed
        // ACKs when a body was not read to the end). Each request connects, and resolves,
        // afresh.
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            redirect(&redirect_egress, attempt)
        }))
        .dns_resolver(Resolver::new(egress.clone()))
        // Through a proxy the resolver would see the proxy's name, not the server's.
        .no_proxy()
        .build()
        .map_err(|error| Error::Connect {
            server: server.to_owned(),
            reason: format!("cannot build the http client: {error}"),
            stderr_tail: Vec::new(),
        })
}

/// rmcp's own rule, with the egress check: follow only same-origin 307 and 308 (they keep
/// the method and the JSON-RPC body; another origin would be sent the session id and the
/// bearer token), and only to an address the policy allows.
fn redirect(egress: &Policy, attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    let preserves_body = matches!(
        attempt.status(),
        reqwest::StatusCode::TEMPORARY_REDIRECT | reqwest::StatusCode::PERMANENT_REDIRECT
    );
    let same_origin = attempt
        .previous()
        .first()
        .is_some_and(|original| original.origin() == attempt.url().origin());
    if let Err(refusal) = egress.check_url(attempt.url()) {
        return attempt.error(refusal);
    }
    if !preserves_body || !same_origin {
        attempt.stop()
    } else if attempt.previous().len() > MAX_REDIRECTS {
        attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
    } else {
        attempt.follow()
    }
}
