//! The node boundary, provider keys: a workspace operator cannot make a node read one of
//! its environment variables and send it to a URL of the operator's choosing. A provider
//! naming a variable off the receiving node's allowlist
//! (`providers.api_key_env_allowlist`) is refused at the API (PERMISSION_DENIED, audited),
//! and the node that would read a variable checks its own allowlist right before reading:
//! a record stored through a node whose allowlist has the variable does not make another
//! node read it. A capture server on loopback, the provider's base URL, receives nothing.

use std::time::Duration;

use crate::common::agents::Workspace;
use crate::common::capture::Capture;
use crate::common::{as_token, operator_token, start_with_node_settings};

use tonic::Code;
use warden_client::Client;
use warden_proto::v1::{Agent, Provider, TaskStatus};

const WS: &str = "acme";
const SETTLE: Duration = Duration::from_secs(60);

fn provider(name: &str, base_url: &str, api_key_env: &str) -> Provider {
    Provider {
        workspace: WS.to_owned(),
        name: name.to_owned(),
        kind: "openai".to_owned(),
        base_url: base_url.to_owned(),
        model: "any".to_owned(),
        api_key_env: api_key_env.to_owned(),
        request_timeout_ms: 5_000,
        max_retries: 0,
        max_output_tokens: 64,
        ..Provider::default()
    }
}

/// The audit records of refusals `principal` caused, as "action resource: detail".
async fn refusals_of(admin: &Client, principal: &str) -> Vec<String> {
    crate::common::refusals_of(admin, principal)
        .await
        .into_iter()
        .map(|record| format!("{} {}: {}", record.action, record.resource, record.detail))
        .collect()
}

#[tokio::test]
async fn an_operator_cannot_make_a_node_send_its_environment() {
    // Node 1's own configuration allowlists HOME (a cluster admin's choice) and runs no
    // tasks; nodes 2 and 3 allowlist nothing and run the tasks.
    let cluster = start_with_node_settings(
        3,
        &[],
        &[(
            1,
            &[
                ("providers.api_key_env_allowlist", r#"["HOME"]"#),
                ("runtime.capacity", "0"),
            ],
        )],
    )
    .await;
    let capture = Capture::start().await;
    let base_url = format!("http://127.0.0.1:{}/v1", capture.port());
    let home = std::env::var("HOME").expect("HOME is set for the nodes too");

    let admin = cluster.client().expect("client");
    admin.create_workspace(WS).await.expect("create workspace");
    let secret = operator_token(&admin, WS, "mallory").await;
    let via_node_2 = as_token(&cluster.client_of(2).expect("client"), &secret);
    let via_node_1 = as_token(&cluster.client_of(1).expect("client"), &secret);

    // The attack at the API: refused, naming the rule and the option, and audited.
    for variable in ["HOME", "WARDEN_MASTER_KEY"] {
        let name = format!("leak-{}", variable.to_lowercase().replace('_', "-"));
        let error = via_node_2
            .put_provider(provider(&name, &base_url, variable))
            .await
            .expect_err("a variable off the allowlist is refused");
        assert_eq!(error.code(), Some(Code::PermissionDenied), "{error}");
        let shown = error.to_string();
        assert!(
            shown.contains(&format!(
                "api_key_env {variable} is not on this node's allowlist"
            )),
            "{shown}"
        );
        assert!(shown.contains("providers.api_key_env_allowlist"), "{shown}");
    }
    let listed = admin
        .list_providers(WS)
        .await
        .expect("list providers")
        .providers;
    assert!(
        listed.is_empty(),
        "a refused provider was stored: {listed:?}"
    );
    let refusals = refusals_of(&admin, "user/mallory").await;
    for variable in ["HOME", "WARDEN_MASTER_KEY"] {
        assert!(
            refusals.iter().any(|refusal| refusal.contains(&format!(
                "api_key_env {variable} is not on this node's allowlist"
            ))),
            "no audited refusal for {variable}: {refusals:?}"
        );
    }

    // Node 1 allowlists HOME, so it stores the record; the node that runs the task must
    // still refuse to read the variable, checking its own allowlist.
    via_node_1
        .put_provider(provider("home", &base_url, "HOME"))
        .await
        .expect("node 1's allowlist has HOME");
    via_node_1
        .create_agent(Agent {
            workspace: WS.to_owned(),
            name: "leaker".to_owned(),
            instructions: "say hello".to_owned(),
            provider: "home".to_owned(),
            ..Agent::default()
        })
        .await
        .expect("create the agent");
    let workspace = Workspace::new(via_node_2.clone(), WS);
    let task = workspace.submit("leaker", "hello").await;
    let seen = workspace
        .wait_settled(&task.id, SETTLE)
        .await
        .unwrap_or_else(|evidence| panic!("{evidence}"));
    seen.check_status(TaskStatus::Failed)
        .and_then(|()| {
            seen.check_reason(&[
                "api_key_env HOME is not on this node's allowlist",
                "providers.api_key_env_allowlist",
            ])
        })
        .unwrap_or_else(|evidence| panic!("{evidence}"));
    assert!(
        !capture.received(&home),
        "the capture server received the node's HOME: {}",
        capture.text()
    );
    assert_eq!(
        capture.connections(),
        0,
        "the capture server was reached: {}",
        capture.text()
    );
}
