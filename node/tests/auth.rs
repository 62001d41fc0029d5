//! Authentication and workspace isolation at the public API: every `warden.v1` method,
//! found by walking the compiled descriptors (so a new RPC is covered without anyone
//! listing it), refuses a call without a valid token; a role in one workspace reaches
//! nothing in another, not even the knowledge that a task id exists there; and the
//! first `InitCluster` hands out a working admin token.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::{AGENT, WARDEN, add_paused_agent, eventually, settings, start};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Code, Status};
use warden_client::{BearerToken, Client, ClientOptions, Consistency};
use warden_local_cluster::LocalCluster;

/// One public method as the descriptors name it.
struct Method {
    /// `/warden.v1.Service/Method`
    path: String,
    client_streaming: bool,
    server_streaming: bool,
}

/// Every method of every `warden.v1` service.
fn public_methods() -> Vec<Method> {
    let set = warden_proto::file_descriptor_set().expect("decode the file descriptor set");
    let mut methods = Vec::new();
    for file in set.file.iter().filter(|file| file.package() == "warden.v1") {
        for service in &file.service {
            for method in &service.method {
                methods.push(Method {
                    path: format!("/warden.v1.{}/{}", service.name(), method.name()),
                    client_streaming: method.client_streaming(),
                    server_streaming: method.server_streaming(),
                });
            }
        }
    }
    methods
}

/// Encodes nothing and discards what it decodes: every request is the empty message,
/// which is a valid (all-default) request of any method.
#[derive(Clone, Copy, Default)]
struct EmptyCodec;

impl Codec for EmptyCodec {
    type Encode = ();
    type Decode = ();
    type Encoder = EmptyCodec;
    type Decoder = EmptyCodec;

    fn encoder(&mut self) -> EmptyCodec {
        EmptyCodec
    }

    fn decoder(&mut self) -> EmptyCodec {
        EmptyCodec
    }
}

impl Encoder for EmptyCodec {
    type Item = ();
    type Error = Status;

    fn encode(&mut self, _item: (), _dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        Ok(())
    }
}

impl Decoder for EmptyCodec {
    type Item = ();
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<()>, Status> {
        use prost::bytes::Buf;
        src.advance(src.remaining());
        Ok(Some(()))
    }
}

/// Calls `method` with an empty request and `authorization` as the header (none when
/// `None`) and returns the code it answers with. A stream that opens counts as OK: the
/// call got past authentication.
async fn call(channel: &Channel, method: &Method, authorization: Option<&str>) -> Code {
    let path = method.path.parse().expect("a method path");
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    let answer = async {
        grpc.ready()
            .await
            .map_err(|error| Status::unknown(format!("channel not ready: {error}")))?;
        let mut request = tonic::Request::new(futures::stream::once(async {}));
        if let Some(value) = authorization {
            let value = value.parse().expect("an ASCII header value");
            request.metadata_mut().insert("authorization", value);
        }
        match (method.client_streaming, method.server_streaming) {
            (false, false) => {
                let request = request.map(|_| ());
                grpc.unary::<(), (), _>(request, path, EmptyCodec)
                    .await
                    .map(|_| ())
            }
            (false, true) => {
                let request = request.map(|_| ());
                grpc.server_streaming::<(), (), _>(request, path, EmptyCodec)
                    .await
                    .map(|_| ())
            }
            (true, false) => grpc
                .client_streaming(request, path, EmptyCodec)
                .await
                .map(|_| ()),
            (true, true) => grpc.streaming(request, path, EmptyCodec).await.map(|_| ()),
        }
    };
    match tokio::time::timeout(Duration::from_secs(10), answer).await {
        Ok(Ok(())) => Code::Ok,
        Ok(Err(status)) => status.code(),
        Err(_) => panic!("{} did not answer within 10s", method.path),
    }
}

