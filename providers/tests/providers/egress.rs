//! The node's egress policy in the model client: an IP-literal endpoint in a refused class
//! fails before any connection, a name is judged by the addresses it resolves to when the
//! client connects (so `localhost` is loopback however it is spelled in the URL), and a
//! capture server on loopback receives nothing unless loopback is allowed.

use warden_egress::Policy;
use warden_providers::{Error, ModelClient, ProviderKind};

use crate::common::{config, egress, first_turn};
use crate::raw_server::{RawServer, success};

for_both_providers!(
    internal_literals_are_refused_before_connecting,
    a_name_resolving_to_loopback_is_refused_when_connecting,
    with_loopback_allowed_the_name_is_reached,
);

fn expect_egress(result: Result<impl std::fmt::Debug, Error>, expected: &str) {
    match result {
        Err(error @ Error::Egress { .. }) => {
            let shown = error.to_string();
            assert!(shown.contains(expected), "{shown}");
            assert!(shown.contains("egress.allow"), "{shown}");
            assert!(!error.is_retryable(), "a refusal is not retried");
        }
        other => panic!("expected an egress refusal naming {expected:?}, got {other:?}"),
    }
}

async fn internal_literals_are_refused_before_connecting(kind: ProviderKind) -> anyhow::Result<()> {
    let server = RawServer::start(move |_, _| success(kind)).await?;
    let cases = [
        (server.base_url(), "egress to 127.0.0.1 refused: loopback"),
        (
            "http://169.254.169.254/latest".to_owned(),
            "egress to 169.254.169.254 refused: link-local",
        ),
        (
            "http://[::ffff:169.254.169.254]/v1".to_owned(),
            "egress to ::ffff:169.254.169.254 refused: link-local",
        ),
        (
            "http://10.1.2.3:8080/v1".to_owned(),
            "egress to 10.1.2.3 refused: private",
        ),
        (
            "http://[fd00::1]/v1".to_owned(),
            "egress to fd00::1 refused: private",
        ),
        (
            "http://100.64.0.1/v1".to_owned(),
            "egress to 100.64.0.1 refused: shared (cgnat)",
        ),
    ];
    for (base_url, expected) in cases {
        expect_egress(
            ModelClient::new(config(kind, &base_url), &Policy::default()),
            expected,
        );
    }
    assert!(
        server.captured().is_empty(),
        "the capture server was reached"
    );
    Ok(())
}

async fn a_name_resolving_to_loopback_is_refused_when_connecting(
    kind: ProviderKind,
) -> anyhow::Result<()> {
    let server = RawServer::start(move |_, _| success(kind)).await?;
    let by_name = server.base_url().replace("127.0.0.1", "localhost");
    // The name passes the literal check; only its resolved address can tell.
    let client = ModelClient::new(config(kind, &by_name), &Policy::default())?;
    expect_egress(
        client.complete(&first_turn()).await,
        "(localhost) refused: loopback",
    );
    assert!(
        server.captured().is_empty(),
        "the capture server got {:?}",
        server.captured()
    );
    Ok(())
}

async fn with_loopback_allowed_the_name_is_reached(kind: ProviderKind) -> anyhow::Result<()> {
    let server = RawServer::start(move |_, _| success(kind)).await?;
    let by_name = server.base_url().replace("127.0.0.1", "localhost");
    let completion = ModelClient::new(config(kind, &by_name), &egress())?
        .complete(&first_turn())
        .await?;
    assert_eq!(completion.content, "fine");
    assert_eq!(server.captured().len(), 1);
    Ok(())
}
