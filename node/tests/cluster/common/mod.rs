//! Shared harness for the node's cluster test modules: real `warden` processes on
//! loopback (port 0, temporary data directories), driven through `warden-client`.

#![allow(dead_code)]

pub mod agents;
pub mod browser;
pub mod console;

pub mod capture;

pub mod isolated;

pub mod peer;

pub mod setup;

pub mod wire;

use std::time::Duration;

use tempfile::TempDir;
use warden_client::proto::{Agent, Provider};
use warden_client::{Client, ClientOptions, Consistency};
use warden_local_cluster::LocalCluster;

pub const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

/// The paused agent `add_paused_agent` creates, for tests that submit tasks.
pub const AGENT: &str = "bot";

/// The status code of a call that must fail.
pub fn error_code<T: std::fmt::Debug>(result: Result<T, warden_client::Error>) -> tonic::Code {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(error) => error
            .code()
            .unwrap_or_else(|| panic!("no status code in {error}")),
    }
}

/// The same client presenting another token.
pub fn as_token(client: &Client, secret: &str) -> Client {
    client.with_token(warden_client::BearerToken::new(secret).expect("a valid token"))
}

/// How many records the audit chain holds, read through `admin` after a barrier.
pub async fn audit_count(admin: &Client) -> u64 {
    admin
        .verify_audit(Consistency::Linearizable)
        .await
        .expect("verify")
        .record_count
}

/// Creates a token for `user/<name>` and gives it the operator role in `workspace` (and
/// no other role anywhere); returns the token's secret.
pub async fn operator_token(admin: &Client, workspace: &str, name: &str) -> String {
    let principal = format!("user/{name}");
    let created = admin
        .create_token(&principal, "an operator of one workspace", 0)
        .await
        .unwrap_or_else(|error| panic!("create a token for {principal}: {error}"));
    admin
        .set_roles(Some(workspace), &principal, &["operator"])
        .await
        .unwrap_or_else(|error| panic!("make {principal} an operator of {workspace}: {error}"));
    created.secret
}

/// Gives `workspace` (which must exist) the provider `model` (openai at the discard port,
/// never called) and the paused agent `bot` that uses it. Tasks for a paused agent are
/// accepted and replicated but never placed, so they stay pending.
pub async fn add_paused_agent(client: &Client, workspace: &str) {
    client
        .put_provider(Provider {
            workspace: workspace.to_owned(),
            name: "model".to_owned(),
            kind: "openai".to_owned(),
            base_url: "http://127.0.0.1:9/v1".to_owned(),
            model: "none".to_owned(),
            ..Provider::default()
        })
        .await
        .unwrap_or_else(|error| panic!("put provider model in {workspace}: {error}"));
    client
        .create_agent(Agent {
            workspace: workspace.to_owned(),
            name: AGENT.to_owned(),
            provider: "model".to_owned(),
            paused: true,
            ..Agent::default()
        })
        .await
        .unwrap_or_else(|error| panic!("create agent {AGENT} in {workspace}: {error}"));
}

/// The policy of workspaces whose tests are not about policy: every call of a granted
/// tool is allowed. A workspace without a policy denies every call.
pub const ALLOW_EVERY_CALL: &str = r#"{"rules": [{"id": "allow-every-call", "priority": 0,
  "subject": "any", "target": "any", "conditions": [], "effect": "allow",
  "description": "this test is not about policy"}]}"#;

/// Gives `workspace`, which has no policy yet, the policy `ALLOW_EVERY_CALL`.
pub async fn allow_every_call(client: &Client, workspace: &str) {
    client
        .put_policy(workspace, ALLOW_EVERY_CALL, 0)
        .await
        .unwrap_or_else(|error| panic!("put a policy allowing every call in {workspace}: {error}"));
}

/// A cluster whose data lives as long as the value.
pub struct TestCluster {
    pub cluster: LocalCluster,
    pub dir: TempDir,
}

impl TestCluster {
    /// A directory for tool servers' files (ledgers), apart from the nodes' data
    /// directories and key files, which a node refuses to let a server reach.
    pub fn tools_dir(&self) -> std::path::PathBuf {
        let dir = self.dir.path().join("tools");
        std::fs::create_dir_all(&dir).expect("create the tools directory");
        dir
    }
}

impl std::ops::Deref for TestCluster {
    type Target = LocalCluster;
    fn deref(&self) -> &LocalCluster {
        &self.cluster
    }
}

