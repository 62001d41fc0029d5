//! One attempt on the wire: the client every delivery is sent with, and what each kind
//! of answer means for the next attempt.

use std::time::Duration;

use warden_egress::{Policy, Resolver};

/// A delivery ready to send.
pub(super) struct Prepared {
    pub(super) url: String,
    pub(super) body: Vec<u8>,
    pub(super) signature: String,
    pub(super) id: String,
    pub(super) event: &'static str,
}

/// Why an attempt failed, and whether another may succeed.
pub(super) enum Failure {
    Retry(String),
    GiveUp(String),
}

/// One POST: the receiver's status when it answered 2xx.
pub(super) async fn send(http: &reqwest::Client, request: Prepared) -> Result<u16, Failure> {
    let answer = http
        .post(&request.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            reqwest::header::USER_AGENT,
            concat!("warden/", env!("CARGO_PKG_VERSION")),
        )
        .header("X-Warden-Delivery", &request.id)
        .header("X-Warden-Event", request.event)
        .header("X-Warden-Signature", &request.signature)
        .body(request.body.clone())
        .send()
        .await;
    match answer {
        Ok(response) if response.status().is_success() => Ok(response.status().as_u16()),
        // A timeout or throttling may pass; so may a server error.
        Ok(response)
            if response.status().is_server_error()
                || matches!(response.status().as_u16(), 408 | 429) =>
        {
            Err(Failure::Retry(format!("HTTP {}", response.status())))
        }
        // Redirects are not followed and a refusal of the request will not change: trying
        // again would only repeat it.
        Ok(response) => Err(Failure::GiveUp(format!(
            "HTTP {} (not retried)",
            response.status()
        ))),
        // The resolver's refusal (every address of the name is refused) is final. Which
        // addresses the name has stays in this node's log: the record is readable by the
        // workspace, and the node's view of its network is not theirs to map.
        Err(error) if is_egress_refusal(&error) => {
            tracing::warn!(url = %request.url, error = %error_chain(&error), "webhook url refused by egress rules");
            Err(Failure::GiveUp(
                "url: the addresses it resolves to are refused by this node's egress rules"
                    .to_owned(),
            ))
        }
        Err(error) => Err(Failure::Retry(error_chain(&error))),
    }
}

/// The client every delivery is sent with: connections only where `egress` allows (a
/// name's addresses checked as it resolves), no proxy, no redirects (a redirect would take
/// the signed body elsewhere).
pub(super) fn client(egress: &Policy, timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Resolver::new(egress.clone()))
        .no_proxy()
        .build()?)
}

pub(super) fn is_egress_refusal(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if matches!(
            current.downcast_ref::<warden_egress::Error>(),
            Some(warden_egress::Error::Refused { .. })
        ) {
            return true;
        }
        source = current.source();
    }
    false
}

/// An error with its causes, which is where reqwest says what went wrong.
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
