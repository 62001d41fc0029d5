//! A cluster of real `warden serve` processes on loopback, each with its own data
//! directory: what `warden dev` and `warden demo` run, and what the integration and chaos
//! tests start, kill, pause and restart. Depends on the client (and on `warden-secrets`
//! and `warden-tls`, to create the cluster's master key, CA and node certificates) only,
//! so test harnesses can use it without depending on the server's crates.
//!
//! Its clusters run as a real one should: TLS with a CA of their own (in `tls/` of the
//! base directory) and a certificate per node, a bootstrap token that only node 1 is
//! given, and one master key; [`LocalCluster::insecure`] turns TLS off.

pub mod probe;
mod processes;
mod ready;
mod security;
pub mod tool_catalog;

pub use ready::{Ready, read_ready};

use security::quoted;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};
use warden_client::{BearerToken, Client, ClientOptions};
use warden_secrets::MasterKey;

/// How long a node may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(20);

pub struct LocalCluster {
    exe: PathBuf,
    base: PathBuf,
    settings: Vec<(String, String)>,
    /// Settings for one node, after the cluster-wide ones (its listen address, say).
    node_settings: BTreeMap<u64, Vec<(String, String)>>,
    node_env: BTreeMap<u64, Vec<(String, String)>>,
    nodes: BTreeMap<u64, LocalNode>,
    /// Whether the nodes get the cluster's master key file.
    master_key: bool,
    /// Whether the nodes run without TLS (`tls.insecure`).
    insecure: bool,
    /// Whether each node gets an audit signing key of its own.
    signing_keys: bool,
    /// The audit checkpoint interval the cluster is initialized with (0: the default).
    checkpoint_interval: u64,
}

/// Where the cluster's first admin token is kept, in the cluster's base directory.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// The cluster's master key, in the base directory: outside every node's data directory,
/// shared by all nodes.
pub const MASTER_KEY_FILE: &str = "master-key";

/// Where node `<id>`'s audit signing key is kept (`audit-keys/node-<id>.key`), in the base
/// directory: outside every node's data directory.
pub const AUDIT_KEY_DIR: &str = "audit-keys";

/// The bootstrap token node 1 is started with, in the base directory.
pub const BOOTSTRAP_TOKEN_FILE: &str = "bootstrap-token";

/// Where the CA (`ca.pem`, `ca.key`) and the node certificates (`node-<id>.pem`,
/// `node-<id>.key`) are kept, in the base directory.
pub const TLS_DIR: &str = "tls";