/// Calls every method with `authorization` and returns the ones that did not answer
/// UNAUTHENTICATED, with what they answered.
async fn not_refused(
    channel: &Channel,
    methods: &[Method],
    authorization: Option<&str>,
) -> Vec<(String, Code)> {
    let mut answered = Vec::new();
    for method in methods {
        let code = call(channel, method, authorization).await;
        if code != Code::Unauthenticated {
            answered.push((method.path.clone(), code));
        }
    }
    answered
}

/// The parts of a token's text, `wdn_<id>_<secret>`.
fn token_parts(token: &str) -> (&str, &str) {
    token
        .strip_prefix("wdn_")
        .and_then(|rest| rest.split_once('_'))
        .unwrap_or_else(|| panic!("a token reads wdn_<id>_<secret>, not {} chars", token.len()))
}

fn code<T: std::fmt::Debug>(result: Result<T, warden_client::Error>) -> Code {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(error) => error
            .code()
            .unwrap_or_else(|| panic!("a client error: {error}")),
    }
}

fn as_token(client: &Client, secret: &str) -> Client {
    client.with_token(BearerToken::new(secret).expect("a valid token"))
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

    let methods = public_methods();
    assert!(
        methods.len() > 25,
        "the walk found only {} methods: {:?}",
        methods.len(),
        methods
            .iter()
            .map(|method| &method.path)
            .collect::<Vec<_>>()
    );
    let channel =
        Channel::from_shared(format!("http://{}", cluster.endpoint(1).expect("endpoint")))
            .expect("endpoint uri")
            .connect()
            .await
            .expect("connect to node 1");

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
        code(revoked_client.who_am_i().await),
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
    // With no token, InitCluster is open only until the cluster has its first admin; this
    // one has, so it too must refuse.
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
        let code = call(&channel, method, Some(&admin_header)).await;
        assert!(
            !matches!(code, Code::Unauthenticated | Code::Unimplemented),
            "{} answered the admin {code:?}",
            method.path
        );
    }
}

