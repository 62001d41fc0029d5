//! Authentication at the public API: every `warden.v1` method, found by walking the
//! compiled descriptors (so a new RPC is covered without anyone listing it), refuses a
//! call without a valid token, and the first `InitCluster` hands out a working admin
//! token. Workspace isolation is `workspace_isolation.rs`.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::common::wire::{Api, Method, call, code_of};
use crate::common::{WARDEN, as_token, error_code, eventually, settings, start};
use tonic::Code;
use tonic::transport::Channel;
use warden_client::{Client, ClientOptions};
use warden_local_cluster::LocalCluster;

/// Calls every method with `authorization` and returns the ones that did not answer
/// UNAUTHENTICATED, with what they answered.
async fn not_refused(
    channel: &Channel,
    methods: &[Method],
    authorization: Option<&str>,
) -> Vec<(String, Code)> {
    let mut answered = Vec::new();
    for method in methods {
        let code = code_of(&call(channel, method, Vec::new(), authorization).await);
        // InitCluster needs no token but the bootstrap token; on an initialized cluster
        // it only answers that it is, to anyone.
        let expected = if method.path == INIT_CLUSTER {
            Code::FailedPrecondition
        } else {
            Code::Unauthenticated
        };
        if code != expected {
            answered.push((method.path.clone(), code));
        }
    }
    answered
}

const INIT_CLUSTER: &str = "/warden.v1.ClusterService/InitCluster";

/// The parts of a token's text, `wdn_<id>_<secret>`.
fn token_parts(token: &str) -> (&str, &str) {
    token
        .strip_prefix("wdn_")
        .and_then(|rest| rest.split_once('_'))
        .unwrap_or_else(|| panic!("a token reads wdn_<id>_<secret>, not {} chars", token.len()))
}