/// Every node may reach loopback (`egress.allow = ["loopback"]`) unless the settings say
/// otherwise: a local cluster's model servers and HTTP tool servers (the scripted model,
/// a local Ollama, the ledger server) listen there. A real deployment allows no internal
/// address by default.
fn loopback_egress() -> (String, String) {
    ("egress.allow".to_owned(), r#"["loopback"]"#.to_owned())
}

/// How a [`LocalCluster::launch`] ended.
#[derive(Debug)]
pub enum Started {
    /// The node listens.
    Ready(Ready),
    /// The node exited before it listened.
    Exited(ExitStatus),
}

struct LocalNode {
    child: Option<Child>,
    ready: Ready,
}

impl LocalCluster {
    /// `exe` is the `warden` binary; every node gets `--set key=value` for `settings`, after
    /// the local defaults (the cluster's master key file, loopback egress).
    pub fn new(
        exe: impl Into<PathBuf>,
        base: impl Into<PathBuf>,
        settings: Vec<(String, String)>,
    ) -> LocalCluster {
        LocalCluster {
            exe: exe.into(),
            base: base.into(),
            settings,
            node_settings: BTreeMap::new(),
            node_env: BTreeMap::new(),
            nodes: BTreeMap::new(),
            master_key: true,
            insecure: false,
            signing_keys: true,
            checkpoint_interval: 0,
        }
    }

    /// Starts the nodes without audit signing keys from now on: they sign no checkpoints.
    pub fn without_signing_keys(&mut self) {
        self.signing_keys = false;
    }

    /// Initializes the cluster (at its first bootstrap) with this audit checkpoint
    /// interval, in records (at least 10; 0: the default, 1000).
    pub fn checkpoint_interval(&mut self, records: u64) {
        self.checkpoint_interval = records;
    }

    /// Node `id`'s audit signing key file; created (mode 0600, by `warden audit keygen`)
    /// at the node's first start.
    pub fn signing_key_path(&self, id: u64) -> PathBuf {
        self.base.join(AUDIT_KEY_DIR).join(format!("node-{id}.key"))
    }

    /// `--set` for node `id`'s signing key file, created if missing with the node's own
    /// binary (this crate stays free of the server crates).
    fn signing_key_setting(&self, id: u64) -> anyhow::Result<Option<(String, String)>> {
        if !self.signing_keys {
            return Ok(None);
        }
        let path = self.signing_key_path(id);
        if !path.exists() {
            let dir = self.base.join(AUDIT_KEY_DIR);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let output = std::process::Command::new(&self.exe)
                .args(["audit", "keygen", "--out"])
                .arg(&path)
                .output()
                .context("running warden audit keygen")?;
            if !output.status.success() {
                bail!(
                    "warden audit keygen for node {id} failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        }
        Ok(Some(("audit.signing_key_file".to_owned(), quoted(&path)?)))
    }

    /// Starts the nodes without TLS from now on (`tls.insecure`), as for development.
    pub fn insecure(&mut self) {
        self.insecure = true;
    }

    /// The master key file every node is given; created (mode 0600) at the first start.
    pub fn master_key_path(&self) -> PathBuf {
        self.base.join(MASTER_KEY_FILE)
    }

    /// `--set` for the master key file, created if missing.
    fn master_key_setting(&self) -> anyhow::Result<Option<(String, String)>> {
        if !self.master_key {
            return Ok(None);
        }
        let path = self.master_key_path();
        if !path.exists() {
            std::fs::create_dir_all(&self.base)
                .with_context(|| format!("creating {}", self.base.display()))?;
            MasterKey::generate_file(&path).context("creating the cluster's master key file")?;
        }
        Ok(Some(("secrets.master_key_file".to_owned(), quoted(&path)?)))
    }

    /// Settings node `id` gets on top of the cluster-wide ones from its next start on,
    /// e.g. `listen` and `advertise` to put it on its own address behind a proxy.
    pub fn set_node_settings(&mut self, id: u64, settings: Vec<(String, String)>) {
        self.node_settings.insert(id, settings);
    }

    /// Environment variables node `id` gets from its next start on (an empty list: none),
    /// e.g. `FAILPOINTS=node::protocol=return(1)` to run it as a build of an older
    /// protocol.
    pub fn set_node_env(&mut self, id: u64, env: Vec<(String, String)>) {
        self.node_env.insert(id, env);
    }

    pub fn node_dir(&self, id: u64) -> PathBuf {
        self.base.join(format!("node-{id}"))
    }

    pub fn log_path(&self, id: u64) -> PathBuf {
        self.node_dir(id).join("node.log")
    }

    /// Starts node `id` (again, after a stop: it reuses its data directory and port) and
    /// waits until it listens.
    pub async fn start_node(&mut self, id: u64) -> anyhow::Result<Ready> {
        match self.launch(id, &[]).await? {
            Started::Ready(ready) => Ok(ready),
            Started::Exited(status) => bail!(
                "node {id} exited during start-up ({status}):\n{}",
                tail(&self.log_path(id), 20)
            ),
        }
    }

    /// Starts node `id` like [`LocalCluster::start_node`], with `env` added to its
    /// environment (e.g. `FAILPOINTS`; after what `set_node_env` gave it), and waits until it listens or exits. A node that
    /// exits during start-up is no failure here: it is what a fault set to fire at once
    /// does.
    pub async fn launch(&mut self, id: u64, env: &[(String, String)]) -> anyhow::Result<Started> {
        let dir = self.node_dir(id);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let ready_file = dir.join("ready.json");
        match std::fs::remove_file(&ready_file) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(error).with_context(|| format!("removing {}", ready_file.display()));
            }
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(id))
            .with_context(|| format!("opening the log of node {id}"))?;
        let mut command = Command::new(&self.exe);
        command
            .arg("serve")
            .args(["--node-id", &id.to_string()])
            .args(["--listen", "127.0.0.1:0"])
            .args(["--metrics-listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(&dir)
            .arg("--ready-file")
            .arg(&ready_file);
        let master_key = self.master_key_setting()?;
        let signing_key = self.signing_key_setting(id)?;
        let security = self.security_settings(id)?;
        let own = self.node_settings.get(&id).into_iter().flatten();
        // Later settings win: the cluster-wide ones, then the node's own, override these.
        let defaults: Vec<(String, String)> = master_key
            .into_iter()
            .chain(signing_key)
            .chain(security)
            .chain([loopback_egress()])
            .collect();
        for (key, value) in defaults.iter().chain(&self.settings).chain(own) {
            command.arg("--set").arg(format!("{key}={value}"));
        }
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("sharing the node log")?)
            .stderr(log)
            .envs(
                self.node_env
                    .get(&id)
                    .into_iter()
                    .flatten()
                    .chain(env)
                    .map(|(key, value)| (key, value)),
            )
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .with_context(|| format!("spawning {}", self.exe.display()))?;
        let deadline = Instant::now() + START_TIMEOUT;
        let ready = loop {
            if ready_file.exists() {
                break read_ready(&ready_file)?;
            }
            if let Some(status) = child.try_wait().context("checking the node process")? {
                return Ok(Started::Exited(status));
            }
            if Instant::now() > deadline {
                bail!(
                    "node {id} did not start within {START_TIMEOUT:?}:\n{}",
                    tail(&self.log_path(id), 20)
                );
            }
            tokio::time::sleep(POLL).await;
        };
        self.nodes.insert(
            id,
            LocalNode {
                child: Some(child),
                ready: ready.clone(),
            },
        );
        Ok(Started::Ready(ready))
    }

    /// Starts nodes `1..=count`; on a fresh cluster initializes it on node 1 and adds
    /// and promotes the others, so all are voters.
    pub async fn bootstrap(&mut self, count: u64) -> anyhow::Result<()> {
        for id in 1..=count {
            self.start_node(id).await?;
        }
        // A cluster that was initialized before kept its admin token.
        if !self.admin_token_path().exists() {
            let response = self
                .client_of(1)?
                .init_cluster_with(None, &self.bootstrap_token()?, self.checkpoint_interval)
                .await
                .context("initializing the cluster on node 1")?;
            write_secret(&self.admin_token_path(), &response.admin_token)?;
            let all = self.client()?;
            for id in 2..=count {
                let address = self.endpoint(id)?;
                all.add_node(id, &address)
                    .await
                    .with_context(|| format!("adding node {id}"))?;
                all.promote_node(id)
                    .await
                    .with_context(|| format!("promoting node {id}"))?;
            }
        }
        self.wait_for_leader(Duration::from_secs(30)).await?;
        Ok(())
    }

    /// Waits until some node reports a leader that every running node agrees on.
    pub async fn wait_for_leader(&self, within: Duration) -> anyhow::Result<u64> {
        let deadline = Instant::now() + within;
        loop {
            let mut leaders = Vec::new();
            for id in self.running() {
                if let Ok(status) = self.client_of(id)?.cluster_status().await {
                    leaders.push(status.leader_id);
                }
            }
            if let Some(Some(leader)) = leaders.first()
                && leaders.iter().all(|candidate| *candidate == Some(*leader))
                && self.running().contains(leader)
            {
                return Ok(*leader);
            }
            if Instant::now() > deadline {
                bail!("no agreed leader within {within:?}: {leaders:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until every running node has applied the leader's last log index, and
    /// returns that index.
    pub async fn wait_converged(&self, within: Duration) -> anyhow::Result<u64> {
        let deadline = Instant::now() + within;
        loop {
            let mut leader_last = None;
            let mut applied = Vec::new();
            for id in self.running() {
                if let Ok(status) = self.client_of(id)?.cluster_status().await {
                    if status.state == "leader" {
                        leader_last = Some(status.last_log_index);
                    }
                    applied.push(status.applied_index);
                }
            }
            if let Some(last) = leader_last
                && applied.len() == self.running().len()
                && applied.iter().all(|index| *index >= last)
            {
                return Ok(last);
            }
            if Instant::now() > deadline {
                bail!(
                    "nodes did not converge within {within:?}: applied {applied:?}, leader at {leader_last:?}"
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Ids of the nodes whose process is running.
    pub fn running(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|(_, node)| node.child.is_some())
            .map(|(id, _)| *id)
            .collect()
    }

    pub fn ready(&self, id: u64) -> anyhow::Result<&Ready> {
        self.nodes
            .get(&id)
            .map(|node| &node.ready)
            .with_context(|| format!("node {id} was never started"))
    }

    pub fn endpoint(&self, id: u64) -> anyhow::Result<String> {
        Ok(self.ready(id)?.grpc.clone())
    }

    /// Every node's endpoint, running or not: the client skips the dead ones.
    pub fn endpoints(&self) -> Vec<String> {
        self.nodes
            .values()
            .map(|node| node.ready.grpc.clone())
            .collect()
    }

    /// A client of all nodes that presents the admin token (once the cluster has one).
    pub fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::connect(self.endpoints(), self.client_options()?)?)
    }

    /// A client that talks to node `id` only, with the admin token.
    pub fn client_of(&self, id: u64) -> anyhow::Result<Client> {
        let options = ClientOptions {
            max_attempts: 1,
            ..self.client_options()?
        };
        Ok(Client::connect([self.endpoint(id)?], options)?)
    }

    /// The file holding the first admin's token, written (mode 0600) at initialization.
    pub fn admin_token_path(&self) -> PathBuf {
        self.base.join(ADMIN_TOKEN_FILE)
    }

    /// The first admin's token, once the cluster was initialized.
    pub fn admin_token(&self) -> anyhow::Result<Option<BearerToken>> {
        let path = self.admin_token_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(BearerToken::new(&text)?)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
        }
    }
}

/// The last `lines` lines of a file, for error messages.
pub fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(error) => format!("(cannot read {}: {error})", path.display()),
    }
}

/// Writes `secret` to a new file only its owner can read, synced before it is used.
fn write_secret(path: &Path, secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(format!("{secret}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}