#[tokio::test]
async fn a_role_in_one_workspace_reaches_nothing_in_another() {
    let cluster = start(1, &[]).await;
    let admin = cluster.client().expect("client");
    for workspace in ["acme", "globex"] {
        admin
            .create_workspace(workspace)
            .await
            .unwrap_or_else(|error| panic!("create workspace {workspace}: {error}"));
        add_paused_agent(&admin, workspace).await;
    }
    let globex_task = admin
        .submit_task("globex", AGENT, "globex only", None)
        .await
        .expect("submit a task in globex")
        .response
        .task
        .expect("a task");

    let alice = admin
        .create_token("user/alice", "operator in acme", 0)
        .await
        .expect("create alice's token");
    admin
        .set_roles(Some("acme"), "user/alice", &["operator"])
        .await
        .expect("make alice an operator in acme");
    let alice = as_token(&admin, &alice.secret);
    // Alice's token and role work where she holds it.
    let acme_task = alice
        .submit_task("acme", AGENT, "acme work", None)
        .await
        .expect("alice submits in acme")
        .response
        .task
        .expect("a task");
    alice
        .get_task("acme", &acme_task.id, Consistency::Linearizable)
        .await
        .expect("alice reads her task in acme");
    alice
        .list_agents("acme")
        .await
        .expect("alice lists acme's agents");

    // In globex she holds no role: every call answers as if globex did not exist, with
    // the same message as for a workspace that really does not.
    let id = globex_task.id.as_str();
    let mut answers = Vec::new();
    for workspace in ["globex", "initech"] {
        let outcomes: Vec<(&str, Result<(), warden_client::Error>)> = vec![
            (
                "get_task",
                alice
                    .get_task(workspace, id, Consistency::Linearizable)
                    .await
                    .map(drop),
            ),
            (
                "list_tasks",
                alice
                    .list_tasks(workspace, 100, "", Consistency::Linearizable)
                    .await
                    .map(drop),
            ),
            ("list_agents", alice.list_agents(workspace).await.map(drop)),
            (
                "submit_task",
                alice
                    .submit_task(workspace, AGENT, "trespass", None)
                    .await
                    .map(drop),
            ),
            (
                "cancel_task",
                alice.cancel_task(workspace, id, "trespass").await.map(drop),
            ),
        ];
        for (call, outcome) in outcomes {
            let error = outcome.expect_err(&format!("alice's {call} in {workspace}"));
            assert_eq!(
                error.code(),
                Some(Code::NotFound),
                "alice's {call} in {workspace}: {error}"
            );
            let message = error.to_string().replace(workspace, "<workspace>");
            answers.push((workspace, call, message));
        }
    }
    let (globex, initech) = answers.split_at(answers.len() / 2);
    for ((_, call, in_globex), (_, _, in_initech)) in globex.iter().zip(initech) {
        assert_eq!(
            in_globex, in_initech,
            "alice's {call} tells globex, which exists, from a workspace that does not"
        );
    }
    // Naming the globex task under acme, where she may operate, finds nothing either.
    assert_eq!(
        code(alice.get_task("acme", id, Consistency::Linearizable).await),
        Code::NotFound
    );
    assert_eq!(
        code(alice.cancel_task("acme", id, "trespass").await),
        Code::NotFound
    );
    let untouched = admin
        .get_task("globex", id, Consistency::Linearizable)
        .await
        .expect("the admin reads the globex task")
        .task
        .expect("a task");
    assert_eq!(untouched.status, globex_task.status, "{untouched:?}");

    // A viewer in acme reads but may not submit.
    let viewer = admin
        .create_token("user/victor", "viewer in acme", 0)
        .await
        .expect("create victor's token");
    admin
        .set_roles(Some("acme"), "user/victor", &["viewer"])
        .await
        .expect("make victor a viewer in acme");
    let viewer = as_token(&admin, &viewer.secret);
    viewer
        .list_tasks("acme", 100, "", Consistency::Linearizable)
        .await
        .expect("a viewer lists acme's tasks");
    assert_eq!(
        code(viewer.submit_task("acme", AGENT, "look only", None).await),
        Code::PermissionDenied
    );

    // Cluster-wide actions need a cluster role, which alice does not have.
    assert_eq!(
        code(alice.create_workspace("initech").await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(alice.create_token("user/mallory", "by alice", 0).await),
        Code::PermissionDenied
    );
    let names: Vec<String> = alice
        .list_workspaces(Consistency::Linearizable)
        .await
        .expect("alice lists workspaces")
        .workspaces
        .into_iter()
        .map(|workspace| workspace.name)
        .collect();
    assert_eq!(names, ["acme"]);
    let all: Vec<String> = admin
        .list_workspaces(Consistency::Linearizable)
        .await
        .expect("the admin lists workspaces")
        .workspaces
        .into_iter()
        .map(|workspace| workspace.name)
        .collect();
    assert_eq!(all, ["acme", "globex"]);
}

#[tokio::test]
async fn the_first_init_answers_a_working_admin_token_and_closes_init() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = LocalCluster::new(WARDEN, dir.path(), settings(&[]));
    cluster.start_node(1).await.expect("start node 1");
    let anonymous = Client::connect(
        [cluster.endpoint(1).expect("endpoint")],
        ClientOptions {
            max_attempts: 1,
            ..ClientOptions::default()
        },
    )
    .expect("client");
    // Before the first admin exists, InitCluster is the only call open without a token.
    assert_eq!(
        code(anonymous.cluster_status().await),
        Code::Unauthenticated
    );

    let init = anonymous
        .init_cluster(None)
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

    // Now that there is an admin, InitCluster needs a token like every other call.
    assert_eq!(
        code(anonymous.init_cluster(None).await),
        Code::Unauthenticated
    );
    assert_eq!(
        code(admin.init_cluster(None).await),
        Code::FailedPrecondition
    );
    cluster.stop_all().await.expect("stop");
}