impl std::ops::DerefMut for TestCluster {
    fn deref_mut(&mut self) -> &mut LocalCluster {
        &mut self.cluster
    }
}

pub fn settings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// Starts `count` voters with `extra` settings on top of test defaults.
pub async fn start(count: u64, extra: &[(&str, &str)]) -> TestCluster {
    start_with_node_settings(count, extra, &[]).await
}

/// Like `start`, with settings for single nodes on top: `(id, settings)`.
pub async fn start_with_node_settings(
    count: u64,
    extra: &[(&str, &str)],
    per_node: &[(u64, &[(&str, &str)])],
) -> TestCluster {
    start_configured(count, extra, |cluster| {
        for (id, own) in per_node {
            cluster.set_node_settings(*id, settings(own));
        }
    })
    .await
}

/// Like `start`, after `configure` has set up the cluster (before its first start).
pub async fn start_configured(
    count: u64,
    extra: &[(&str, &str)],
    configure: impl FnOnce(&mut LocalCluster),
) -> TestCluster {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = LocalCluster::new(WARDEN, dir.path(), settings(extra));
    configure(&mut cluster);
    if let Err(error) = cluster.bootstrap(count).await {
        let logs: Vec<String> = (1..=count)
            .map(|id| {
                format!(
                    "--- node {id}\n{}",
                    warden_local_cluster::tail(&cluster.log_path(id), 30)
                )
            })
            .collect();
        panic!("cluster did not start: {error:#}\n{}", logs.join("\n"));
    }
    TestCluster { cluster, dir }
}

/// A client holding a new token of `user/approver`, who has the approver role in
/// `workspace`; `admin` is a cluster admin's client.
pub async fn approver_client(admin: &Client, workspace: &str) -> Client {
    let created = admin
        .create_token("user/approver", "test approver", 0)
        .await
        .expect("approver token");
    admin
        .set_roles(Some(workspace), "user/approver", &["approver"])
        .await
        .expect("approver role");
    admin.with_token(warden_client::BearerToken::new(&created.secret).expect("token"))
}

/// A client with a short retry budget, for calls expected to fail fast.
pub fn client_with(cluster: &LocalCluster, endpoints: Vec<String>, max_attempts: u32) -> Client {
    let options = ClientOptions {
        max_attempts,
        ..cluster.client_options().expect("client options")
    };
    Client::connect(endpoints, options).expect("client")
}

/// `message` as a raw tonic request presenting the cluster's admin token, for the few
/// calls a test makes without `warden-client`.
pub fn with_admin_token<T>(cluster: &LocalCluster, message: T) -> tonic::Request<T> {
    let path = cluster.admin_token_path();
    let token = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
    let mut request = tonic::Request::new(message);
    let value = format!("Bearer {}", token.trim())
        .parse()
        .expect("the admin token is ASCII");
    request.metadata_mut().insert("authorization", value);
    request
}

/// A raw gRPC channel to node `id` over TLS, trusting the cluster's CA: for the tests
/// that call methods by path rather than through `warden-client`.
pub async fn raw_channel(cluster: &LocalCluster, id: u64) -> tonic::transport::Channel {
    let endpoint = cluster.endpoint(id).expect("endpoint");
    let mut uri = format!("http://{endpoint}");
    let mut builder = tonic::transport::Endpoint::from_shared(uri.clone()).expect("endpoint uri");
    if let Some(ca) = cluster.ca_path() {
        uri = format!("https://{endpoint}");
        let ca =
            std::fs::read(&ca).unwrap_or_else(|error| panic!("read {}: {error}", ca.display()));
        builder = tonic::transport::Endpoint::from_shared(uri)
            .expect("endpoint uri")
            .tls_config(
                tonic::transport::ClientTlsConfig::new()
                    .ca_certificate(tonic::transport::Certificate::from_pem(ca)),
            )
            .expect("tls config");
    }
    builder
        .connect()
        .await
        .unwrap_or_else(|error| panic!("connect to node {id}: {error}"))
}

/// A path as a TOML string for `--set`, whatever it holds.
pub fn quoted(path: &std::path::Path) -> String {
    serde_json::to_string(&path.display().to_string()).expect("quote a path")
}

