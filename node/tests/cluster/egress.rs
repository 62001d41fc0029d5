//! The node boundary, egress: a workspace operator cannot point a node at the cloud
//! metadata endpoint, a private address or the node's own loopback. An IP-literal URL in
//! a class the node's `egress.allow` does not admit is refused at the API
//! (PERMISSION_DENIED, audited); a name is judged by the addresses it resolves to when the
//! node connects, so `localhost` is refused when loopback is not allowed (the class of
//! DNS rebinding: the name passes every check on the text of the URL), and a record stored
//! through a node that allows loopback does not make another node connect there. A capture
//! server on loopback sees no connection.

use std::time::Duration;

use crate::common::agents::Workspace;
use crate::common::capture::Capture;
use crate::common::{as_token, operator_token, start, start_with_node_settings};

use tonic::Code;
use warden_client::Client;
use warden_proto::v1::{Agent, McpServer, Provider, TaskStatus};

const WS: &str = "acme";
const SETTLE: Duration = Duration::from_secs(60);

fn provider(name: &str, base_url: &str) -> Provider {
    Provider {
        workspace: WS.to_owned(),
        name: name.to_owned(),
        kind: "openai".to_owned(),
        base_url: base_url.to_owned(),
        model: "any".to_owned(),
        api_key: "sk-must-not-leave-the-node".to_owned(),
        request_timeout_ms: 5_000,
        max_retries: 0,
        max_output_tokens: 64,
        ..Provider::default()
    }
}

fn http_server(name: &str, url: &str) -> McpServer {
    McpServer {
        workspace: WS.to_owned(),
        name: name.to_owned(),
        url: url.to_owned(),
        ..McpServer::default()
    }
}

fn expect_refused<T: std::fmt::Debug>(result: Result<T, warden_client::Error>, expected: &[&str]) {
    let error = result.expect_err("refused by the egress rules");
    assert_eq!(error.code(), Some(Code::PermissionDenied), "{error}");
    let shown = error.to_string();
    for part in expected.iter().chain(&["egress.allow"]) {
        assert!(shown.contains(part), "{part:?} not in {shown}");
    }
}

async fn rejected_details(admin: &Client, principal: &str) -> Vec<String> {
    crate::common::refusals_of(admin, principal)
        .await
        .into_iter()
        .map(|record| record.detail)
        .collect()
}

#[tokio::test]
async fn metadata_and_private_addresses_are_refused_at_the_api() {
    // Loopback is allowed here (as in every local cluster); the rest is not.
    let cluster = start(1, &[]).await;
    let admin = cluster.client().expect("client");
    admin.create_workspace(WS).await.expect("create workspace");
    let operator = as_token(&admin, &operator_token(&admin, WS, "mallory").await);

    let cases = [
        (
            "http://169.254.169.254/latest/meta-data",
            "base_url: egress to 169.254.169.254 refused: link-local",
        ),
        (
            "http://[::ffff:169.254.169.254]/v1",
            "base_url: egress to ::ffff:169.254.169.254 refused: link-local",
        ),
        (
            "http://[fe80::1]/v1",
            "base_url: egress to fe80::1 refused: link-local",
        ),
        (
            "http://10.0.0.7:8080/v1",
            "base_url: egress to 10.0.0.7 refused: private",
        ),
        (
            "http://192.168.1.1/v1",
            "base_url: egress to 192.168.1.1 refused: private",
        ),
        (
            "http://100.100.100.200/v1",
            "base_url: egress to 100.100.100.200 refused: shared (cgnat)",
        ),
        (
            "http://0.0.0.0:80/v1",
            "base_url: egress to 0.0.0.0 refused: unspecified",
        ),
    ];
    for (index, (base_url, expected)) in cases.iter().enumerate() {
        expect_refused(
            operator
                .put_provider(provider(&format!("p{index}"), base_url))
                .await,
            &[expected],
        );
    }
    expect_refused(
        operator
            .register_mcp_server(http_server(
                "metadata",
                "http://169.254.169.254/computeMetadata/v1",
            ))
            .await,
        &["url: egress to 169.254.169.254 refused: link-local"],
    );

    let listed = admin
        .list_providers(WS)
        .await
        .expect("list providers")
        .providers;
    assert!(
        listed.is_empty(),
        "a refused provider was stored: {listed:?}"
    );
    let rejected = rejected_details(&admin, "user/mallory").await;
    assert_eq!(
        rejected
            .iter()
            .filter(|detail| detail.contains("egress.allow"))
            .count(),
        cases.len() + 1,
        "every refusal is audited: {rejected:?}"
    );
}

#[tokio::test]
async fn loopback_by_name_or_through_another_node_is_refused_when_connecting() {
    // Node 1 allows loopback and runs no tasks; nodes 2 and 3 allow nothing internal.
    let cluster = start_with_node_settings(
        3,
        &[("egress.allow", "[]")],
        &[(
            1,
            &[
                ("egress.allow", r#"["loopback"]"#),
                ("runtime.capacity", "0"),
            ],
        )],
    )
    .await;
    let capture = Capture::start().await;
    let port = capture.port();
    let admin = cluster.client().expect("client");
    admin.create_workspace(WS).await.expect("create workspace");
    let secret = operator_token(&admin, WS, "mallory").await;
    let via_node_1 = as_token(&cluster.client_of(1).expect("client"), &secret);
    let via_node_2 = as_token(&cluster.client_of(2).expect("client"), &secret);

    // A name passes every check on the URL's text...
    via_node_2
        .put_provider(provider("by-name", &format!("http://localhost:{port}/v1")))
        .await
        .expect("a name is not refused before it is resolved");
    // ...and a literal passes on a node that allows loopback.
    via_node_1
        .put_provider(provider(
            "by-address",
            &format!("http://127.0.0.1:{port}/v1"),
        ))
        .await
        .expect("node 1 allows loopback");
    // Registering connects from the node that answers, through its own rules.
    expect_refused(
        via_node_2
            .register_mcp_server(http_server(
                "by-name",
                &format!("http://localhost:{port}/mcp"),
            ))
            .await,
        &["url: egress to", "(localhost) refused: loopback"],
    );

    let workspace = Workspace::new(via_node_2.clone(), WS);
    let cases = [
        ("by-name", "(localhost) refused: loopback"),
        ("by-address", "egress to 127.0.0.1 refused: loopback"),
    ];
    for (provider_name, expected) in cases {
        via_node_2
            .create_agent(Agent {
                workspace: WS.to_owned(),
                name: provider_name.to_owned(),
                instructions: "say hello".to_owned(),
                provider: provider_name.to_owned(),
                ..Agent::default()
            })
            .await
            .expect("create the agent");
        let task = workspace.submit(provider_name, "hello").await;
        let seen = workspace
            .wait_settled(&task.id, SETTLE)
            .await
            .unwrap_or_else(|evidence| panic!("{evidence}"));
        seen.check_status(TaskStatus::Failed)
            .and_then(|()| seen.check_reason(&[expected, "egress.allow"]))
            .unwrap_or_else(|evidence| panic!("{evidence}"));
    }
    assert_eq!(
        capture.connections(),
        0,
        "the capture server was reached: {}",
        capture.text()
    );
}