#[tokio::test]
async fn every_public_method_refuses_a_call_without_a_valid_token() {
    let cluster = start(1, &[]).await;
    let admin = cluster.client().expect("client");

    // The admin token the bootstrap kept is the first admin's, readable by its owner only.
    let mode = std::fs::metadata(cluster.admin_token_path())
        .expect("the admin token file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "admin token file mode {mode:o}");
    let me = admin.who_am_i().await.expect("who am i as the admin");
    assert_eq!(me.principal, "user/admin");
    let admin_token = std::fs::read_to_string(cluster.admin_token_path()).expect("admin token");
    let admin_token = admin_token.trim();

    let methods = Api::load().methods;
    assert!(
        methods.len() > 25,
        "the walk found only {} methods: {:?}",
        methods.len(),
        methods
            .iter()
            .map(|method| &method.path)
            .collect::<Vec<_>>()
    );
    // The catalog of stdio servers is walked like everything else.
    for rpc in [
        "PutCatalogEntry",
        "ListCatalogEntries",
        "GetCatalogEntry",
        "DeleteCatalogEntry",
    ] {
        let path = format!("/warden.v1.CatalogService/{rpc}");
        assert!(
            methods.iter().any(|method| method.path == path),
            "the walk misses {path}"
        );
    }
    let channel = crate::common::raw_channel(&cluster, 1).await;

    // Created first so that it has expired once the other cases are done.
    let ttl = Duration::from_secs(5);
    let expiring = admin
        .create_token(
            "user/expiring",
            "expires during the test",
            ttl.as_millis() as u64,
        )
        .await
        .expect("create a token with a short ttl");
    let expiring_client = as_token(&admin, &expiring.secret);
    let revoked = admin
        .create_token("user/revoked", "revoked during the test", 0)
        .await
        .expect("create a token to revoke");
    let revoked_client = as_token(&admin, &revoked.secret);
    revoked_client
        .who_am_i()
        .await
        .expect("the token works before it is revoked");
    let revoked_id = revoked.token.as_ref().expect("token info").id.clone();
    admin
        .revoke_token(&revoked_id)
        .await
        .expect("revoke the token");
    assert_eq!(
        error_code(revoked_client.who_am_i().await),
        Code::Unauthenticated,
        "a revoked token is refused once the revocation is acknowledged"
    );

    let (expiring_id, expiring_secret) = token_parts(&expiring.secret);
    let (_, revoked_secret) = token_parts(&revoked.secret);
    let other_id = format!(
        "{:016x}",
        u64::from_str_radix(expiring_id, 16).expect("a hex id") ^ 1
    );
    let cases = [
        ("no token", None),
        ("a malformed token", Some("Bearer not-a-token".to_owned())),
        (
            "a token without the Bearer scheme",
            Some(admin_token.to_owned()),
        ),
        (
            "a well-formed token nobody created",
            Some(format!("Bearer wdn_{other_id}_{expiring_secret}")),
        ),
        (
            "a known token id with another token's secret",
            Some(format!("Bearer wdn_{expiring_id}_{revoked_secret}")),
        ),
        (
            "a revoked token",
            Some(format!("Bearer {}", revoked.secret)),
        ),
    ];
    for (case, authorization) in &cases {
        let answered = not_refused(&channel, &methods, authorization.as_deref()).await;
        assert!(
            answered.is_empty(),
            "with {case}, these methods did not answer UNAUTHENTICATED: {answered:?}"
        );
    }

    eventually(
        "the short-lived token to expire",
        Duration::from_secs(30),
        || {
            let client = expiring_client.clone();
            async move {
                (client.who_am_i().await.err()?.code() == Some(Code::Unauthenticated)).then_some(())
            }
        },
    )
    .await;
    let expired = format!("Bearer {}", expiring.secret);
    let answered = not_refused(&channel, &methods, Some(&expired)).await;
    assert!(
        answered.is_empty(),
        "with an expired token, these methods did not answer UNAUTHENTICATED: {answered:?}"
    );

    // The same calls with the admin's token get past authentication to a route that
    // exists: the walk's paths are real methods, not typos the layer refuses anyway.
    let admin_header = format!("Bearer {admin_token}");
    for method in &methods {
        let code = code_of(&call(&channel, method, Vec::new(), Some(&admin_header)).await);
        assert!(
            !matches!(code, Code::Unauthenticated | Code::Unimplemented),
            "{} answered the admin {code:?}",
            method.path
        );
    }
}

#[tokio::test]
async fn init_needs_the_bootstrap_token_answers_a_working_admin_token_and_closes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = LocalCluster::new(WARDEN, dir.path(), settings(&[]));
    cluster.start_node(1).await.expect("start node 1");
    cluster.start_node(2).await.expect("start node 2");
    let anonymous_of = |id: u64| {
        Client::connect(
            [cluster.endpoint(id).expect("endpoint")],
            ClientOptions {
                max_attempts: 1,
                tls: cluster.client_tls().expect("tls"),
                ..ClientOptions::default()
            },
        )
        .expect("client")
    };
    let anonymous = anonymous_of(1);
    let bootstrap = cluster.bootstrap_token().expect("bootstrap token");
    // Before the first admin exists, InitCluster is the only call open without a token.
    assert_eq!(
        error_code(anonymous.cluster_status().await),
        Code::Unauthenticated
    );
    // The attack: whoever reaches a fresh node first makes themselves its admin. Without
    // the token node 1 was started with, or with another, init is refused.
    assert_eq!(
        error_code(anonymous.init_cluster(None, "").await),
        Code::Unauthenticated
    );
    assert_eq!(
        error_code(
            anonymous
                .init_cluster(Some("user/mallory"), &"f".repeat(64))
                .await
        ),
        Code::Unauthenticated
    );
    // Node 2 was started without a bootstrap token: it can join a cluster, not start one,
    // whatever token is sent.
    assert_eq!(
        error_code(anonymous_of(2).init_cluster(None, &bootstrap).await),
        Code::FailedPrecondition
    );

    let init = anonymous
        .init_cluster(None, &bootstrap)
        .await
        .expect("init the cluster");
    assert_eq!(init.admin, "user/admin");
    let admin = as_token(&anonymous, &init.admin_token);
    let me = admin
        .who_am_i()
        .await
        .expect("who am i with the init token");
    assert_eq!(me.principal, "user/admin");
    let (token_id, _) = token_parts(&init.admin_token);
    assert_eq!(me.token_id, token_id);
    assert!(
        me.bindings
            .iter()
            .any(|binding| binding.workspace.is_empty()
                && binding.principal == "user/admin"
                && binding.roles.iter().any(|role| role == "admin")),
        "no cluster admin binding: {:?}",
        me.bindings
    );
    admin
        .create_workspace("first")
        .await
        .expect("the admin creates a workspace");

    // Once initialized, init only answers that it is, to anyone, token or not.
    for (client, token) in [
        (&anonymous, ""),
        (&anonymous, bootstrap.as_str()),
        (&admin, bootstrap.as_str()),
    ] {
        let error = client
            .init_cluster(None, token)
            .await
            .expect_err("initialized");
        assert_eq!(error.code(), Some(Code::FailedPrecondition), "{error}");
        assert!(error.to_string().contains("already initialized"), "{error}");
    }
    cluster.stop_all().await.expect("stop");
}