/// The audit records of the refusals `principal` caused, oldest first.
pub async fn refusals_of(
    admin: &Client,
    principal: &str,
) -> Vec<warden_client::proto::AuditRecord> {
    use futures::StreamExt;
    let records: Vec<_> = admin
        .export_audit(0, Consistency::Linearizable)
        .collect()
        .await;
    records
        .into_iter()
        .map(|record| record.expect("an audit record"))
        .filter(|record| record.principal == principal && record.outcome == "rejected")
        .collect()
}

pub use warden_local_cluster::probe::eventually;

/// Waits until every running node has applied the leader's last log index.
pub async fn wait_converged(cluster: &LocalCluster, within: Duration) -> u64 {
    match cluster.wait_converged(within).await {
        Ok(index) => index,
        Err(error) => panic!("{error:#}"),
    }
}

/// Node `id`'s verification of its audit chain, from what it has applied.
pub async fn verify_on(cluster: &LocalCluster, id: u64) -> warden_proto::v1::VerifyAuditResponse {
    cluster
        .client_of(id)
        .expect("client")
        .verify_audit(Consistency::Local)
        .await
        .unwrap_or_else(|error| panic!("verify on node {id}: {error}"))
}

/// Every task id in `workspace` as node `id` has applied it (local reads, all pages).
pub async fn all_task_ids(cluster: &LocalCluster, id: u64, workspace: &str) -> Vec<String> {
    all_tasks(cluster, id, workspace)
        .await
        .into_iter()
        .map(|task| task.id)
        .collect()
}

/// Every task in `workspace` as node `id` has applied it (local reads, all pages).
pub async fn all_tasks(
    cluster: &LocalCluster,
    id: u64,
    workspace: &str,
) -> Vec<warden_proto::v1::Task> {
    let client = cluster.client_of(id).expect("client");
    warden_local_cluster::probe::all_tasks(&client, id, workspace).await
}

/// Scrapes node `id`'s `/metrics`.
pub async fn scrape(cluster: &LocalCluster, id: u64) -> String {
    let (status, body) = http_get(cluster, id, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    body
}

/// `GET path` on node `id`'s HTTP listener: the status code and the body.
pub async fn http_get(cluster: &LocalCluster, id: u64, path: &str) -> (u16, String) {
    let address = cluster
        .ready(id)
        .expect("ready")
        .metrics
        .clone()
        .expect("metrics address");
    let stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect to the HTTP listener");
    http_get_on(stream, path).await
}

/// `GET path` over `stream`, a connection to a node's HTTP listener: the status code and
/// the body.
pub async fn http_get_on(mut stream: tokio::net::TcpStream, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!("GET {path} HTTP/1.1\r\nhost: warden\r\nconnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("read response");
    let status = response
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
    let body = match response.split_once("\r\n\r\n") {
        Some((_, body)) => body.to_owned(),
        None => String::new(),
    };
    (status, body)
}

/// Waits until node `id`'s metric `name` (0 when absent) satisfies `holds`; returns it.
pub async fn wait_for_metric(
    cluster: &LocalCluster,
    id: u64,
    name: &str,
    holds: impl Fn(f64) -> bool,
) -> f64 {
    eventually(
        &format!("metric {name} of node {id}"),
        Duration::from_secs(60),
        || async {
            let value = metric_value(&scrape(cluster, id).await, name, &[]).unwrap_or(0.0);
            holds(value).then_some(value)
        },
    )
    .await
}

/// The controller ticks run by the leaders among `nodes` so far.
pub async fn controller_ticks(cluster: &LocalCluster, nodes: &[u64]) -> f64 {
    let mut ticks = 0.0;
    for id in nodes {
        let text = scrape(cluster, *id).await;
        ticks += metric_value(&text, "warden_controller_ticks_total", &[]).unwrap_or(0.0);
    }
    ticks
}

/// Waits until the leaders among `nodes` have run `more` controller ticks: every pending
/// or running task has been considered for placement that many times since the call.
pub async fn after_controller_ticks(cluster: &LocalCluster, nodes: &[u64], more: f64) {
    let start = controller_ticks(cluster, nodes).await;
    eventually(
        &format!("{more} more controller ticks"),
        Duration::from_secs(60),
        || async { (controller_ticks(cluster, nodes).await >= start + more).then_some(()) },
    )
    .await;
}

/// The value of the first sample of `name` whose labels contain all of `labels`.
pub fn metric_value(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| line.starts_with(name) && line[name.len()..].starts_with([' ', '{']))
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}
